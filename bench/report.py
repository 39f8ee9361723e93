#!/usr/bin/env python3
"""bench/report.py [--summary] RESULTS.tsv: the tables of bench/run, from the rows it recorded.

Prints, for every workload that ran, a detailed table (median, min and max of the wall
times, rates, CPU), how busy the rest of the machine was meanwhile, then one Markdown table
of medians, ratios and targets: the one docs/performance.md quotes (--summary: only that).
Exits 1 if a sanity check failed (a contender printed the wrong number of bytes or lines).
"""

import os
import statistics
import sys
from collections import OrderedDict

med = statistics.median
MIB = 1024  # KiB per MiB
UNIT = {"spawn": "jobs", "output": "bytes", "lines": "lines", "pool": "items", "pipe": "bytes"}
BASES = ("floor", "cat", "cat | wc -l")  # the detail tables' per-round ratios are to these


class Runs:
    def __init__(self, mode, n, expect):
        self.mode, self.n, self.expect = mode, n, expect
        self.rows = []  # measure.py's fields, one list per round

    def col(self, k, conv=float):
        return [conv(r[k]) for r in self.rows]

    @property
    def wall(self):
        return self.col(0)

    def bad_counts(self):
        if self.expect == "-":
            return []
        return sorted({r[-1] for r in self.rows if r[-1] != self.expect})


def load(path):
    runs = OrderedDict()  # workload -> OrderedDict(name -> Runs)
    info, notes, loads = {}, [], OrderedDict()
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        kind = f[0]
        if kind == "run":
            wl, name, mode, n, expect, _round = f[1:7]
            r = runs.setdefault(wl, OrderedDict()).setdefault(name, Runs(mode, int(n), expect))
            r.rows.append(f[7:])
        elif kind == "info":
            info[f[1]] = f[2]
        elif kind == "note":
            notes.append((f[1], f[2]))
        elif kind == "load":
            loads.setdefault(f[1], []).append(f[2:])
    return runs, info, notes, loads


def secs(x):
    return f"{x:.3f} s" if x < 100 else f"{x:.1f} s"


def rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def other_load(marks):
    """Share of all CPUs that processes other than bench/run's took between the marks."""
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.sysconf("SC_NPROCESSORS_ONLN")
    busy = ours = wall = 0.0
    for start, end in zip(marks[0::2], marks[1::2]):
        try:
            busy += (int(end[1]) - int(start[1])) / hz
            wall += float(end[2]) - float(start[2])
            ours += times_total(end[3]) - times_total(start[3])
        except ValueError:
            return None
    if wall <= 0:
        return None
    return max(0.0, busy - ours) / (wall * ncpu)


def times_total(s):
    """Seconds in bash's `times` output: '0m0.010s 0m0.020s 1m2.5s 0m0.4s'."""
    total = 0.0
    for t in s.split():
        m, sec = t.rstrip("s").split("m")
        total += 60 * float(m) + float(sec)
    return total


