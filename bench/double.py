"""bench/double.py: the worker of the pool workload (pmap --pool process).

pmap sends each item as one line on the worker's stdin and reads one line of answer per
item from its stdout. This is the plainest worker there is: pmap sets PYTHONUNBUFFERED=1
for its workers, so every answer is written as soon as it is printed.
"""
import sys

for line in sys.stdin:
    print(int(line) * 2)
