import Foundation
import MBG
import TestSupport
import XCTest

/// Migrations on the real 2 x 2 cluster lane, run by the built `mbg` binary
/// against `--url` of one node (issue 12).
final class ClusterMigrationTests: XCTestCase {
    private static let ddl = ["distributed_ddl_task_timeout": "60"]

    static func script(cluster: String, migrate: Bool, options: String = "") -> String {
        var text = """
            table events v0.0 {
                id          UInt64  key
                name        String
                created_at  DateTime
                seq         UInt64
            } order_by id partition_by "toYYYYMM(created_at)" engine ReplicatedMergeTree cluster \(cluster) distributed by "cityHash64(id)"

            """
        if migrate {
            text += """
                table events v0.1 order_by id, created_at      # derived: same engine, cluster and distribution

                migrate events v0.0 -> v0.1 cutoff created_at lateness 2s\(options)

                """
        }
        return text + "apply\n" + (migrate ? "cutover events\n" : "")
    }

    private func setUp(_ cluster: ClusterLane) throws -> (db: String, nodes: [HTTPTransport], file: URL) {
        let nodes = try cluster.urls.indices.map { try cluster.transport(node: $0) }
        let db = "mbg_it_cm_" + UUID().uuidString.prefix(8).lowercased()
        try nodes[0].run("CREATE DATABASE \(db) ON CLUSTER \(cluster.name)", settings: Self.ddl)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(db).mbg")
        return (db, nodes, file)
    }

    private func tearDown(_ db: String, _ nodes: [HTTPTransport]) {
        for node in nodes { _ = try? node.run("DROP DATABASE IF EXISTS \(db)") }
    }

    private func mbg(_ url: URL, _ db: String, _ file: URL, timeout: TimeInterval = 300) throws -> ProcessOutcome {
        try runMBG(["run", "--url", url.absoluteString, "--database", db, "--yes", file.path], timeout: timeout)
    }

    private func int(_ node: HTTPTransport, _ sql: String) throws -> Int { Int(try node.run(sql).scalar ?? "") ?? -1 }

    /// The issue's script through node 3, writers through the Distributed
    /// table of nodes 1 and 4 and straight into the local table of node 2:
    /// every row exactly once in events_0_1, replicas of each shard equal.
    func testIssueScriptUnderWritersExactlyOnce() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let (db, nodes, file) = try setUp(cluster)
        defer { tearDown(db, nodes) }
        try Self.script(cluster: cluster.name, migrate: false).write(to: file, atomically: true, encoding: .utf8)
        var r = try mbg(cluster.urls[2], db, file)
        XCTAssertEqual(r.status, 0, r.stderr)
        // Old rows: two months, through the Distributed table (synchronously).
        _ = try nodes[0].execute(Query(
            "INSERT INTO \(db).events_0_0 SELECT number, toString(number), toDateTime('2024-01-01 00:00:00') + number * 300, 0 FROM numbers(20000)",
            settings: ["insert_distributed_sync": "1"]))