def detail(wl, contenders, loads):
    print(f"--- {wl}")
    time_runs = {k: v for k, v in contenders.items() if v.mode == "time"}
    rss_runs = {k: v for k, v in contenders.items() if v.mode == "rss"}
    if time_runs:
        bname = next((b for b in BASES if b in time_runs), None)
        base = time_runs.get(bname)
        print(f"{'contender':<24} {'N':>9} {'rounds':>6} {'median':>9} {'min':>9} {'max':>9} "
              f"{'N/s':>13} {'self CPU':>9} {'tree CPU':>9}")
        for name, r in time_runs.items():
            w = r.wall
            print(f"{name:<24} {r.n:>9} {len(w):>6} {secs(med(w)):>9} {secs(min(w)):>9} "
                  f"{secs(max(w)):>9} {rate(r.n / med(w)):>13} {secs(med(r.col(1))):>9} "
                  f"{secs(med(r.col(2))):>9}")
        print(f"N = {UNIT.get(wl, 'items')} per run; N/s = N / median wall time. self CPU = "
              "user+sys of the contender's own")
        print("process (threads included, children excluded); tree CPU = it and all its "
              "children; medians.")
        if wl == "pipe":
            print("  throughput (N / median wall time): " + ", ".join(
                f"{name} {mbps(r.n, med(r.wall))}" for name, r in time_runs.items()))
        if wl == "spawn":
            print("  own CPU per job (self CPU / N): " + ", ".join(
                f"{name} {us(med(r.col(1)) / r.n)}" for name, r in time_runs.items()))
        if base is not None:
            for name, r in time_runs.items():
                if r is base:
                    continue
                per_round = [a / b for a, b in zip(r.wall, base.wall)]
                print(f"  {name} / {bname}, round by round: median {med(per_round):.2f}x, "
                      f"range {min(per_round):.2f}x-{max(per_round):.2f}x")
    for name, r in rss_runs.items():
        peaks = r.col(1, int)
        print(f"{name}: {len(peaks)} run(s), median wall {secs(med(r.wall))}, peak RSS "
              f"{mib(max(peaks))} (median {mib(med(peaks))}); VmRSS at 10/50/90% of the "
              f"last run: {rss_points(r)} ({r.rows[-1][5]} samples)")
    for name, r in contenders.items():
        bad = r.bad_counts()
        if bad:
            print(f"  SANITY FAILURE: {name} printed {', '.join(bad)} instead of {r.expect}")
        elif r.expect != "-":
            print(f"  sanity: {name} printed {r.expect} {'bytes' if wl == 'output' else 'lines'}"
                  " in every run, as expected")
    other = other_load(loads.get(wl, []))
    if other is not None:
        warn = "  <-- busy machine: timings are unreliable" if other > 0.10 else ""
        print(f"  other processes used {other:.0%} of the CPUs meanwhile{warn}")
    print()


def us(seconds):
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def mib(kb):
    return f"{kb / MIB:.1f} MiB"


def rss_points(r):
    last = r.rows[-1]
    return "/".join("-" if v == "-" else f"{int(v) / MIB:.1f}" for v in last[2:5]) + " MiB"


def yes(ok):
    return "yes" if ok else "**no**"


def mbps(n, seconds):
    return f"{n / seconds / 1e6:,.0f} MB/s"


