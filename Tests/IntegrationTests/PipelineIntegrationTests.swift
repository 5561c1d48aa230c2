import Foundation
import MBG
import TestSupport
import XCTest

/// The pipeline mode against real servers: examples/pipeline.sh end to end,
/// offline plans from a dumped catalog, and stdlib checks failing a run.
final class PipelineIntegrationTests: XCTestCase {
    var mbg: URL { productsDirectory().appendingPathComponent("mbg") }
    var root: URL { repositoryRoot() }

    func runMBG(_ args: [String], _ ctx: LaneContext) throws -> ProcessOutcome {
        try runProgram(mbg, args + ["--url", ctx.url.absoluteString, "--database", ctx.database],
                       environment: ["MBG_HOME": root.path], directory: root)
    }

    func temporaryFile(_ name: String, _ text: String? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(name)
        if let text { try Data(text.utf8).write(to: file) }
        return file
    }

    /// examples/pipeline.sh: plans (JSON valid against docs/plan-schema.json,
    /// exit 2), applies, cuts over and finishes with --yes and no terminal,
    /// then plans again with nothing pending. Every row arrives once.
    func testPipelineExampleRunsEndToEnd() throws {
        let schema = try JSONSchema(contentsOf: root.appendingPathComponent("docs/plan-schema.json"))
        onEveryLane { ctx in
            let planFile = try temporaryFile("plan.json")
            let r = try runProgram(
                root.appendingPathComponent("examples/pipeline.sh"), [ctx.database],
                environment: ["MBG": mbg.path, "MBG_URL": ctx.url.absoluteString, "MBG_HOME": root.path,
                              "MBG_PLAN_OUT": planFile.path],
                directory: root, timeout: 600)
            XCTAssertFalse(r.timedOut)
            XCTAssertEqual(r.status, 0, "[\(ctx.lane)] stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
            XCTAssertTrue(r.stderr.contains("pipeline: changes pending"), r.stderr)
            XCTAssertTrue(r.stderr.contains("orders: finished"), r.stderr)

            let json = String(decoding: try Data(contentsOf: planFile), as: UTF8.self)
            XCTAssertEqual(schema.validate(jsonText: json), [], "[\(ctx.lane)] \(json)")
            let doc = try JSONValue.parse(json)
            XCTAssertEqual(doc["changes_pending"], .bool(true))
            guard case .array(let steps)? = doc["steps"] else { return XCTFail("no steps") }
            XCTAssertEqual(
                steps.compactMap { if case .string(let a)? = $0["action"] { a } else { nil } },
                ["create_table", "state_table", "create_table", "create_bridge", "backfill", "verify", "cutover", "finish"])
            // Only the old table exists when planning: its step is done, the rest pending.
            XCTAssertEqual(steps.first?["status"], .string("done"))
            XCTAssertTrue(steps.dropFirst().allSatisfy { $0["status"] == .string("pending") })

            let t = ctx.transport
            let q = quoteIdentifier(ctx.database)
            XCTAssertEqual(try t.run("SELECT count(), uniqExact(id) FROM \(q).orders_1_1").rows.first, ["20000", "20000"])
            XCTAssertEqual(try t.run("SELECT count() FROM \(q).orders_1_0").scalar, "20000")
            XCTAssertEqual(
                try t.run("SELECT sorting_key FROM system.tables WHERE database = \(quoteString(ctx.database)) AND name = 'orders_1_1'").scalar,
                "customer, id")
            // finish dropped the bridge.
            XCTAssertEqual(
                try t.run("SELECT count() FROM system.tables WHERE database = \(quoteString(ctx.database)) AND name = 'mv_orders_to_1_1'").scalar, "0")
        }
    }

    /// `mbg dump` then `plan --catalog` gives the same plan as planning against
    /// the live server: a table that exists, one to create, one that drifted,
    /// a migration with partitions to backfill.
    func testPlanAgainstDumpedCatalogEqualsLivePlan() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE events_0_0 (id String, ts DateTime, n UInt32) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
            try t.run("INSERT INTO events_0_0 SELECT toString(number), toDateTime('2024-01-01 00:00:00') + number * 86400, number FROM numbers(90)")
            try t.run("CREATE TABLE kept (a UInt8) ENGINE = MergeTree ORDER BY a")
            try t.run("CREATE TABLE drifted (a UInt8, b String) ENGINE = MergeTree ORDER BY a")
            let script = try temporaryFile("plan.mbg", """
                import "bluegreen"
                table kept { a UInt8 key }
                table drifted { a UInt8 key
                  c String }
                table fresh v0.1 { x UInt64 key }
                table events v0.0 { id String key
                  ts DateTime
                  n UInt32 } partition_by "toYYYYMM(ts)"
                let m = reorder(events v0.0, "v0.1", ["ts", "id"])
                let r = change_engine(kept, "v0.1", "ReplacingMergeTree")
                """)
            let live = try runMBG(["plan", script.path, "--json", "--detailed-exitcode"], ctx)
            XCTAssertEqual(live.status, 2, "[\(ctx.lane)] \(live.stderr)")

            let dump = try runMBG(["dump"], ctx)
            XCTAssertEqual(dump.status, 0, "[\(ctx.lane)] \(dump.stderr)")
            let catalogFile = try temporaryFile("catalog.json", dump.stdout)
            // No server at all: an unreachable --url proves nothing is asked.
            let offline = try runProgram(
                mbg, ["plan", script.path, "--json", "--detailed-exitcode", "--catalog", catalogFile.path, "--url", "http://127.0.0.1:1"],
                environment: ["MBG_HOME": root.path], directory: root)
            XCTAssertEqual(offline.status, 2, "[\(ctx.lane)] \(offline.stderr)")
            XCTAssertEqual(try JSONValue.parse(offline.stdout), try JSONValue.parse(live.stdout), "[\(ctx.lane)] live:\n\(live.stdout)\noffline:\n\(offline.stdout)")
            XCTAssertEqual(offline.stdout, live.stdout)

            // The plan really reflects the server: partitions of events_0_0, kept done, drifted blocked.
            let doc = try JSONValue.parse(live.stdout)
            guard case .array(let steps)? = doc["steps"] else { return XCTFail("no steps") }
            let byTarget = Dictionary(steps.compactMap { s -> (String, JSONValue)? in
                guard case .string(let target)? = s["target"], case .string(let action)? = s["action"] else { return nil }
                return ("\(action) \(target)", s)
            }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(byTarget["create_table kept"]?["status"], .string("done"))
            XCTAssertEqual(byTarget["drift drifted"]?["status"], .string("blocked"))
            XCTAssertEqual(byTarget["create_table fresh_0_1"]?["status"], .string("pending"))
            guard case .array(let backfillSQL)? = byTarget["backfill events_0_1"]?["sql"] else { return XCTFail("no backfill") }
            for month in ["202401", "202402", "202403"] {
                XCTAssertTrue(backfillSQL.contains { $0.description.contains("'\(month)'") }, "[\(ctx.lane)] partition \(month)")
            }
        }
    }

