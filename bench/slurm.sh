#!/usr/bin/env bash
# bench/slurm.sh — Slurm steps per second: N `true` jobs at 2 at a time inside `salloc -n2`,
# pmap --slurm against GNU parallel running srun (the pattern Slurm users write today) and
# against raw srun in shell loops (one loop: srun's own latency; two loops side by side: the
# floor at 2 at a time). Median of REPS runs each; steps/s, and ms per job over srun.
#
# It starts a throwaway cluster of its own (munged, slurmctld and two slurmd on 127.0.0.1,
# as the tests do: tests/common/slurm.rs) in a temp dir and stops it at the end. Run it as
# root (Slurm's daemons run as SlurmUser=root here), with Debian's munge, slurmctld, slurmd
# and slurm-client installed, and GNU parallel for its row.
#   bench/slurm.sh                 N=200 REPS=3 PMAP=target/release/pmap (built if unset)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${N:-200}
REPS=${REPS:-3}
if [[ -z ${PMAP:-} ]]; then
    cargo build --release --quiet </dev/null
    PMAP=$PWD/target/release/pmap
fi
for p in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd srun salloc sinfo; do
    command -v "$p" >/dev/null || { echo "bench/slurm.sh: $p is missing" >&2; exit 2; }
done

# --- a throwaway cluster ------------------------------------------------------------------
D=$(mktemp -d /tmp/pmap-bench-slurm.XXXXXX)
PIDS=()
stop() {
    SLURM_CONF=$D/slurm.conf scancel --full --user "$(id -un)" 2>/dev/null || true
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$D"
}
trap stop EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$D"/{munge,state,spool-n1,spool-n2}
chmod 0755 "$D" "$D/munge" # munged wants its socket's directories open to all
head -c 1024 /dev/urandom >"$D/munge/key"
chmod 0600 "$D/munge/key"
cat >"$D/slurm.conf" <<EOF
ClusterName=pmapbench
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool-%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd-%n.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=2
MpiDefault=none
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$(port) CPUs=2 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$(port) CPUs=2 State=UNKNOWN
PartitionName=test Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
for v in $(env | grep -o '^SLURM_[A-Z_]*'); do unset "$v"; done
export SLURM_CONF=$D/slurm.conf
/usr/sbin/munged -F --socket "$D/munge/sock" --key-file "$D/munge/key" --pid-file "$D/munge/pid" \
    --seed-file "$D/munge/seed" --log-file "$D/munge/log" </dev/null &>/dev/null &
PIDS+=($!)
for _ in $(seq 200); do [[ -S $D/munge/sock ]] && break; sleep 0.05; done
[[ -S $D/munge/sock ]] || { echo "bench/slurm.sh: munged did not start: $(cat "$D/munge/log")" >&2; exit 1; }
/usr/sbin/slurmctld -D -i </dev/null &>/dev/null &
PIDS+=($!)
for n in n1 n2; do
    /usr/sbin/slurmd -D -N "$n" </dev/null &>/dev/null &
    PIDS+=($!)
done
for _ in $(seq 400); do
    [[ $(sinfo -h -N -o %t 2>/dev/null | grep -c idle) == 2 ]] && break
    sleep 0.05
done
[[ $(sinfo -h -N -o %t | grep -c idle) == 2 ]] || { echo "bench/slurm.sh: the cluster did not come up" >&2; exit 1; }

# --- the runs, inside one allocation of 2 CPUs ---------------------------------------------
export PMAP N REPS
salloc -Q -n2 bash -c '
set -euo pipefail
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
loop() { for ((i = 0; i < $1; i++)); do srun --exclusive -N1 -n1 true; done; }
loop2() { loop $((N / 2)) & loop $((N / 2)); wait; }
median() { printf "%s\n" "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
declare -A T
names=("pmap --slurm -j2" "parallel -j2 srun" "srun loop x2" "srun loop x1")
for ((r = 0; r < REPS; r++)); do
    T[0]+=" $(secs "$PMAP" --slurm -j2 true ::: $(seq "$N"))"
    if command -v parallel >/dev/null; then
        T[1]+=" $(secs parallel --will-cite -j2 srun --exclusive -N1 -n1 true ::: $(seq "$N"))"
    fi
    T[2]+=" $(secs loop2)"
    T[3]+=" $(secs loop "$N")"
done
floor=$(median ${T[2]})
printf "%-20s %8s %9s %9s %22s\n" contender median steps/s ms/job "ms/job over srun x2"
for k in 0 1 2 3; do
    [[ -n ${T[$k]:-} ]] || { printf "%-20s (not installed)\n" "${names[k]}"; continue; }
    m=$(median ${T[$k]})
    over="-"
    ((k < 2)) && over=$(echo "($m - $floor) * 2 * 1000 / $N" | bc -l)
    printf "%-20s %7.2fs %9.1f %9.1f %22s\n" "${names[k]}" "$m" "$(echo "$N / $m" | bc -l)" \
        "$(echo "$m * 1000 / $N" | bc -l)" "$( [[ $over == - ]] && echo - || printf %.1f "$over")"
    echo "   runs:${T[$k]}"
done
'
