#!/usr/bin/env python3
"""Cluster backfill (issue 12): `mbg apply` of a cutoff migration on the
2-shard x 2-replica lane against a plain per-shard copy (INSERT INTO a new
Replicated local table SELECT * FROM the old local table, on the first replica
of each shard, both shards at once: what mbg's backfill does without slices,
stages and checks). The plain copy runs before and after mbg; the baseline is
their mean. Two writers insert 10-row batches through the Distributed table
of nodes 2 and 4 (insert_distributed_sync=1) before and during apply; their
p50/p99 per phase show the migration's impact.
Usage: cluster.py CLUSTER MBG ROWS URL1 URL2 URL3 URL4"""
import os, re, subprocess, sys, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(__file__))
from ch import CH, pct, write_batches

cluster, mbg, rows, urls = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:8]
nodes = [CH(u) for u in urls]
SYNC = "&insert_distributed_sync=1"
db = f"mbg_bench_cluster_{int(time.time()) % 100000000:08d}"
TABLE = f'''table ev v0.0 {{
    id       UInt64 key
    ts       DateTime
    payload  String
}} order_by id partition_by "toYYYYMM(ts)" engine ReplicatedMergeTree cluster {cluster} distributed by "cityHash64(id)"
'''


def q(node, sql, settings="", timeout=600):
    if not settings:
        return node.q(sql, timeout)
    req = urllib.request.Request(node.url + "?" + settings.lstrip("&"), data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def ddl(sql):
    q(nodes[0], sql, "&distributed_ddl_task_timeout=120")


def mbg_run(script):
    path = f"/tmp/{db}.mbg"
    open(path, "w").write(script)
    t0 = time.perf_counter()
    p = subprocess.run([mbg, "run", path, "--url", urls[0], "--database", db, "--yes"], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    os.unlink(path)
    if p.returncode != 0:
        sys.exit(f"mbg failed ({p.returncode}): {p.stderr}")
    return p.stderr, dt


def plain(k):
    t = f"{db}.plain_{k}_local"
    ddl(f"CREATE TABLE {t} ON CLUSTER {cluster} (id UInt64, ts DateTime, payload String) "
        f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}/plain_{k}_local', '{{replica}}') "
        f"PARTITION BY toYYYYMM(ts) ORDER BY (ts, id)")
    first = [nodes[0], nodes[2]]  # first replica of shard 1 and shard 2
    t0 = time.perf_counter()
    threads = [threading.Thread(target=q, args=(n, f"INSERT INTO {t} SELECT * FROM {db}.ev_0_0_local")) for n in first]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    dt = time.perf_counter() - t0
    ddl(f"DROP TABLE {t} ON CLUSTER {cluster}")
    return rows / dt, dt


phase = "before"
samples = []  # (phase, latency, ok)
lock = threading.Lock()
stop = threading.Event()


def writer(w):
    node = nodes[1 + 2 * w]

    def record(t0, dt, ok):
        with lock:
            samples.append((phase, dt, ok))

    write_batches(w, lambda ids: q(node, f"INSERT INTO {db}.ev_0_0 (id, ts, payload) SELECT arrayJoin([{ids}]), now(), 'w'", SYNC, timeout=60),
                  stop, record)


q(nodes[0], f"CREATE DATABASE {db} ON CLUSTER {cluster}", "&distributed_ddl_task_timeout=120")
threads = []
try:
    mbg_run(TABLE + "apply\n")
    q(nodes[0], f"INSERT INTO {db}.ev_0_0 SELECT number, toDateTime('2024-01-01 00:00:00') + "
      f"intDiv(number * 31536000, {rows}), toString(number) FROM numbers({rows})", SYNC)
    before, before_s = plain(1)
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for th in threads:
        th.start()
    time.sleep(8)
    phase = "during apply"
    err, total = mbg_run(TABLE + "table ev v0.1 order_by ts, id\nmigrate ev v0.0 -> v0.1 cutoff ts lateness 2s\napply ev\n")
    phase = "after"
    time.sleep(3)
    stop.set()
    for th in threads:
        th.join()
    after, after_s = plain(2)
    rates = re.findall(r"(\d+) rows/s", err)
    slices = re.search(r"in (\d+) slice\(s\) on (\d+) shard", err)
    rate = float(rates[-1]) if rates else float("nan")
    base = (before + after) / 2
    print(f"{rows} rows, 12 monthly partitions, 2 shards x 2 replicas")
    print(f"backfill  mbg {rate/1e6:6.2f} M rows/s ({slices.group(1) if slices else '?'} slices, apply {total:5.1f} s end to end)"
          f" | plain per-shard INSERT SELECT {before/1e6:.2f} / {after/1e6:.2f} M rows/s ({before_s:.1f} / {after_s:.1f} s)"
          f" | ratio {rate/base:.2f}")
    print(f"{'writers':14} {'inserts':>7} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99 x':>6}")
    base99 = None
    for ph in ["before", "during apply", "after"]:
        lat = [x[1] for x in samples if x[0] == ph and x[2]]
        failed = sum(1 for x in samples if x[0] == ph and not x[2])
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        base99 = base99 or p99
        print(f"{ph:14} {len(lat) + failed:7} {failed:6} {p50*1e3:8.1f} {p99*1e3:8.1f} {max(lat)*1e3:8.1f} {p99/base99:6.2f}")
    ok = sum(1 for x in samples if x[2]) * 10
    got = int(q(nodes[0], f"SELECT count() FROM {db}.ev_0_1 WHERE id >= 500000000").strip())
    moved = int(q(nodes[0], f"SELECT count() FROM {db}.ev_0_1 WHERE id < 500000000").strip())
    print(f"old rows in ev_0_1 {moved} of {rows}; acknowledged writer rows {ok}, in ev_0_1 {got}")
finally:
    stop.set()
    for th in threads:
        th.join()
    for n in nodes:
        try:
            n.q(f"DROP DATABASE IF EXISTS {db}")
        except Exception:
            pass