        let stop = StopFlag()
        let written = RowCounter()
        let failures = RowCounter()
        let writers: [(HTTPTransport, String, [String: String])] = [
            (nodes[0], "\(db).events_0_0", ["insert_distributed_sync": "1"]),
            (nodes[3], "\(db).events_0_0", ["insert_distributed_sync": "1"]),
            (nodes[1], "\(db).events_0_0_local", [:]),
        ]
        let group = DispatchGroup()
        for (w, (node, table, settings)) in writers.enumerated() {
            DispatchQueue.global().async(group: group) {
                var batch = 0
                while !stop.isSet {
                    let base = 1_000_000 * (w + 1) + batch * 100
                    let sql = "INSERT INTO \(table) SELECT \(base) + number, 'w\(w)', now(), 1 FROM numbers(100)"
                    // A failed insert (18.16: code 60 while the bridge is created) is retried as the same block;
                    // Replicated tables deduplicate a retried block that did land.
                    var ok = false
                    for _ in 0..<20 where !ok {
                        do {
                            _ = try node.execute(Query(sql, settings: settings))
                            ok = true
                        } catch {
                            failures.add(1)
                            Thread.sleep(forTimeInterval: 0.2)
                        }
                    }
                    if ok { written.add(100) }
                    batch += 1
                    Thread.sleep(forTimeInterval: 0.05)
                }
                group.leave()
            }
            group.enter()
        }
        try Self.script(cluster: cluster.name, migrate: true).write(to: file, atomically: true, encoding: .utf8)
        Thread.sleep(forTimeInterval: 1)
        r = try mbg(cluster.urls[2], db, file)
        Thread.sleep(forTimeInterval: 2)  // writers keep going after the cut-over
        stop.set()
        group.wait()
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("on 2 shard(s)"), r.stdout + r.stderr)

        let expected = 20000 + written.value
        for node in nodes {
            _ = try? node.run("SYSTEM SYNC REPLICA \(db).events_0_0_local")
            _ = try? node.run("SYSTEM SYNC REPLICA \(db).events_0_1_local")
        }
        // Every row once: through the Distributed table of the new version.
        XCTAssertEqual(try int(nodes[0], "SELECT count() FROM \(db).events_0_1"), expected, "rows in events_0_1")
        XCTAssertEqual(try int(nodes[0], "SELECT uniqExact(id) FROM \(db).events_0_1"), expected, "distinct ids in events_0_1")
        XCTAssertEqual(try int(nodes[2], "SELECT count() FROM \(db).events_0_0"), expected, "rows in events_0_0")
        // Replicas of each shard hold the same rows.
        for (a, b) in [(0, 1), (2, 3)] {
            let q = "SELECT toString(count()) || '/' || toString(sum(cityHash64(id, name, created_at, seq))) FROM \(db).events_0_1_local"
            XCTAssertEqual(try nodes[a].run(q).scalar, try nodes[b].run(q).scalar, "replicas \(a + 1) and \(b + 1)")
        }
        XCTAssertGreaterThan(try int(nodes[0], "SELECT count() FROM \(db).events_0_1_local"), 0)
        XCTAssertGreaterThan(try int(nodes[2], "SELECT count() FROM \(db).events_0_1_local"), 0)
        // The state is one for the cluster: every node's replica of it says cut over.
        for node in nodes {
            _ = try? node.run("SYSTEM SYNC REPLICA \(db)._mbg_state")
            XCTAssertEqual(
                try node.run("SELECT argMax(value, seq) FROM \(db)._mbg_state WHERE migration = 'events' AND key = 'phase'").scalar,
                "cut_over")
        }
        print("cluster migration: \(expected) rows exactly once, \(written.value) written during the run, \(failures.value) retried inserts")
    }

    /// A stopped replica before apply: exit 69 naming it, nothing created;
    /// once it is back, the same command succeeds.
    func testStoppedReplicaRefusedThenSucceeds() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let dir = ProcessInfo.processInfo.environment["MBG_CLUSTER_DIR"] ?? ""
        let (db, nodes, file) = try setUp(cluster)
        defer { tearDown(db, nodes) }
        try Self.script(cluster: cluster.name, migrate: false).write(to: file, atomically: true, encoding: .utf8)
        let control = repositoryRoot().appendingPathComponent("scripts/cluster")
        let stopped = try runProgram(control, ["stop-node", "4"], environment: ["MBG_CLUSTER_DIR": dir], timeout: 90)
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        var restarted = false
        defer { if !restarted { _ = try? runProgram(control, ["start-node", "4"], environment: ["MBG_CLUSTER_DIR": dir], timeout: 90) } }
        let r = try mbg(cluster.urls[0], db, file, timeout: 120)
        XCTAssertEqual(r.status, 69, r.stdout + r.stderr)
        let port = try int(nodes[0], "SELECT port FROM system.clusters WHERE cluster = \(quoteString(cluster.name)) AND shard_num = 2 AND replica_num = 2")
        XCTAssertTrue(r.stderr.contains("127.0.0.1:\(port) (shard 2, replica 2)"), r.stderr)
        for node in nodes.prefix(3) {
            XCTAssertEqual(try int(node, "SELECT count() FROM system.tables WHERE database = \(quoteString(db))"), 0, "nothing created")
        }
        let started = try runProgram(control, ["start-node", "4"], environment: ["MBG_CLUSTER_DIR": dir], timeout: 90)
        restarted = true
        XCTAssertEqual(started.status, 0, started.stderr)
        let again = try mbg(cluster.urls[0], db, file)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        for node in nodes {
            XCTAssertEqual(try int(node, "SELECT count() FROM system.tables WHERE database = \(quoteString(db)) AND name IN ('events_0_0', 'events_0_0_local')"), 2)
        }
    }

    /// A cluster whose shards have internal_replication off is refused with
    /// a message that says what to change; nothing of the table is created.
    func testInternalReplicationOffRefused() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let (db, nodes, file) = try setUp(cluster)
        defer { tearDown(db, nodes) }
        try Self.script(cluster: cluster.name + "_norepl", migrate: false).write(to: file, atomically: true, encoding: .utf8)
        let r = try mbg(cluster.urls[0], db, file, timeout: 120)
        XCTAssertEqual(r.status, 3, r.stdout + r.stderr)  // a runtime refusal
        XCTAssertTrue(r.stderr.contains("internal_replication off on shard(s) 1, 2"), r.stderr)
        XCTAssertTrue(r.stderr.contains("<internal_replication>true</internal_replication>"), r.stderr)
        XCTAssertEqual(try int(nodes[0], "SELECT count() FROM system.tables WHERE database = \(quoteString(db)) AND name LIKE 'events%'"), 0)
    }
}

