import Foundation
import TestSupport
import XCTest

@testable import MBG

/// Real `mbg plan --json` output of the built binary (`--dry-run`, or
/// `--catalog` for a server's state without a server) against
/// docs/plan-schema.json.
final class PlanSchemaTests: XCTestCase {
    func schema() throws -> JSONSchema {
        try JSONSchema(contentsOf: repositoryRoot().appendingPathComponent("docs/plan-schema.json"))
    }

    /// A step of a plan document, for the checks below.
    struct Step {
        var action: String, target: String, status: String, sql: [String], notes: [String]
    }

    /// Runs `mbg plan FILE --json --detailed-exitcode` and checks the document
    /// against the schema; its steps, and the exit code (2 when changes are pending).
    func plan(_ file: String, _ extra: [String] = ["--dry-run"], line: UInt = #line) throws -> (status: Int32, steps: [Step]) {
        let r = try runMBG(["plan", file, "--json", "--detailed-exitcode"] + extra, directory: repositoryRoot())
        XCTAssertTrue([0, 2].contains(r.status), "\(file): exit \(r.status)\n\(r.stderr)", line: line)
        XCTAssertEqual(try schema().validate(jsonText: r.stdout), [], "\(file):\n\(r.stdout)", line: line)
        let doc = try JSONValue.parse(r.stdout)
        XCTAssertEqual(doc["schema"], .string("mbg.plan/v1"), line: line)
        XCTAssertEqual(doc["changes_pending"], .bool(r.status == 2), "changes_pending agrees with the exit code", line: line)
        guard case .array(let items)? = doc["steps"] else {
            XCTFail("\(file): no steps", line: line)
            return (r.status, [])
        }
        func strings(_ v: JSONValue?) -> [String] {
            guard case .array(let a)? = v else { return [] }
            return a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        func string(_ v: JSONValue?) -> String { if case .string(let s)? = v { s } else { "" } }
        let steps = items.map {
            Step(action: string($0["action"]), target: string($0["target"]), status: string($0["status"]),
                 sql: strings($0["sql"]), notes: strings($0["notes"]))
        }
        return (r.status, steps)
    }

    func temporaryScript(_ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("t.mbg")
        try Data(text.utf8).write(to: file)
        return file.path
    }

    /// The seed example migrates with a cutoff: the bridge takes rows at or
    /// after T, the backfill and verify those before it.
    func testCutoffMigrationPlanValidates() throws {
        let (status, steps) = try plan("examples/events.mbg")
        XCTAssertEqual(status, 2)
        XCTAssertEqual(steps.map(\.action), ["create_table", "state_table", "create_table", "create_bridge", "backfill", "verify", "cutover", "finish"])
        let bridge = try XCTUnwrap(steps.first { $0.action == "create_bridge" })
        XCTAssertEqual(bridge.target, "mv_events_to_0_1")
        XCTAssertTrue(bridge.sql.contains { $0.contains("WHERE created_at >= toDateTime(") }, "\(bridge.sql)")
        XCTAssertTrue(bridge.notes.contains { $0.hasPrefix("strategy: cutoff on created_at") }, "\(bridge.notes)")
        XCTAssertFalse(bridge.sql.contains { $0.hasPrefix("SYSTEM STOP MERGES") }, "a cutoff never stops merges")
        let verify = try XCTUnwrap(steps.first { $0.action == "verify" })
        XCTAssertTrue(verify.sql.contains { $0.contains("WHERE created_at < toDateTime(") }, "\(verify.sql)")
    }

    /// The pipeline example has no cutoff column: a fence, merges stopped
    /// and the old parts listed.
    func testFenceMigrationPlanValidates() throws {
        let (status, steps) = try plan("examples/pipeline/migrate.mbg")
        XCTAssertEqual(status, 2)
        let bridge = try XCTUnwrap(steps.first { $0.action == "create_bridge" })
        XCTAssertEqual(bridge.sql.first, "SYSTEM STOP MERGES orders_1_0")
        XCTAssertTrue(bridge.notes.contains { $0.hasPrefix("strategy: fence") }, "\(bridge.notes)")
        XCTAssertFalse(bridge.sql.contains { $0.contains(" WHERE ") }, "a fence bridge forwards every row: \(bridge.sql)")
        let backfill = try XCTUnwrap(steps.first { $0.action == "backfill" })
        XCTAssertTrue(backfill.sql.contains { $0.contains("_mbg_stage_orders_1_1_") }, "\(backfill.sql)")
        XCTAssertEqual(steps.first { $0.target == "orders_1_0" }?.status, "done", "the old table is declared as it is")
    }

    /// A fence with a swap cut-over, the bluegreen stdlib, a view, and a plan
    /// with nothing pending: every document validates, and together they use
    /// every action the schema lists except drift (next test).
    func testPlansOfScriptsValidate() throws {
        var seen = Set<String>()
        for file in ["examples/pipeline/migrate.mbg", "examples/events.mbg", "Tests/Scripts/stdlib/bluegreen.mbg"] {
            let (status, steps) = try plan(file)
            XCTAssertEqual(status, 2, file)
            XCTAssertTrue(steps.contains { $0.action == "backfill" }, file)
            seen.formUnion(steps.map(\.action))
        }
        let swap = try temporaryScript("""
            table e v0.0 { id UInt64 key
              ts DateTime } partition_by "toYYYYMM(ts)"
            table e v0.1 order_by ts, id
            migrate e v0.0 -> v0.1 strategy fence cutover swap
            apply e

            """)
        let (status, steps) = try plan(swap)
        XCTAssertEqual(status, 2)
        let cutover = try XCTUnwrap(steps.first { $0.action == "cutover" })
        XCTAssertEqual(cutover.sql.filter { $0.hasPrefix("EXCHANGE") }, ["EXCHANGE TABLES e_0_0 AND e_0_1"], "a swap on a modern server exchanges")
        seen.formUnion(steps.map(\.action))
        let view = try temporaryScript("""
            table e v0.0 { a Int8 key }
            table counts { n UInt64 key }
            view daily to counts as "SELECT count() AS n FROM \\(e v0.0)"

            """)
        let viewPlan = try plan(view)
        XCTAssertEqual(viewPlan.status, 2)
        XCTAssertTrue(viewPlan.steps.contains { $0.action == "create_view" && $0.target == "daily" }, "\(viewPlan.steps.map(\.action))")
        seen.formUnion(viewPlan.steps.map(\.action))
        let nothing = try temporaryScript("print 1\n")
        let empty = try plan(nothing)
        XCTAssertEqual(empty.status, 0)
        XCTAssertTrue(empty.steps.isEmpty)
        XCTAssertEqual(seen, try documentedActions().subtracting(["drift"]))
    }

    /// Against a dumped catalog whose table has another layout than declared:
    /// a blocked drift step, still a valid document.
    func testDriftAgainstCatalogValidates() throws {
        let declared = TableDef(
            name: "e", version: Version([0, 0]), database: "shop",
            columns: [ColumnDef(name: "a", type: "Int8")], orderBy: ["a"], partitionBy: nil)
        var live = declared
        live.columns.append(ColumnDef(name: "b", type: "String"))
        let catalog = Catalog(capabilities: .modern, database: "shop", tables: [
            CatalogTable(database: "shop", name: "e_0_0", engine: "MergeTree", engineFull: "MergeTree ORDER BY a",
                         definition: live, createQuery: createTableSQL(live))
        ])
        let catalogFile = try temporaryScript(String(decoding: try JSONEncoder().encode(catalog), as: UTF8.self))
        let script = try temporaryScript("table e v0.0 { a Int8 key }\n")
        let (status, steps) = try plan(script, ["--catalog", catalogFile])
        XCTAssertEqual(status, 2)
        XCTAssertEqual(steps.map(\.action), ["drift"], "\(steps)")
        XCTAssertEqual(steps.first?.status, "blocked")
    }

    func documentedActions() throws -> Set<String> {
        guard case .array(let documented)? = try schema().root["$defs"]?["step"]?["properties"]?["action"]?["enum"] else {
            XCTFail("no action enum")
            return []
        }
        return Set(documented.compactMap { if case .string(let s) = $0 { s } else { nil } })
    }

    /// Script output goes to stderr under `plan`, so the JSON is never mixed with it.
    func testScriptPrintsGoToStderrUnderPlan() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("t.mbg")
        try Data("print \"hello\"\ntable t { a Int8 key }\n".utf8).write(to: file)
        let plan = try runMBG(["plan", file.path, "--dry-run", "--json"], directory: repositoryRoot())
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(plan.stderr.contains("hello"), plan.stderr)
        XCTAssertFalse(plan.stdout.contains("hello"), plan.stdout)
        XCTAssertEqual(try schema().validate(jsonText: plan.stdout), [])
    }