    /// stdlib `checks` for real: duplicated ids fail the run (exit 3, a runtime
    /// failure: the script is fine, the data is not) before anything is
    /// applied; without duplicates the same script passes.
    func testCheckModuleFailsThePipeline() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE users (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
            try t.run("INSERT INTO users VALUES (1, 'a'), (2, 'b'), (2, 'c')")
            let script = try temporaryFile("check.mbg", """
                import "checks"
                table users { id UInt64 key
                  name String }
                check_not_empty(users)
                check_unique(users, ["id"])
                print "checked"
                """)
            let failing = try runMBG(["run", script.path], ctx)
            XCTAssertEqual(failing.status, 3, "[\(ctx.lane)] \(failing.stderr)")
            XCTAssertTrue(failing.stderr.contains("check 'unique id in users' failed: 1 row(s) returned, first: {id: 2, copies: 2}"), "[\(ctx.lane)] \(failing.stderr)")
            XCTAssertFalse(failing.stdout.contains("checked"))

            try t.run("CREATE TABLE users_ok (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
            try t.run("INSERT INTO users_ok VALUES (1, 'a'), (2, 'b')")
            let passing = try runMBG(["-c", "import \"checks\"\ncheck_unique(\"users_ok\", [\"id\"])\nprint \"checked\""], ctx)
            XCTAssertEqual(passing.status, 0, "[\(ctx.lane)] \(passing.stderr)")
            XCTAssertEqual(passing.stdout, "checked\n")
        }
    }
}
