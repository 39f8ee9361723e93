#!/usr/bin/env bash
# bench/ssh.sh — jobs/s for 500 `true` jobs over ssh, with and without connection sharing.
# Needs an ssh config that reaches two host aliases, alpha and beta (e.g. both 127.0.0.1;
# see docs/remote.md), given as SSH_CONFIG. Median of 3 runs each.
#   SSH_CONFIG=/path/to/ssh_config bench/ssh.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${SSH_CONFIG:?set SSH_CONFIG to an ssh config file with hosts alpha and beta}"
N=${N:-500}
cargo build --release --quiet
PMAP=target/release/pmap
run() { # prints seconds for one run
    local start end
    start=$(date +%s.%N)
    seq "$N" | "$PMAP" -S 2/alpha,2/beta --ssh-command "ssh -F $SSH_CONFIG" "$@" true >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
for mode in sharing no-sharing; do
    args=()
    [[ $mode == no-sharing ]] && args=(--no-ssh-sharing)
    times=()
    for _ in 1 2 3; do times+=("$(run "${args[@]}")"); done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    printf '%-11s runs: %s  median: %.2fs  %.1f jobs/s\n' "$mode" "${times[*]}" \
        "$median" "$(echo "$N / $median" | bc -l)"
done