    /// The check really checks: broken documents are rejected.
    func testSchemaRejectsWrongDocuments() throws {
        let schema = try schema()
        let good = """
            {"schema": "mbg.plan/v1", "changes_pending": true, "warnings": [],
             "steps": [{"action": "create_table", "target": "t", "summary": "create table t",
                        "sql": ["CREATE TABLE t (a Int8) ENGINE = MergeTree ORDER BY a"], "status": "pending", "notes": []}]}
            """
        XCTAssertEqual(schema.validate(jsonText: good), [])
        let bad: [(String, String)] = [
            (good.replacingOccurrences(of: "mbg.plan/v1", with: "mbg.plan/v2"), "$.schema"),
            (good.replacingOccurrences(of: "\"changes_pending\": true", with: "\"changes_pending\": 1"), "expected boolean"),
            (good.replacingOccurrences(of: "\"pending\"", with: "\"maybe\""), "not one of"),
            (good.replacingOccurrences(of: "\"create_table\"", with: "\"explode\""), "not one of"),
            (good.replacingOccurrences(of: ", \"notes\": []", with: ""), "missing notes"),
            (good.replacingOccurrences(of: "\"warnings\": [],", with: "\"warnings\": [], \"extra\": 1,"), "unexpected field extra"),
            (good.replacingOccurrences(of: "[\"CREATE", with: "[1, \"CREATE"), "expected string"),
            ("[]", "expected object"),
        ]
        for (text, expected) in bad {
            let errors = schema.validate(jsonText: text)
            XCTAssertTrue(errors.contains { $0.contains(expected) }, "expected '\(expected)' for \(text): \(errors)")
        }
    }

