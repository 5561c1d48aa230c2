import Foundation
import MBG
import XCTest

/// The cluster lane itself (scripts/cluster): what the cluster features of mbg
/// rely on, checked against the real 2 x 2 cluster of 18.16 servers.
final class ClusterLaneTests: XCTestCase {
    /// A DDL waiting for a host that does not answer fails in 30 s, not 180.
    private static let ddl = ["distributed_ddl_task_timeout": "30"]

    func testTopologyAndMacros() throws {
        guard let cluster = clusterLane() else { return }
        XCTAssertEqual(cluster.urls.count, 4, "MBG_TEST_CLUSTER_URLS should list four nodes")
        let node1 = try cluster.transport(node: 0)
        for name in [cluster.name, cluster.name + "_norepl"] {
            let hosts = try node1.run(
                """
                SELECT shard_num, replica_num, host_address FROM system.clusters
                WHERE cluster = \(quoteString(name)) ORDER BY shard_num, replica_num
                """
            ).rows
            XCTAssertEqual(
                hosts,
                [
                    ["1", "1", "127.0.0.1"], ["1", "2", "127.0.0.1"],
                    ["2", "1", "127.0.0.1"], ["2", "2", "127.0.0.1"],
                ], name)
        }
        // Every node names its shard and replica as the script lays them out.
        var seen: [[String]] = []
        for index in cluster.urls.indices {
            let macros = try cluster.transport(node: index).run(
                "SELECT macro, substitution FROM system.macros ORDER BY macro"
            ).rows
            let byName = Dictionary(uniqueKeysWithValues: macros.map { ($0[0] ?? "", $0[1] ?? "") })
            XCTAssertEqual(byName["cluster"], cluster.name, "node \(index + 1)")
            seen.append([byName["shard"] ?? "?", byName["replica"] ?? "?"])
        }
        XCTAssertEqual(seen, [["01", "r1"], ["01", "r2"], ["02", "r1"], ["02", "r2"]])
    }

