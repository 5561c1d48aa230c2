import Foundation
import TestSupport
import XCTest

@testable import MBG

/// `mbg plan --json` against docs/plan-schema.json, without a server.
final class PlanSchemaTests: XCTestCase {
    func schema() throws -> JSONSchema {
        try JSONSchema(contentsOf: repositoryRoot().appendingPathComponent("docs/plan-schema.json"))
    }

    /// Plans of the examples (dry-run) validate; stdout is the document alone
    /// even when the script prints (examples/events.mbg runs `status`).
    func testDryRunPlansValidate() throws {
        let schema = try schema()
        for file in ["examples/pipeline/migrate.mbg", "examples/events.mbg", "Tests/Scripts/stdlib/bluegreen.mbg"] {
            let r = try runMBG(["plan", file, "--dry-run", "--json", "--detailed-exitcode"], directory: repositoryRoot())
            XCTAssertEqual(r.status, 2, "\(file): changes pending expected\n\(r.stderr)")
            let errors = schema.validate(jsonText: r.stdout)
            XCTAssertEqual(errors, [], "\(file):\n\(r.stdout)")
            let doc = try JSONValue.parse(r.stdout)
            XCTAssertEqual(doc["schema"], .string("mbg.plan/v1"))
            XCTAssertEqual(doc["changes_pending"], .bool(true))
            guard case .array(let steps)? = doc["steps"] else { return XCTFail("no steps") }
            XCTAssertTrue(steps.contains { $0["action"] == .string("backfill") }, file)
        }
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
}
