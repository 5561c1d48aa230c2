"""A tiny ClickHouse HTTP client for the benchmark scripts (stdlib only)."""
import random, urllib.parse, urllib.request


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
