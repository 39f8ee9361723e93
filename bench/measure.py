#!/usr/bin/env python3
"""bench/measure.py: time or weigh one run of one contender, for bench/run.

    measure.py time --stdin FILE --stdout SINK --stderr FILE -- ARGV...
    measure.py rss  --stdin FILE --stdout SINK --stderr FILE -- ARGV...

SINK is `null` (/dev/null), `wc-c` or `wc-l` (ARGV's stdout is piped into `wc`, and the
count is reported), `sum` (ARGV prints numbers, one per line, such as the counts of many
`wc -l` jobs; its stdout is piped into awk, and their sum is reported, with a note if a
line was not a number), or a file path.

`time` prints one line, tab-separated:
    wall  self_cpu  tree_cpu  count
  wall      seconds from starting ARGV until ARGV and its `wc` (if any) have exited
            (time.perf_counter, a monotonic clock);
  self_cpu  user+sys seconds of the ARGV process itself, its threads included, its children
            excluded: fields 14 and 15 (utime, stime) of /proc/PID/stat, read while the
            process is a zombie, i.e. after it has exited and before it is reaped
            (waitid(WEXITED | WNOWAIT)), so nothing it did is missed; no polling;
  tree_cpu  user+sys seconds of ARGV and every descendant it reaped (getrusage children);
  count     what `wc` printed (or the sum, for `sum`), or `-`.

`rss` runs ARGV under `/usr/bin/time -f %M` and prints, tab-separated:
    wall  peak_kb  rss10_kb  rss50_kb  rss90_kb  samples  count
  peak_kb   /usr/bin/time's %M: the peak resident set size of ARGV (ru_maxrss);
  rssNN_kb  VmRSS of ARGV from /proc/PID/status, sampled every 10 ms, the sample nearest to
            NN% of the wall time.
If /usr/bin/time is missing, peak_kb comes from wait4's ru_maxrss of ARGV, the same figure.

A run that exits non-zero (ARGV or wc) makes measure.py exit 1 with a note on stderr.
"""

import os
import resource
import shutil
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args(argv):
    opts = {"stdin": "/dev/null", "stdout": "null", "stderr": "/dev/null"}
    i = 0
    while i < len(argv) and argv[i] != "--":
        key = argv[i].lstrip("-")
        if key not in opts or i + 1 >= len(argv):
            sys.exit(f"measure.py: bad option {argv[i]!r}")
        opts[key] = argv[i + 1]
        i += 2
    cmd = argv[i + 1:]
    if not cmd:
        sys.exit("measure.py: no command after --")
    return opts, cmd


# The `sum` sink: adds up lines that are each one unsigned integer; any other line is
# counted and reported after the sum (e.g. "9990000+1 non-numeric lines"), so the count no
# longer matches the expected one.
SUM_AWK = ('$0 ~ /^[ \t]*[0-9]+[ \t]*$/ { s += $1; next } { bad++ } '
           'END { if (bad) printf "%.0f+%d non-numeric lines\\n", s, bad; '
           'else printf "%.0f\\n", s }')


