"""bench/double_write.py: the pool workload's worker, writing each answer in one call.

The same doubler as double.py, with the answer and its newline in one sys.stdout.write:
under PYTHONUNBUFFERED=1 (which pmap sets) that is one write(2) per answer, where print()
makes two (the text, then the newline). Every answer still leaves at once, so pmap sees
it as the plain worker it is; see docs/pools.md, "Fast workers".
"""
import sys

write = sys.stdout.write
for line in sys.stdin:
    write(f"{int(line) * 2}\n")
