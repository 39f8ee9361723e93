"""bench/double.py: the worker of the pool workload (pmap --pool process).

pmap sends each item as one line on the worker's stdin and reads one line of answer per
item from its stdout, so the worker answers every line at once (flush) and keeps going
until stdin closes.
"""
import sys

for line in sys.stdin:
    print(int(line) * 2, flush=True)
