import ArgumentParser
import Foundation
import MBG
import TestSupport
import XCTest

@testable import MBGCLI

/// The REPL's Tab completion offers the connected server's tables and their
/// columns, and sees tables created in the session without reconnecting.
final class REPLCatalogTests: XCTestCase {
    func testCompletionFromLiveCatalogRefreshedAfterDDL() {
        onEveryLane { ctx in
            try ctx.transport.run(
                "CREATE TABLE \(quoteIdentifier(ctx.database)).things (thing_id UInt64, thing_name String) ENGINE = MergeTree ORDER BY thing_id")
            let common = try CommonOptions.parse(["--url", ctx.url.absoluteString, "--database", ctx.database])
            let settings = RunSettings(common: common, mode: .live)
            let interpreter = try makeInterpreter(settings, output: TerminalOutput(json: false))
            let backend = InterpreterBackend(interpreter: interpreter, settings: settings)

            XCTAssertTrue(backend.completions(prefix: "thi", line: "sql \"SELECT * FROM thi").contains("things"))
            XCTAssertEqual(
                backend.completions(prefix: "thing_", line: "sql \"SELECT thing_ FROM things").filter { $0.hasPrefix("thing_") },
                ["thing_id", "thing_name"], "columns of a table named in the statement")
            XCTAssertFalse(backend.completions(prefix: "other", line: "other").contains("others"))

            // DDL through the session refreshes the cached catalog.
            XCTAssertTrue(backend.evaluate(
                "sql \"CREATE TABLE \(ctx.database).others (o UInt8) ENGINE = MergeTree ORDER BY o\""))
            XCTAssertTrue(backend.completions(prefix: "other", line: "other").contains("others"))
            XCTAssertTrue(try backend.tableNames().contains("others"))
            XCTAssertTrue(try backend.describe("others").contains("CREATE TABLE"))
        }
    }
}

/// On the cluster lane: the REPL connected to one node completes the
/// clustered table's names (Distributed and local) and columns, and sees a
/// table created ON CLUSTER through the session.
final class REPLClusterCatalogTests: XCTestCase {
    func testCompletionSeesClusteredTables() throws {
        guard let cluster = clusterLane(), cluster.urls.count == 4 else { return }
        let nodes = try cluster.urls.indices.map { try cluster.transport(node: $0) }
        let db = "mbg_it_replc_" + UUID().uuidString.prefix(8).lowercased()
        let ddl = ["distributed_ddl_task_timeout": "60"]
        try nodes[0].run("CREATE DATABASE \(db) ON CLUSTER \(cluster.name)", settings: ddl)
        defer { for node in nodes { _ = try? node.run("DROP DATABASE IF EXISTS \(db)") } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(db).mbg")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            table gadgets v0.0 {
                gadget_id    UInt64 key
                gadget_name  String
            } order_by gadget_id engine ReplicatedMergeTree cluster \(cluster.name) distributed by "cityHash64(gadget_id)"
            apply
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try runMBG(["run", "--url", cluster.urls[0].absoluteString, "--database", db, "--yes", file.path], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)

        // Through node 4, which did not run the DDL's initiator.
        let common = try CommonOptions.parse(["--url", cluster.urls[3].absoluteString, "--database", db])
        let settings = RunSettings(common: common, mode: .live)
        let interpreter = try makeInterpreter(settings, output: TerminalOutput(json: false))
        let backend = InterpreterBackend(interpreter: interpreter, settings: settings)
        let names = backend.completions(prefix: "gadg", line: "sql \"SELECT * FROM gadg")
        XCTAssertTrue(names.contains("gadgets_0_0"), "\(names)")
        XCTAssertTrue(names.contains("gadgets_0_0_local"), "\(names)")
        XCTAssertEqual(
            backend.completions(prefix: "gadget_", line: "sql \"SELECT gadget_ FROM gadgets_0_0").filter { $0.hasPrefix("gadget_") },
            ["gadget_id", "gadget_name"], "columns of the Distributed table")
        XCTAssertTrue(backend.evaluate(
            "sql \"CREATE TABLE \(db).widgets ON CLUSTER \(cluster.name) (w UInt8) ENGINE = MergeTree ORDER BY w\""))
        XCTAssertTrue(backend.completions(prefix: "widg", line: "widg").contains("widgets"))
    }
}
