import Foundation
import MBG
import TestSupport
import XCTest

/// Migrations on the real 2 x 2 cluster lane, run by the built `mbg` binary
/// against `--url` of one node (issue 12).
final class ClusterMigrationTests: XCTestCase {
    private static let ddl = ["distributed_ddl_task_timeout": "60"]

    static func script(cluster: String, migrate: Bool) -> String {
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

                migrate events v0.0 -> v0.1 cutoff created_at lateness 2s

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
