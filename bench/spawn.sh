#!/usr/bin/env bash
# bench/spawn.sh — the spawn benchmark: how many trivial jobs (`true`) per second each
# job runner starts, waits for and reaps at -j2.
#
# Tools: pmap (target/release/pmap), xargs -P2 -n1, and, where installed, GNU parallel
# and rust-parallel. Runs are interleaved (round 1: every tool once, round 2: every tool
# once, ...) so that drift in machine load hits every tool alike. Each run is timed with a
# monotonic clock (python3's time.perf_counter around the child process alone), and its
# CPU time (user+sys of the tool and all its jobs) is recorded too; the table at the end
# shows medians over the rounds.
#
# Environment:
#   ROUNDS      rounds (default 5)
#   JOBS_N      jobs per run for pmap, xargs and rust-parallel (default 5000)
#   PARALLEL_N  jobs per run for GNU parallel, which is far slower (default 1000)
#   JOBS        -j / -P value for every tool (default 2)
#   PMAP        the pmap binary to time (default target/release/pmap, rebuilt first if it
#               is missing or older than its sources; a PMAP you give is used as it is)
#
# Not a test: CI and `cargo test` never run it. See bench/README.md.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
JOBS_N=${JOBS_N:-5000}
PARALLEL_N=${PARALLEL_N:-1000}
JOBS=${JOBS:-2}

for v in ROUNDS JOBS_N PARALLEL_N JOBS; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "spawn.sh: $v must be a positive integer, got '${!v}'" >&2
        exit 2
    fi
done

# Work from the repository root, whatever the caller's cwd.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

command -v python3 >/dev/null || { echo "spawn.sh: python3 is needed for timing" >&2; exit 2; }

# --- pmap: build it if it is missing or older than its sources -------------------------
if [[ -n ${PMAP:-} ]]; then
    [[ -f $PMAP && -x $PMAP ]] || { echo "spawn.sh: PMAP=$PMAP is not an executable" >&2; exit 2; }
    PMAP=$(cd "$(dirname "$PMAP")" && pwd)/$(basename "$PMAP")
else
    PMAP=$ROOT/target/release/pmap
    if [[ ! -x $PMAP ]] || [[ -n $(find src Cargo.toml Cargo.lock -newer "$PMAP" -print -quit 2>/dev/null) ]]; then
        echo "== building pmap (cargo build --release)"
        if ! cargo build --release --quiet </dev/null; then
            echo "spawn.sh: cargo build --release failed; fix the build or set PMAP=/path/to/pmap" >&2
            exit 1
        fi
    fi
fi

