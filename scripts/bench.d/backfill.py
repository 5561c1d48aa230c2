#!/usr/bin/env python3
"""Backfill rate of `mbg apply` against a plain `INSERT INTO new SELECT * FROM old`
on the same server, same layout (ORDER BY ts, id, monthly partitions), same run.
The plain copy runs before and after each mbg run; the baseline is their mean.
With MBG_BEFORE set (an older mbg binary), that binary runs in the same run too,
on a fresh copy of the same data, so both are compared with the same baseline.
Reports the backfill's own rate (its last progress line), the ratio to the plain
copy, the verification's time (from the `backfilled` line to the end of apply)
and its ratio to the backfill's time, and mbg's peak resident memory.
Usage: backfill.py URL LANE MBG ROWS THROTTLE"""
import os, re, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from ch import CH, TABLE, drop_db, fresh_db, run_script, seed

url, lane, mbg, rows, throttle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
before_bin = os.environ.get("MBG_BEFORE")
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


def apply(binary, db, options):
    """Runs `apply`; returns backfill rate, backfill s, verification s, total s, slices, peak MB."""
    script = TABLE + f"table ev v0.1 order_by ts, id\nmigrate ev v0.0 -> v0.1 {options}\napply ev\n"
    out, t0, backfilled_at, end = run_script(
        ["/usr/bin/time", "-f", "MAXRSS %M", binary, "run", f"/tmp/{db}.mbg", "--url", url, "--database", db],
        f"/tmp/{db}.mbg", script)
    total = end - t0
    rate = float(re.findall(r"(\d+) rows/s", out)[-1])
    slices = re.search(r"in (\d+) slice", out)
    rss = re.search(r"MAXRSS (\d+)", out)
    verify = (t0 + total) - (backfilled_at or t0 + total)
    return rate, rows / rate, verify, total, slices.group(1) if slices else "?", int(rss.group(1)) / 1024 if rss else 0


def case(label, binary, options, compare):
    db = fresh_db(ch, lane)
    try:
        seed(ch, db, rows)
        before = plain(db, 1)
        rate, copy_s, verify_s, total, slices, mb = apply(binary, db, options)
        after = plain(db, 2)
        base = (before + after) / 2
        if compare == "plain":
            print(f"{label:34} backfill {rate/1e6:5.2f} M rows/s ({slices} slices) | plain INSERT SELECT "
                  f"{before/1e6:.2f} / {after/1e6:.2f} M rows/s | ratio {rate/base:.2f} | verify {verify_s:5.2f} s"
                  f" = {verify_s/copy_s:.2f} x backfill | apply {total:5.1f} s end to end | peak {mb:.0f} MB", flush=True)
        else:
            print(f"{label:34} backfill {rate/1e6:5.2f} M rows/s ({slices} slices, apply {total:5.1f} s)"
                  f" | throttle {compare/1e6:.2f} M rows/s | deviation {100*(rate-compare)/compare:+.1f}%"
                  f" | (plain {base/1e6:.2f} M rows/s)", flush=True)
    finally:
        drop_db(ch, db)


if before_bin:
    case("before (MBG_BEFORE), unthrottled", before_bin, "strategy fence", "plain")
case("unthrottled", mbg, "strategy fence", "plain")
if os.environ.get("BENCH_SKIP_THROTTLE") != "1":
    case(f"throttle {throttle}", mbg, f"strategy fence throttle {throttle}", throttle)
