"""bench/pool_map.py: the peer of the pool workload, what a pmap --pool process user would
otherwise write: multiprocessing.Pool(N).map over stdin, chunksize 1000, N from argv[1].
Prints the doubled numbers in input order, one per line, as pmap -k would.
"""
import sys
from multiprocessing import Pool


def double(line):
    return int(line) * 2


if __name__ == "__main__":
    with Pool(int(sys.argv[1])) as pool:
        answers = pool.map(double, sys.stdin, chunksize=1000)
    sys.stdout.write("".join(f"{a}\n" for a in answers))
