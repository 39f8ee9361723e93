"""bench/double_buffered.py: the pool workload's worker with buffered answers.

The same doubler as double.py, but it writes its answers through an ordinary (8 KiB) buffer instead
of one write per answer (pmap sets PYTHONUNBUFFERED=1, so sys.stdout itself is not
buffered). pmap sees it wait for input while it owes answers and sends it items by the
thousand; see docs/pools.md, "Fast workers".
"""
import sys

out = open(sys.stdout.fileno(), "w", closefd=False)
for line in sys.stdin:
    print(int(line) * 2, file=out)
out.flush()