class Sink:
    """Where ARGV's stdout goes: /dev/null, a file, or a pipe into wc or awk."""

    def __init__(self, spec):
        self.wc = None
        self.spec = spec
        if spec == "null":
            self.fd = os.open(os.devnull, os.O_WRONLY)
        elif spec in ("wc-c", "wc-l", "sum"):
            r, w = os.pipe()
            argv = ["awk", SUM_AWK] if spec == "sum" else ["wc", "-" + spec[-1]]
            self.wc = subprocess.Popen(argv, stdin=r, stdout=subprocess.PIPE)
            os.close(r)
            self.fd = w
        else:
            self.fd = os.open(spec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def started(self):
        os.close(self.fd)  # only ARGV holds the write end now

    def finish(self):
        if self.wc is None:
            return "-", 0
        out, _ = self.wc.communicate()
        return out.decode().strip(), self.wc.returncode


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()  # fields 3.. (state is field 3)


def fail(cmd, how, wall):
    print(f"measure.py: {cmd[0]} {how} after {wall:.3f}s", file=sys.stderr)
    sys.exit(1)


def describe(status):
    return f"killed by signal {-status}" if status < 0 else f"exited with status {status}"


def cmd_time(opts, cmd):
    sink = Sink(opts["stdout"])
    with open(opts["stdin"], "rb") as stdin, open(opts["stderr"], "wb") as stderr:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=stdin, stdout=sink.fd, stderr=stderr)
        sink.started()
        # Wait for the exit but leave the zombie in place, so its final CPU times can be read.
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        f = proc_stat(p.pid)
        self_cpu = (int(f[11]) + int(f[12])) / CLK_TCK  # fields 14 and 15
        p.wait()  # reap it: now its descendants' times are in RUSAGE_CHILDREN
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        count, wc_status = sink.finish()
        wall = time.perf_counter() - t0
    tree_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        fail(cmd, describe(p.returncode), wall)
    if wc_status != 0:
        fail(["wc"], describe(wc_status), wall)
    print(f"{wall:.6f}\t{self_cpu:.4f}\t{tree_cpu:.4f}\t{count}")


def find_child(ppid, deadline):
    """The pid of ppid's first child (/usr/bin/time has exactly one), by scanning /proc."""
    while time.monotonic() < deadline:
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if int(proc_stat(name)[1]) == ppid:
                        return int(name)
                except (OSError, ValueError, IndexError):
                    pass
        time.sleep(0.001)
    return None


def vm_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cmd_rss(opts, cmd, tmpfile):
    gnu_time = shutil.which("time", path="/usr/bin")
    argv = [gnu_time, "-f", "%M", "-o", tmpfile, "--"] + cmd if gnu_time else cmd
    sink = Sink(opts["stdout"])
    samples = []
    with open(opts["stdin"], "rb") as stdin, open(opts["stderr"], "wb") as stderr:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=stdin, stdout=sink.fd, stderr=stderr)
        sink.started()
        target = find_child(p.pid, time.monotonic() + 5) if gnu_time else p.pid
        while target is not None:
            rss = vm_rss(target)
            if rss is None or p.poll() is not None:
                break
            samples.append((time.perf_counter() - t0, rss))
            time.sleep(0.01)
        if gnu_time:
            p.wait()
            status = p.returncode
            peak = None
            with open(tmpfile) as f:
                for line in f:  # "Command exited with non-zero status N" may come first
                    if line.strip().isdigit():
                        peak = int(line)
        else:
            _, st, ru = os.wait4(p.pid, 0)
            p.returncode = status = os.waitstatus_to_exitcode(st)
            peak = ru.ru_maxrss
        count, wc_status = sink.finish()
        wall = time.perf_counter() - t0
    if status != 0:
        fail(cmd, describe(status), wall)
    if wc_status != 0:
        fail(["wc"], describe(wc_status), wall)
    if peak is None:
        fail(cmd, "ran, but /usr/bin/time printed no %M", wall)

    def at(frac):
        if not samples:
            return "-"
        return str(min(samples, key=lambda s: abs(s[0] - frac * wall))[1])

    print(f"{wall:.6f}\t{peak}\t{at(0.1)}\t{at(0.5)}\t{at(0.9)}\t{len(samples)}\t{count}")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("time", "rss"):
        sys.exit(__doc__)
    opts, cmd = parse_args(sys.argv[2:])
    if sys.argv[1] == "time":
        cmd_time(opts, cmd)
    else:
        tmpfile = opts["stderr"] + ".rss"
        try:
            cmd_rss(opts, cmd, tmpfile)
        finally:
            if os.path.exists(tmpfile):
                os.unlink(tmpfile)


if __name__ == "__main__":
    main()