# --- the tools ---------------------------------------------------------------------------
# Tool i has a display name NAME[i], a job count N[i] and an argv in the array ARGV_i.
NAME=()
N=()
add_tool() { # add_tool NAME N ARGV...
    local i=${#NAME[@]}
    NAME+=("$1")
    N+=("$2")
    shift 2
    declare -g -a "ARGV_$i"
    local -n argv="ARGV_$i"
    argv=("$@")
}

add_tool pmap "$JOBS_N" "$PMAP" "-j$JOBS" true
add_tool xargs "$JOBS_N" "$(command -v xargs)" "-P$JOBS" -n1 true

if command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    # --will-cite silences the citation notice of upstream builds (Debian's has none).
    add_tool "GNU parallel" "$PARALLEL_N" "$(command -v parallel)" --will-cite "-j$JOBS" true
else
    echo "note: GNU parallel is not installed (apt-get install parallel); skipped"
fi

RP=$(command -v rust-parallel || true)
[[ -z $RP && -x $HOME/.cargo/bin/rust-parallel ]] && RP=$HOME/.cargo/bin/rust-parallel
if [[ -n $RP ]]; then
    add_tool rust-parallel "$JOBS_N" "$RP" "-j$JOBS" true
else
    echo "note: rust-parallel is not installed (cargo install rust-parallel); skipped"
fi

# --- inputs and the timer ----------------------------------------------------------------
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for n in "${N[@]}" 20; do
    [[ -f $TMP/in.$n ]] || seq "$n" >"$TMP/in.$n"
done
RESULTS=$TMP/results.tsv
: >"$RESULTS"

# timer INPUT ERRFILE ARGV...: run ARGV with stdin from INPUT, stdout to /dev/null and
# stderr to ERRFILE; print "WALL CPU" in seconds (CPU = user+sys of ARGV and of every
# process it waited for: the tool and its jobs); fail, saying how, if ARGV fails.
TIMER='
import resource, subprocess, sys, time
inp, err, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(inp, "rb") as i, open(err, "wb") as e:
    t0 = time.perf_counter()
    rc = subprocess.call(argv, stdin=i, stdout=subprocess.DEVNULL, stderr=e)
    t1 = time.perf_counter()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if rc != 0:
    how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
    print(f"{how} after {t1 - t0:.3f}s", file=sys.stderr)
    sys.exit(1)
print(f"{t1 - t0:.6f} {ru.ru_utime + ru.ru_stime:.6f}")
'

run_one() { # run_one I INPUT -> prints "WALL CPU", or fails
    local i=$1 input=$2 out
    # shellcheck disable=SC2178 # a nameref to the array ARGV_i
    local -n argv="ARGV_$i"
    if ! out=$(python3 -c "$TIMER" "$input" "$TMP/stderr" "${argv[@]}"); then
        echo "spawn.sh: ${NAME[i]} failed: ${argv[*]}" >&2
        echo "--- its stderr (first 2000 bytes):" >&2
        head -c 2000 "$TMP/stderr" >&2
        return 1
    fi
    echo "$out"
}

# busy_ticks: CPU time the whole machine has spent busy since boot, in clock ticks
# (user+nice+system+irq+softirq+steal of /proc/stat), printed with the monotonic clock.
busy_ticks() {
    python3 -c 'import time; f = open("/proc/stat").readline().split();
print(sum(int(f[k]) for k in (1, 2, 3, 6, 7, 8)), time.monotonic())' 2>/dev/null || echo "? ?"
}

echo "== spawn benchmark: 'true' jobs at -j$JOBS, $ROUNDS interleaved rounds, $(nproc) CPUs"
for i in "${!NAME[@]}"; do
    # shellcheck disable=SC2178 # a nameref to the array ARGV_i
    declare -n argv="ARGV_$i"
    printf '   %-14s N=%-6s %s\n' "${NAME[i]}" "${N[i]}" "${argv[*]}"
done
unset -n argv

# Warm-up (not counted): page the binaries in and settle the caches.
for i in "${!NAME[@]}"; do run_one "$i" "$TMP/in.20" >/dev/null; done

BUSY_START=$(busy_ticks)

for ((r = 1; r <= ROUNDS; r++)); do
    line="round $r/$ROUNDS:"
    for i in "${!NAME[@]}"; do
        out=$(run_one "$i" "$TMP/in.${N[i]}")
        read -r wall cpu <<<"$out"
        printf '%s\t%s\t%s\t%s\n' "${NAME[i]}" "${N[i]}" "$wall" "$cpu" >>"$RESULTS"
        line+=$(printf '  %s %.3fs' "${NAME[i]}" "$wall")
    done
    echo "$line"
done

# --- the table -----------------------------------------------------------------------------
BUSY_END=$(busy_ticks)
# shellcheck disable=SC2086 # BUSY_START and BUSY_END are two fields each
python3 - "$RESULTS" "$(nproc)" "$(getconf CLK_TCK)" $BUSY_START $BUSY_END <<'PY'
import statistics, sys

results, ncpu, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows, order = {}, []
for line in open(results):
    tool, n, wall, cpu = line.rstrip("\n").split("\t")
    if tool not in rows:
        rows[tool] = (int(n), [], [])
        order.append(tool)
    rows[tool][1].append(float(wall))
    rows[tool][2].append(float(cpu))

med = statistics.median
rate = {t: rows[t][0] / med(rows[t][1]) for t in order}
base = rate.get("xargs")
print()
print(f"{'tool':<14} {'N':>6} {'median s':>9} {'min s':>7} {'max s':>7} {'jobs/s':>7} "
      f"{'vs xargs':>8} {'cpu ms/job':>10}")
for t in order:
    n, wall, cpu = rows[t]
    ratio = f"{rate[t] / base:.2f}x" if base else "-"
    print(f"{t:<14} {n:>6} {med(wall):>9.3f} {min(wall):>7.3f} {max(wall):>7.3f} "
          f"{rate[t]:>7.0f} {ratio:>8} {1000 * med(cpu) / n:>10.3f}")
print()
print("jobs/s = N / median wall seconds; vs xargs = jobs/s / xargs' jobs/s (higher is faster);")
print("cpu ms/job = median CPU time (user+sys of the tool and its jobs) / N (lower is cheaper).")
# How much of the machine did other processes take while the rounds ran? All busy CPU time
# minus what the timed tools and their jobs used, as a share of all the CPU there was.
try:
    t0, w0, t1, w1 = (float(x) for x in sys.argv[4:8])
    ours = sum(sum(rows[t][2]) for t in order)
    other = max(0.0, (t1 - t0) / hz - ours) / ((w1 - w0) * ncpu)
except (ValueError, ZeroDivisionError):
    other = None
if other is None:
    print("(could not read /proc/stat: no check that the machine was quiet)")
elif other > 0.10:
    print(f"warning: other processes used {other:.0%} of the CPUs during the rounds: wall times")
    print("         are unreliable, and a single-threaded tool such as xargs loses more to")
    print("         contention than a multi-threaded one. Rerun on a quiet machine.")
else:
    print(f"other processes used {other:.0%} of the CPUs during the rounds (quiet enough).")
PY
