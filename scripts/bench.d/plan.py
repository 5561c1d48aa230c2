#!/usr/bin/env python3
"""`mbg plan` of the seed scenario (examples/events.mbg up to `plan events`)
against a live server, end to end: process start, catalog and state reads,
planning, printing. Median and slowest of REPS runs, with the time of a bare
`SELECT 1` over HTTP from this script beside it (the server's own floor).
Usage: plan.py URL LANE MBG REPS"""
import os, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from ch import CH, drop_db, fresh_db

url, lane, mbg, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ch = CH(url)
db = fresh_db(ch, lane)
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    ch.q(f"CREATE TABLE {db}.events_0_0 (id String, name String, created_at DateTime) ENGINE = MergeTree "
         f"PARTITION BY toYYYYMM(created_at) ORDER BY id")
    ch.q(f"INSERT INTO {db}.events_0_0 SELECT toString(number), 'e', toDateTime('2024-01-01 00:00:00') + number * 300 "
         f"FROM numbers(100000)")
    text = open(os.path.join(root, "examples/events.mbg")).read()
    script = text[: text.index("plan events") + len("plan events")] + "\n"
    path = f"/tmp/{db}.mbg"
    open(path, "w").write(script)
    runs, floor = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run([mbg, "run", path, "--url", url, "--database", db], capture_output=True, text=True)
        runs.append(time.perf_counter() - t0)
        if r.returncode not in (0, 2) or "backfill" not in r.stdout:
            sys.exit(f"mbg plan failed ({r.returncode}): {r.stdout}{r.stderr}")
        t0 = time.perf_counter()
        ch.q("SELECT 1")
        floor.append(time.perf_counter() - t0)
    os.unlink(path)
    ms = lambda xs: f"{1000 * statistics.median(xs):6.1f} ms median, {1000 * max(xs):6.1f} ms slowest"
    print(f"lane {lane}: mbg plan (seed scenario) {ms(runs)} | bare SELECT 1 {ms(floor)} | {reps} runs")
finally:
    drop_db(ch, db)
