#!/usr/bin/env python3
"""Impact on writers: 2 threads insert 10-row batches into ev_0_0 (about 50
batches/s in all) before the migration (baseline), during `apply` (bridge +
backfill + verify) and around `cutover` (swap). Reports p50/p99 latency per
phase, the ratio to the baseline, failed writes, the longest stall (largest
gap between two successful inserts of one writer), and how long `apply`'s
backfill and verification took while the writers went on (verification: from
the `backfilled` line to the end of apply). With MBG_BEFORE set (an older mbg
binary) that binary runs first in the same run, on a fresh copy of the data.
Usage: writers.py URL LANE MBG ROWS"""
import os, re, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from ch import CH, TABLE, drop_db, fresh_db, pct, run_script, seed, write_batches

url, lane, mbg, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def measure(label, binary):
    ch = CH(url)
    db = fresh_db(ch, "w" + lane)
    state = {"phase": "before"}
    samples = []  # (phase, start, latency, ok, writer)
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        c = CH(url)

        def record(t0, dt, ok):
            with lock:
                samples.append((state["phase"], t0, dt, ok, w))

        write_batches(w, lambda ids: c.q(f"INSERT INTO {db}.ev_0_0 (id, ts, payload) SELECT arrayJoin([{ids}]), now(), 'w'", timeout=30),
                      stop, record)

    def run(script):
        path = f"/tmp/{db}.mbg"
        out, t0, at, end = run_script(
            [binary, "run", path, "--url", url, "--database", db, "--yes"], path,
            TABLE + "table ev v0.1 order_by ts, id\nmigrate ev v0.0 -> v0.1 strategy fence cutover swap\n" + script)
        return (at or t0) - t0, end - (at or end), out

    try:
        seed(ch, db, rows)
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        time.sleep(8)
        state["phase"] = "during apply"
        until_backfilled, verify_s, out = run("apply ev\n")
        state["phase"] = "idle"
        time.sleep(1)
        state["phase"] = "cutover"
        run("cutover ev\n")
        time.sleep(1)
        state["phase"] = "after"
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        rate = re.findall(r"(\d+) rows/s", out)
        copy_s = rows / float(rate[-1]) if rate else float("nan")
        print(f"### {label}")
        print(f"apply under writers: bridge + backfill {until_backfilled:.2f} s (backfill alone {copy_s:.2f} s), "
              f"verification {verify_s:.2f} s = {verify_s / copy_s:.2f} x the backfill")
        for line in out.splitlines():
            if "compared" in line or "not compared" in line:
                print("  mbg: " + line.strip()[:200])
        base = None
        print(f"{'phase':14} {'inserts':>7} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p50 x':>6} {'p99 x':>6} {'stall ms':>8}")
        for ph in ["before", "during apply", "cutover", "after"]:
            s = [x for x in samples if x[0] == ph]
            lat = [x[2] for x in s if x[3]]
            failed = sum(1 for x in s if not x[3])
            stall = 0.0
            for w in range(2):
                ends = sorted(x[1] + x[2] for x in s if x[3] and x[4] == w)
                stall = max([stall] + [b - a for a, b in zip(ends, ends[1:])])
            p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
            if base is None:
                base = (p50, p99)
            print(f"{ph:14} {len(s):7} {failed:6} {p50*1e3:8.1f} {p99*1e3:8.1f} {max(lat)*1e3:8.1f} "
                  f"{p50/base[0]:6.2f} {p99/base[1]:6.2f} {stall*1e3:8.0f}")
        total = sum(1 for x in samples if x[3])
        got = int(ch.scalar(f"SELECT count() FROM {db}.ev_0_0 WHERE id >= 500000000"))
        print(f"acknowledged writer rows {total*10}, in the live table after cut-over {got} (lost {total*10-got if got <= total*10 else 0}, extra {max(0, got-total*10)})", flush=True)
    finally:
        stop.set()
        drop_db(ch, db)


if os.environ.get("MBG_BEFORE"):
    measure("before (MBG_BEFORE)", os.environ["MBG_BEFORE"])
measure("this build", mbg)