    func testReplicationDistributedInsertAndMaterializedView() throws {
        guard let cluster = clusterLane() else { return }
        XCTAssertEqual(cluster.urls.count, 4, "MBG_TEST_CLUSTER_URLS should list four nodes")
        guard cluster.urls.count == 4 else { return }
        let nodes = try cluster.urls.indices.map { try cluster.transport(node: $0) }
        let db = "mbg_it_cl_" + UUID().uuidString.prefix(8).lowercased()
        let c = cluster.name
        try nodes[0].run("CREATE DATABASE \(db) ON CLUSTER \(c)", settings: Self.ddl)
        defer { dropPerNode(db, nodes: nodes) }

        func replicated(_ table: String) -> String {
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/\(db)/\(table)', '{replica}') ORDER BY id"
        }
        try nodes[0].run(
            "CREATE TABLE \(db).t ON CLUSTER \(c) (id UInt64, v String) ENGINE = \(replicated("t"))",
            settings: Self.ddl)
        try nodes[0].run(
            """
            CREATE TABLE \(db).t_all ON CLUSTER \(c) (id UInt64, v String)
            ENGINE = Distributed(\(c), \(db), t, cityHash64(id))
            """, settings: Self.ddl)

        // Synchronous, so the rows are on the shards when the insert returns; with
        // internal_replication each shard gets them once, on one replica.
        try nodes[0].run(
            "INSERT INTO \(db).t_all SELECT number, toString(number) FROM system.numbers LIMIT 1000",
            settings: ["insert_distributed_sync": "1"])
        let counts = try syncedCounts(of: "\(db).t", on: nodes)
        XCTAssertEqual(counts[0], counts[1], "shard 1: replicas differ \(counts)")
        XCTAssertEqual(counts[2], counts[3], "shard 2: replicas differ \(counts)")
        XCTAssertEqual(counts[0] + counts[2], 1000, "the shards together hold every row once \(counts)")
        XCTAssertGreaterThan(counts[0], 0)
        XCTAssertGreaterThan(counts[2], 0)
        // Each row went to the shard its key picks (weights 1:1, so hash % 2).
        for (index, node) in nodes.enumerated() {
            let shard = index / 2
            XCTAssertEqual(
                try node.run("SELECT count() FROM \(db).t WHERE cityHash64(id) % 2 != \(shard)").scalar, "0",
                "node \(index + 1) holds rows of the other shard")
        }
        let all = try nodes[3].run("SELECT count(), uniqExact(id), sum(id) FROM \(db).t_all").rows
        XCTAssertEqual(all, [["1000", "1000", "499500"]])

        // A view into a Replicated target, and one into a plain local table
        // (not replicated) that shows on which node it fired.
        try nodes[0].run(
            "CREATE TABLE \(db).copy ON CLUSTER \(c) (id UInt64, v String) ENGINE = \(replicated("copy"))",
            settings: Self.ddl)
        try nodes[0].run(
            """
            CREATE TABLE \(db).fired ON CLUSTER \(c) (id UInt64) ENGINE = MergeTree ORDER BY id
            """, settings: Self.ddl)
        try nodes[0].run(
            "CREATE MATERIALIZED VIEW \(db).to_copy ON CLUSTER \(c) TO \(db).copy AS SELECT id, v FROM \(db).t",
            settings: Self.ddl)
        try nodes[0].run(
            """
            CREATE MATERIALIZED VIEW \(db).to_fired ON CLUSTER \(c) TO \(db).fired
            AS SELECT id FROM \(db).t
            """, settings: Self.ddl)
        // Straight into the local table of each replica of shard 1.
        try nodes[0].run(
            "INSERT INTO \(db).t SELECT 100000 + number, 'a' FROM system.numbers LIMIT 100")
        try nodes[1].run(
            "INSERT INTO \(db).t SELECT 200000 + number, 'b' FROM system.numbers LIMIT 50")
        let after = try syncedCounts(of: "\(db).t", on: nodes)
        XCTAssertEqual(after, [counts[0] + 150, counts[1] + 150, counts[2], counts[3]])
        let copies = try syncedCounts(of: "\(db).copy", on: nodes)
        XCTAssertEqual(copies, [150, 150, 0, 0], "the view's rows reach the other replica once")
        for index in 0..<2 {
            XCTAssertEqual(
                try nodes[index].run("SELECT uniqExact(id), min(id), max(id) FROM \(db).copy").rows,
                [["150", "100000", "200049"]])
        }
        // The view fired only where each insert landed, never on a replicated fetch.
        XCTAssertEqual(
            try nodes[0].run("SELECT count(), min(id), max(id) FROM \(db).fired").rows,
            [["100", "100000", "100099"]])
        XCTAssertEqual(
            try nodes[1].run("SELECT count(), min(id), max(id) FROM \(db).fired").rows,
            [["50", "200000", "200049"]])
        for index in 2..<4 {
            XCTAssertEqual(try nodes[index].run("SELECT count() FROM \(db).fired").scalar, "0")
        }
    }

    /// `SYSTEM SYNC REPLICA` on every node, then each node's count of `table`.
    private func syncedCounts(of table: String, on nodes: [HTTPTransport]) throws -> [Int] {
        for node in nodes { try node.run("SYSTEM SYNC REPLICA \(table)") }
        return try nodes.map { Int(try $0.run("SELECT count() FROM \(table)").scalar ?? "") ?? -1 }
    }

    /// Drops the database on each node (DROP DATABASE ON CLUSTER failed once on
    /// 18.16 with "Directory not empty"), then checks nothing of it is left:
    /// the last replica of a table removes its ZooKeeper path.
    private func dropPerNode(
        _ db: String, nodes: [HTTPTransport], file: StaticString = #filePath, line: UInt = #line
    ) {
        for (index, node) in nodes.enumerated() {
            do {
                try node.run("DROP DATABASE IF EXISTS \(db)")
                XCTAssertEqual(
                    try node.run("SELECT count() FROM system.databases WHERE name = \(quoteString(db))").scalar,
                    "0", file: file, line: line)
            } catch {
                XCTFail("dropping \(db) on node \(index + 1): \(error)", file: file, line: line)
            }
        }
        for shard in ["01", "02"] {
            do {
                let left = try nodes[0].run(
                    "SELECT name FROM system.zookeeper WHERE path = '/clickhouse/tables/\(shard)/\(db)'"
                ).rows
                XCTAssertEqual(left, [], "ZooKeeper paths left for shard \(shard)", file: file, line: line)
            } catch {
                XCTFail("reading ZooKeeper for \(db): \(error)", file: file, line: line)
            }
        }
    }
}