extension ClusterMigrationTests {
    /// The v0.0 table with `rows` old rows over three months, written through the Distributed table.
    private func seeded(_ cluster: ClusterLane, rows: Int) throws -> (db: String, nodes: [HTTPTransport], file: URL) {
        let (db, nodes, file) = try setUp(cluster)
        try Self.script(cluster: cluster.name, migrate: false).write(to: file, atomically: true, encoding: .utf8)
        let r = try mbg(cluster.urls[0], db, file)
        XCTAssertEqual(r.status, 0, r.stderr)
        _ = try nodes[0].execute(Query(
            "INSERT INTO \(db).events_0_0 SELECT number, toString(number), toDateTime('2024-01-01 00:00:00') + number * 400, 0 FROM numbers(\(rows))",
            settings: ["insert_distributed_sync": "1"]))
        return (db, nodes, file)
    }

    /// `mbg run` started without waiting, so a test can kill it or race it.
    private func spawn(_ url: URL, _ db: String, _ file: URL) throws -> Process {
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("mbg")
        p.arguments = ["run", "--url", url.absoluteString, "--database", db, "--yes", file.path]
        var env = ProcessInfo.processInfo.environment
        env["MBG_HOME"] = repositoryRoot().path
        env["NO_COLOR"] = "1"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Every old row exactly once in events_0_1, replicas of each shard equal, no stage or mutex left.
    private func assertExactlyOnce(_ db: String, _ nodes: [HTTPTransport], rows: Int) throws {
        for node in nodes { _ = try? node.run("SYSTEM SYNC REPLICA \(db).events_0_1_local") }
        XCTAssertEqual(try int(nodes[0], "SELECT count() FROM \(db).events_0_1"), rows, "rows in events_0_1")
        XCTAssertEqual(try int(nodes[0], "SELECT uniqExact(id) FROM \(db).events_0_1"), rows, "distinct ids in events_0_1")
        for (a, b) in [(0, 1), (2, 3)] {
            let q = "SELECT toString(count()) || '/' || toString(sum(cityHash64(id, name, created_at, seq))) FROM \(db).events_0_1_local"
            XCTAssertEqual(try nodes[a].run(q).scalar, try nodes[b].run(q).scalar, "replicas \(a + 1) and \(b + 1)")
        }
        for (i, node) in nodes.enumerated() {
            let left = try node.run("SELECT name FROM system.tables WHERE database = \(quoteString(db)) AND (startsWith(name, '_mbg_stage') OR startsWith(name, '_mbg_mutex'))")
                .rows.compactMap { $0.first ?? nil }
            XCTAssertEqual(left, [], "stage or mutex tables left on node \(i + 1)")
        }
    }

    private func doneSlices(_ node: HTTPTransport, _ db: String) throws -> (done: Int, total: Int, phase: String) {
        let done = try int(node, "SELECT countIf(v LIKE '%\"done\"%') FROM (SELECT key, argMax(value, seq) AS v FROM \(db)._mbg_state WHERE migration = 'events' AND startsWith(key, 'slice/') GROUP BY key)")
        let slices = try node.run("SELECT argMax(value, seq) FROM \(db)._mbg_state WHERE migration = 'events' AND key = 'slices'").scalar ?? ""
        let total = slices.components(separatedBy: "\"partition\"").count - 1
        let phase = try node.run("SELECT argMax(value, seq) FROM \(db)._mbg_state WHERE migration = 'events' AND key = 'phase'").scalar ?? ""
        return (done, total, phase)
    }

    /// kill -9 of a run through node 1 once a backfill slice is done, then the
    /// same script through node 3: it takes the dead run's lock over at once
    /// and finishes with every row exactly once.
    func testKilledMidBackfillResumedThroughAnotherNode() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let rows = 24000
        let (db, nodes, file) = try seeded(cluster, rows: rows)
        defer { tearDown(db, nodes) }
        // 2000-row slices at 4000 rows/s over the cluster: about 6 s of backfill.
        try Self.script(cluster: cluster.name, migrate: true, options: " batch 2000 throttle 4000")
            .write(to: file, atomically: true, encoding: .utf8)
        let first = try spawn(cluster.urls[0], db, file)
        var seen = (done: 0, total: 0, phase: "")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && first.isRunning {
            seen = (try? doneSlices(nodes[0], db)) ?? seen
            if seen.done > 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertTrue(first.isRunning, "the first run ended before it could be killed")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let atKill = try doneSlices(nodes[0], db)
        XCTAssertGreaterThan(atKill.done, 0, "killed after a slice was done")
        XCTAssertLessThan(atKill.done, atKill.total, "killed before the backfill finished")
        XCTAssertEqual(atKill.phase, "started")
        let lock = try nodes[2].run("SELECT argMax(value, seq) FROM \(db)._mbg_state WHERE migration = 'events' AND key = 'lock'").scalar ?? ""
        XCTAssertTrue(lock.contains(":\(first.processIdentifier)\""), "the killed run holds the lock: \(lock)")

        let started = Date()
        let r = try mbg(cluster.urls[2], db, file, timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("process \(first.processIdentifier) no longer exists on this host"), r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "taken over at once, not after the stale period")
        try assertExactlyOnce(db, nodes, rows: rows)
        for node in nodes {
            _ = try? node.run("SYSTEM SYNC REPLICA \(db)._mbg_state")
            XCTAssertEqual(try doneSlices(node, db).phase, "cut_over")
        }
        print("cluster kill -9: \(atKill.done) of \(atKill.total) slices done at the kill; resumed through node 3 in \(Int(Date().timeIntervalSince(started))) s")
    }

    /// Two runs of the same migration started at once through nodes 1 and 3:
    /// one migrates, the other exits 73 (locked); rows exactly once.
    func testConcurrentRunsThroughTwoNodesOneLocked() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let rows = 12000
        let (db, nodes, file) = try seeded(cluster, rows: rows)
        defer { tearDown(db, nodes) }
        try Self.script(cluster: cluster.name, migrate: true, options: " batch 2000 throttle 4000")
            .write(to: file, atomically: true, encoding: .utf8)
        let a = try spawn(cluster.urls[0], db, file)
        let b = try spawn(cluster.urls[2], db, file)
        a.waitUntilExit()
        b.waitUntilExit()
        XCTAssertEqual([a.terminationStatus, b.terminationStatus].sorted(), [0, 73], "one migrates, the other is locked out")
        try assertExactlyOnce(db, nodes, rows: rows)
    }
}

