#!/usr/bin/env python3
"""The interpreter benchmark, before and after side by side in one run:
`mbg plan --dry-run` of a generated script of LINES lines (gen_script.py) by
the BEFORE and the AFTER binary. Checks that both print the same plan (the
cutoff time T, taken from the clock, masked), then reports for each the best
wall time of REPS runs (interleaved, so both see the same machine), the peak
RSS (/usr/bin/time -v) and, with valgrind installed and BENCH_CALLGRIND not 0,
the instruction count (callgrind: repeatable on a noisy machine).
Usage: interp.py BEFORE AFTER LINES [REPS]"""
import os, re, subprocess, sys, tempfile

before, after, lines = sys.argv[1], sys.argv[2], int(sys.argv[3])
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
here = os.path.dirname(__file__)
tmp = tempfile.mkdtemp()
script = os.path.join(tmp, "s.mbg")
with open(script, "w") as f:
    f.write(subprocess.run([sys.executable, os.path.join(here, "gen_script.py"), str(lines)],
                           capture_output=True, text=True, check=True).stdout)


def timed(binary):
    """(seconds, peak MB, plan text with T masked) of one run."""
    p = subprocess.run(["/usr/bin/time", "-v", binary, "plan", "--dry-run", script], capture_output=True)
    err = p.stderr.decode()
    if p.returncode != 0:
        sys.exit(f"{binary} failed ({p.returncode}): {err[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", err)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    return seconds, rss, re.sub(rb"(T = |toDateTime\()\d+", rb"\1T", p.stdout)


def instructions(binary):
    out = os.path.join(tmp, "callgrind.out")
    p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "plan", "--dry-run", script],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", "")) if m else None


runs = {before: [], after: []}
plans = {}
for _ in range(reps):
    for b in (before, after):
        s, rss, plan = timed(b)
        runs[b].append((s, rss))
        plans[b] = plan
same = plans[before] == plans[after]
print(f"{lines} lines, {len(plans[after])} bytes of plan; plans identical: {'yes' if same else 'NO'}")
counts = {}
if os.environ.get("BENCH_CALLGRIND", "1") != "0" and subprocess.run(["which", "valgrind"], capture_output=True).returncode == 0:
    counts = {b: instructions(b) for b in (before, after)}
print(f"{'':8} {'best s':>8} {'peak MB':>8} {'instructions':>16}")
for label, b in (("before", before), ("after", after)):
    best = min(s for s, _ in runs[b])
    peak = max(r for _, r in runs[b])
    n = counts.get(b)
    print(f"{label:8} {best:8.2f} {peak:8.1f} {f'{n:,}' if n else '-':>16}")
if counts.get(before) and counts.get(after):
    print(f"ratio    {min(s for s, _ in runs[after]) / min(s for s, _ in runs[before]):8.2f} "
          f"{max(r for _, r in runs[after]) / max(r for _, r in runs[before]):8.2f} {counts[after] / counts[before]:16.2f}")
sys.exit(0 if same else 1)