def summary(runs, loads, info):
    rows = []  # (workload, contender, median, ratio, target, met)
    invalid = False

    def checked(r, met):
        nonlocal invalid
        bad = r.bad_counts()
        if bad:
            invalid = True
            return f"INVALID (printed {', '.join(bad)}, not {r.expect})"
        return met

    sp = runs.get("spawn", {})
    if sp:
        floor, xargs = sp.get("floor"), sp.get("xargs")
        for name, r in sp.items():
            m = med(r.wall)
            cell = f"{secs(m)} ({rate(r.n / m)} jobs/s)"
            if name.startswith("pmap"):
                if floor:
                    rows.append(("spawn", name, cell, f"{m / med(floor.wall):.2f}× floor",
                                 "≤ 1.05× floor", yes(m / med(floor.wall) <= 1.05)))
                else:
                    rows.append(("spawn", name, cell, "n/a (no floor)", "≤ 1.05× floor", "—"))
                if xargs:
                    rows.append(("spawn", name, "″", f"{m / med(xargs.wall):.2f}× xargs",
                                 "≤ 0.75× xargs", yes(m / med(xargs.wall) <= 0.75)))
                else:
                    rows.append(("spawn", name, "″", "n/a (no xargs)", "≤ 0.75× xargs", "—"))
                cpu = med(r.col(1)) / r.n
                if floor:
                    floor_cpu = med(floor.col(1)) / floor.n
                    rows.append(("spawn", f"{name}: own CPU per job", us(cpu),
                                 f"{cpu / floor_cpu:.2f}× floor's", "≤ 1.6× floor's",
                                 yes(cpu <= 1.6 * floor_cpu)))
                else:
                    rows.append(("spawn", f"{name}: own CPU per job", us(cpu), "n/a (no floor)",
                                 "≤ 1.6× floor's", "—"))
                capture = sp.get("floor-capture")
                if capture:
                    capture_cpu = med(capture.col(1)) / capture.n
                    rows.append(("spawn", f"{name}: own CPU per job", "″",
                                 f"{cpu / capture_cpu:.2f}× floor-capture's", "—", ""))
            else:
                ratio = f"{m / med(floor.wall):.2f}× floor" if floor else "—"
                rows.append(("spawn", name, cell, ratio, "—", ""))

    out = runs.get("output", {})
    if out:
        cat, pm = out.get("cat"), out.get("pmap")
        if cat:
            rows.append(("output", "cat F F (into wc -c)", secs(med(cat.wall)), "1.00",
                         "—", checked(cat, "")))
        if pm and cat:
            q = med(pm.wall) / med(cat.wall)
            rows.append(("output", "pmap -j2 cat ::: F F (into wc -c)", secs(med(pm.wall)),
                         f"{q:.2f}× cat", "≤ 1.2× (older issue: ≤ 1.3×)",
                         checked(pm, f"{yes(q <= 1.2)} (≤ 1.3×: {yes(q <= 1.3)})")))
        pk = out.get("pmap -k")
        if pk and cat:
            q = med(pk.wall) / med(cat.wall)
            rows.append(("output", "pmap -k -j2 cat ::: F F (into wc -c)", secs(med(pk.wall)),
                         f"{q:.2f}× cat", "≤ 1.2× (older issue: ≤ 1.3×)",
                         checked(pk, f"{yes(q <= 1.2)} (≤ 1.3×: {yes(q <= 1.3)})")))

    li = runs.get("lines", {})
    if li:
        pm, par = li.get("pmap"), li.get("GNU parallel")
        if pm:
            rows.append(("lines", "pmap --lb --tag", secs(med(pm.wall)), "1.00", "—",
                         checked(pm, "")))
        if pm and par:
            q = med(par.wall) / med(pm.wall)
            rows.append(("lines", "GNU parallel --lb --tag", secs(med(par.wall)),
                         f"pmap {q:.1f}× faster", "pmap ≥ 10× faster (older issue: ≥ 5×)",
                         checked(par, checked(pm, f"{yes(q >= 10)} (≥ 5×: {yes(q >= 5)})"))))

    po = runs.get("pool", {})
    if po:
        pr, th = po.get("pmap --pool process"), po.get("pmap --pool thread")
        if th:
            rows.append(("pool", f"--pool thread, python per item ({th.n:,} items)",
                         f"{secs(med(th.wall))} ({rate(th.n / med(th.wall))} items/s)", "1.00",
                         "—", checked(th, "")))
        if pr:
            rate_p = pr.n / med(pr.wall)
            if th:
                q = rate_p / (th.n / med(th.wall))
                ratio, met = f"{q:,.0f}× the items/s", yes(q >= 20)
            else:
                ratio, met = "n/a", "—"
            rows.append(("pool", f"--pool process, bench/double.py ({pr.n:,} items)",
                         f"{secs(med(pr.wall))} ({rate(rate_p)} items/s)", ratio, "≥ 20×",
                         checked(pr, met)))
        mp, alone = po.get("multiprocessing.Pool.map"), po.get("python alone")
        if alone:
            rows.append(("pool", f"one python alone, bench/double.py ({alone.n:,} items)",
                         secs(med(alone.wall)), "—", "context", checked(alone, "")))
        if mp:
            rows.append(("pool", f"multiprocessing.Pool.map, chunksize 1000 ({mp.n:,} items)",
                         secs(med(mp.wall)), "1.00", "—", checked(mp, "")))
        one = po.get("pmap --pool process, one write per answer")
        if one:
            rows.append(("pool", f"--pool process, bench/double_write.py ({one.n:,} items)",
                         f"{secs(med(one.wall))} ({rate(one.n / med(one.wall))} items/s)", "—",
                         "—", checked(one, "")))
        buf = po.get("pmap --pool process, buffered worker")
        if buf:
            rows.append(("pool", f"--pool process, bench/double_buffered.py ({buf.n:,} items)",
                         f"{secs(med(buf.wall))} ({rate(buf.n / med(buf.wall))} items/s)", "—",
                         "—", checked(buf, "")))
        for name, r in (("", pr), (", one write per answer", one), (", buffered worker", buf)):
            if r and mp:
                q = med(r.wall) / med(mp.wall)
                rows.append(("pool", f"--pool process{name} time ÷ Pool.map time", f"{q:.2f}×",
                             f"{q:.2f}", "≤ 2.0×", checked(r, checked(mp, yes(q <= 2.0)))))

    pi = runs.get("pipe", {})
    if pi:
        times = {k: v for k, v in pi.items() if v.mode == "time"}
        cat = times.get("cat | wc -l")
        for name, r in times.items():
            m = med(r.wall)
            ratio = "1.00" if r is cat else (f"{m / med(cat.wall):.2f}× cat | wc -l" if cat
                                             else "—")
            rows.append(("pipe", name, f"{secs(m)} ({mbps(r.n, m)})", ratio, "—",
                         checked(r, "")))
        for a, b, target in (("pmap --pipe", "GNU parallel --pipe", 0.5),
                             ("pmap --pipe", "cat | wc -l", 1.2),
                             ("pmap --pipepart", "GNU parallel --pipepart", 0.5)):
            ra, rb = times.get(a), times.get(b)
            if ra and rb:
                q = med(ra.wall) / med(rb.wall)
                rows.append(("pipe", f"{a} time ÷ {b} time", f"{q:.2f}×", f"{q:.2f}",
                             f"≤ {target}×", checked(ra, checked(rb, yes(q <= target)))))
            elif ra:
                rows.append(("pipe", f"{a} time ÷ {b} time", "—", f"n/a (no {b})",
                             f"≤ {target}×", "—"))
        jobs = int(info.get("jobs", 2))
        block = int(info.get("pipe_block", 10 * 1024 * 1024))  # bytes
        bound = (jobs + 2) * block // 1024 + 16 * MIB  # KiB
        for name, r in pi.items():
            if r.mode == "rss":
                peak = max(r.col(1, int))
                rows.append(("pipe", f"{name}: peak RSS", mib(peak), "—",
                             f"≤ {mib(bound)} ((j+2)×block + 16 MiB, j={jobs}, "
                             f"block {block // (1024 * 1024)} MiB)",
                             checked(r, yes(peak <= bound))))

    me = runs.get("memory", {})
    for name, r in me.items():
        peak = max(r.col(1, int))
        if "dry-run" in name:
            rows.append(("memory", f"{name}: peak RSS", mib(peak), "—", "≤ 16 MiB",
                         checked(r, yes(peak <= 16 * MIB))))
        else:
            p = r.rows[-1][2:5]
            if "-" in p:
                flat = "n/a (no samples)"
            else:
                lo, hi = min(map(int, p)), max(map(int, p))
                flat = yes(hi - lo <= max(512, 0.10 * lo))
            rows.append(("memory", f"{name}: peak RSS", mib(peak), "—", "report", ""))
            rows.append(("memory", f"{name}: VmRSS at 10/50/90%", rss_points(r), "—",
                         "flat (spread ≤ max(0.5 MiB, 10%))", checked(r, flat)))

    print("| workload | contender | median | ratio | target | met? |")
    print("|---|---|---|---|---|---|")
    for row in rows:  # a | inside a cell ("cat | wc -l") is escaped, not a column break
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return invalid


