#!/usr/bin/env python3
"""Backfill rate of `mbg apply` against a plain `INSERT INTO new SELECT * FROM old`
on the same server, same layout (ORDER BY ts, id, monthly partitions), same run.
The plain copy runs before and after mbg; the baseline is their mean.
Usage: backfill.py URL LANE MBG ROWS THROTTLE"""
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from ch import CH, TABLE, drop_db, fresh_db, seed

url, lane, mbg, rows, throttle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ch = CH(url)


def plain(db, k):
    t = f"{db}.plain_{k}"
    ch.q(f"CREATE TABLE {t} (id UInt64, ts DateTime, payload String) ENGINE = MergeTree "
         f"PARTITION BY toYYYYMM(ts) ORDER BY (ts, id)")
    t0 = time.perf_counter()
    ch.q(f"INSERT INTO {t} SELECT * FROM {db}.ev_0_0")
    dt = time.perf_counter() - t0
    ch.q(f"DROP TABLE {t}" + (" SYNC" if ch.modern() else ""))
    return rows / dt


def apply(db, options):
    script = TABLE + f"table ev v0.1 order_by ts, id\nmigrate ev v0.0 -> v0.1 {options}\napply ev\n"
    path = f"/tmp/{db}.mbg"
    open(path, "w").write(script)
    t0 = time.perf_counter()
    p = subprocess.run([mbg, "run", path, "--url", url, "--database", db],
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    os.unlink(path)
    if p.returncode != 0:
        sys.exit(f"mbg failed ({p.returncode}): {p.stderr}")
    rates = re.findall(r"(\d+) rows/s", p.stderr)
    slices = re.search(r"in (\d+) slice", p.stderr)
    return float(rates[-1]), dt, slices.group(1) if slices else "?"


def case(label, options, compare):
    db = fresh_db(ch, lane)
    try:
        seed(ch, db, rows)
        before = plain(db, 1)
        rate, total, slices = apply(db, options)
        after = plain(db, 2)
        base = (before + after) / 2
        if compare == "plain":
            print(f"{label:28} mbg {rate/1e6:6.2f} M rows/s ({slices} slices, apply {total:5.1f} s end to end)"
                  f" | plain INSERT SELECT {before/1e6:.2f} / {after/1e6:.2f} M rows/s"
                  f" | ratio {rate/base:.2f}")
        else:
            print(f"{label:28} mbg {rate/1e6:6.2f} M rows/s ({slices} slices, apply {total:5.1f} s)"
                  f" | throttle {compare/1e6:.2f} M rows/s | deviation {100*(rate-compare)/compare:+.1f}%"
                  f" | (plain {base/1e6:.2f} M rows/s)")
    finally:
        drop_db(ch, db)


case("unthrottled", "strategy fence", "plain")
case(f"throttle {throttle}", f"strategy fence throttle {throttle}", throttle)