extension ClusterMigrationTests {
    /// The table dropped on node 4 only: apply through node 1 (where it exists
    /// as declared) reports the node that lacks it, by shard and replica.
    func testDriftNamesTheNodeMissingTheTable() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let (db, nodes, file) = try setUp(cluster)
        defer { tearDown(db, nodes) }
        try Self.script(cluster: cluster.name, migrate: false).write(to: file, atomically: true, encoding: .utf8)
        var r = try mbg(cluster.urls[0], db, file)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse((r.stdout + r.stderr).contains("drift"), r.stdout + r.stderr)
        try nodes[3].run("DROP TABLE \(db).events_0_0_local")
        r = try mbg(cluster.urls[0], db, file)
        let port = try int(nodes[0], "SELECT port FROM system.clusters WHERE cluster = \(quoteString(cluster.name)) AND shard_num = 2 AND replica_num = 2")
        XCTAssertTrue(
            r.stderr.contains("drift: events_0_0_local is missing on shard 02, replica r2 (127.0.0.1:\(port)) of cluster \(cluster.name)"),
            r.stdout + r.stderr)
        XCTAssertFalse(r.stderr.contains("events_0_0 is missing"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "is missing on").count - 1, 1, r.stderr)
    }
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

private final class RowCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    func add(_ k: Int) { lock.lock(); n += k; lock.unlock() }
}
