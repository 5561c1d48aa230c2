"""A tiny ClickHouse HTTP client for the benchmark scripts (stdlib only)."""
import os, re, subprocess, sys, random, time, urllib.parse, urllib.request


class CH:
    def __init__(self, url):
        self.url = url.rstrip("/") + "/"

    def q(self, sql, timeout=600):
        req = urllib.request.Request(self.url, data=sql.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def scalar(self, sql):
        return self.q(sql).strip()

    def modern(self):
        return int(self.scalar("SELECT version()").split(".")[0]) >= 19


def fresh_db(ch, tag):
    db = f"mbg_bench_{tag}_{random.randrange(1 << 30):08x}"
    ch.q(f"CREATE DATABASE {db}")
    return db


def drop_db(ch, db):
    ch.q(f"DROP DATABASE IF EXISTS {db}" + (" SYNC" if ch.modern() else ""))


TABLE = '''table ev v0.0 {
    id       UInt64 key
    ts       DateTime
    payload  String
} order_by id partition_by "toYYYYMM(ts)"
'''


def seed(ch, db, n, table="ev_0_0"):
    ch.q(f"CREATE TABLE {db}.{table} (id UInt64, ts DateTime, payload String) "
         f"ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
    # Never numbers(0): unlimited on 18.16.
    ch.q(f"INSERT INTO {db}.{table} SELECT number, toDateTime('2024-01-01 00:00:00') + "
         f"intDiv(number * 31536000, {n}), toString(number) FROM numbers({n})")


def pct(v, p):
    """The p-quantile (0..1) of v; nan when v is empty."""
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def write_batches(w, insert, stop, record):
    """Writer w: 10-row batches of ids from 500M + w * 100M, one at most every
    40 ms, each sent by insert(ids) (ids: "n,n+1,…") until stop is set;
    record(start, seconds, ok) after each."""
    n = 500_000_000 + w * 100_000_000
    while not stop.is_set():
        ids = ",".join(str(i) for i in range(n, n + 10))
        n += 10
        t0 = time.perf_counter()
        ok = True
        try:
            insert(ids)
        except Exception:
            ok = False
        dt = time.perf_counter() - t0
        record(t0, dt, ok)
        time.sleep(max(0, 0.04 - dt))


def run_script(argv, path, script):
    """Writes script to path, runs argv (an `mbg run path …` command line) with
    its output streamed, removes path and exits when mbg fails. Returns the
    output, the start, the moment of the `backfilled N rows` line (None if
    none) and the end, as time.perf_counter() values."""
    open(path, "w").write(script)
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, backfilled_at = [], None
    for line in p.stdout:
        lines.append(line)
        if backfilled_at is None and re.search(r"backfilled \d+ rows", line):
            backfilled_at = time.perf_counter()
    p.wait()
    end = time.perf_counter()
    os.unlink(path)
    out = "".join(lines)
    if p.returncode != 0:
        sys.exit(f"mbg failed ({p.returncode}): {out}")
    return out, t0, backfilled_at, end
