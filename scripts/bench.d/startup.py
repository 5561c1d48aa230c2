#!/usr/bin/env python3
"""Start-up: wall time from fork to exit of `mbg -c 'print 1'`, beside `true`
and `python3 -c 'print(1)'`, interleaved in one run; prints medians."""
import statistics, subprocess, sys, time

reps, mbg = int(sys.argv[1]), sys.argv[2]
cmds = {
    "true": ["true"],
    "python3 -c 'print(1)'": ["python3", "-c", "print(1)"],
    "mbg -c 'print 1'": [mbg, "-c", "print 1"],
}
times = {k: [] for k in cmds}
for _ in range(5):  # warm the page cache
    for c in cmds.values():
        subprocess.run(c, stdout=subprocess.DEVNULL)
for _ in range(reps):
    for k, c in cmds.items():
        t0 = time.perf_counter()
        subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
        times[k].append(time.perf_counter() - t0)
base = statistics.median(times["true"])
print(f"{'command':26} {'median ms':>10} {'p90 ms':>8} {'x true':>8}")
for k, v in times.items():
    v.sort()
    med = statistics.median(v)
    print(f"{k:26} {med*1e3:10.2f} {v[int(len(v)*0.9)]*1e3:8.2f} {med/base:8.1f}")