    /// Every step action the planner emits is documented in the schema's enum.
    func testSchemaListsEveryAction() throws {
        guard case .array(let documented)? = try schema().root["$defs"]?["step"]?["properties"]?["action"]?["enum"] else {
            return XCTFail("no action enum")
        }
        let found = Set(StepKind.allCases.map(\.rawValue))
        XCTAssertGreaterThanOrEqual(found.count, 8)
        XCTAssertEqual(found, Set(documented.compactMap { if case .string(let s) = $0 { s } else { nil } }))
    }

    /// The issue-12 script against a dumped 18.16 cluster catalog: the plan
    /// names the cluster and its hosts, and has one backfill and verification
    /// step per shard (targets `…@shardN`) and a replica-agreement step per shard.
    func testClusterPlanShowsHostsAndPerShardSteps() throws {
        let (status, steps) = try plan(
            "Tests/Scripts/cluster/issue-plan-18.mbg", ["--catalog", "Tests/Scripts/cluster/catalog-18.json"])
        XCTAssertEqual(status, 2)
        let create = try XCTUnwrap(steps.first { $0.action == "create_table" && $0.target == "events_0_1_local" })
        XCTAssertTrue(create.notes.contains(
            "cluster mbg_cluster: 2 shard(s) x 2 replica(s): 127.0.0.1:19131 (shard 1, replica 1), 127.0.0.1:19132 (shard 1, replica 2), 127.0.0.1:19133 (shard 2, replica 1), 127.0.0.1:19134 (shard 2, replica 2)"),
            "\(create.notes)")
        XCTAssertTrue(create.sql.allSatisfy { $0.contains(" ON CLUSTER mbg_cluster") }, "\(create.sql)")
        XCTAssertEqual(steps.filter { $0.action == "backfill" }.map(\.target), ["events_0_1_local@shard1", "events_0_1_local@shard2"])
        XCTAssertEqual(steps.filter { $0.action == "verify" }.map(\.target), ["events@shard1", "events@shard2", "events@shard1", "events@shard2"])
        XCTAssertEqual(steps.filter { $0.action == "verify" && $0.sql.first == "SYSTEM SYNC REPLICA ct.events_0_1_local" }.count, 2, "replica agreement per shard")
    }
}