def main():
    args = sys.argv[1:]
    only_summary = "--summary" in args
    args = [a for a in args if a != "--summary"]
    if len(args) != 1:
        sys.exit("usage: bench/report.py [--summary] RESULTS.tsv")
    runs, info, notes, loads = load(args[0])
    if only_summary:
        sys.exit(1 if summary(runs, loads, info) else 0)
    print("==== results")
    for key in ("pmap", "pmap_version", "pmap_source", "machine", "priority", "reps", "jobs", "python"):
        if key in info:
            print(f"{key}: {info[key]}")
    if "python_startup" in info:
        print(f"python start-up (python -c pass), median of 5: "
              f"{float(info['python_startup']) * 1e3:.1f} ms")
    print()
    for wl, contenders in runs.items():
        detail(wl, contenders, loads)
    print("==== summary (medians over the rounds; ratios are of medians)")
    print()
    invalid = summary(runs, loads, info)
    if notes:
        print()
        for wl, text in notes:
            print(f"- {wl}: {text}")
    busy = [wl for wl in runs if (other_load(loads.get(wl, [])) or 0) > 0.10]
    if busy:
        print()
        print(f"warning: other processes took over 10% of the CPUs during: {', '.join(busy)}.")
        print("Wall times there are unreliable; rerun on a quieter machine.")
    if "duration" in info:
        print()
        print(f"(the run took {info['duration']})")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
