import XCTest

@testable import MBG

final class EvaluatorTests: XCTestCase {
    func interpreter(_ mode: ServerMode = .checkOnly) -> (Interpreter, CollectingOutput) {
        let out = CollectingOutput()
        return (Interpreter(options: InterpreterOptions(mode: mode), output: out), out)
    }

    func testPhysicalNames() throws {
        XCTAssertEqual(physicalName("events", Version([0, 1])), "events_0_1")
        XCTAssertEqual(physicalName("events", Version([1, 1])), "events_1_1")
        XCTAssertEqual(physicalName("events", nil), "events")
        XCTAssertEqual(splitPhysicalName("events_0_1")?.logical, "events")
        XCTAssertEqual(splitPhysicalName("events_0_1")?.version, Version([0, 1]))
        XCTAssertNil(splitPhysicalName("events_2024"))
        XCTAssertEqual(splitPhysicalName("my_events_1_10_2")?.version, Version([1, 10, 2]))
    }

    func testDerivedVersionInheritsClauses() throws {
        let (i, _) = interpreter()
        try i.evaluate(source: """
            table events v0.0 { id String key
              ts DateTime } partition_by "toYYYYMM(ts)" engine ReplacingMergeTree(ts) settings index_granularity = 1024
            table events v0.1 order_by id, ts
            """)
        let t = try XCTUnwrap(i.session.table("events", Version([0, 1])))
        XCTAssertEqual(t.columns.map(\.name), ["id", "ts"])
        XCTAssertEqual(t.engine, "ReplacingMergeTree(ts)")
        XCTAssertEqual(t.partitionBy, "toYYYYMM(ts)")
        XCTAssertEqual(t.effectiveOrderBy, ["id", "ts"])
        XCTAssertEqual(t.settings, [SettingDef(name: "index_granularity", value: "1024")])
    }

    func testDerivedFromLiveCatalog() throws {
        let live = TableDef(name: "events", columns: [ColumnDef(name: "id", type: "String")], orderBy: ["id"])
        let catalog = Catalog(
            capabilities: .modern, database: "default",
            tables: [CatalogTable(database: "default", name: "events", engine: "MergeTree", engineFull: "MergeTree", definition: live, createQuery: "")])
        let out = CollectingOutput()
        let i = Interpreter(options: InterpreterOptions(mode: .dryRun, fixedCatalog: catalog), output: out)
        try i.evaluate(source: "table events v0.1 order_by id, `id`")
        let t = try XCTUnwrap(i.session.table("events", Version([0, 1])))
        XCTAssertEqual(t.columns.map(\.name), ["id"], "columns come from the live unversioned table")
        try i.evaluate(source: "let m = migrate events -> v0.1\nprint m.from")
        XCTAssertEqual(out.lines.last, "events")
    }

    func testTableInterpolatesAsQuotedName() throws {
        let (i, out) = interpreter()
        try i.evaluate(source: "table `odd name` v0.1 { a Int8 key }\nprint \"SELECT * FROM \\(`odd name` v0.1)\"")
        XCTAssertEqual(out.lines, ["SELECT * FROM `odd name_0_1`"])
    }

    func testHostFunctions() throws {
        let (i, out) = interpreter()
        i.register("double", arity: 1) { args, _ in
            guard case .int(let n) = args[0] else { return .null }
            return .int(n * 2)
        }
        try i.evaluate(source: "print double(21)")
        XCTAssertEqual(out.lines, ["42"])
    }

    func testSessionAccumulatesAcrossEvaluations() throws {
        let (i, out) = interpreter()
        try i.evaluate(source: "table e v0.0 { a Int8 key }")
        try i.evaluate(source: "table e v0.1 order_by a")
        try i.evaluate(source: "print e")
        XCTAssertEqual(out.lines, ["e_0_1"])
    }

    func testBridgeViewBecomesTransformOnlyWhenNotAPlainCopy() throws {
        func transform(bridge select: String) throws -> String? {
            let (i, _) = interpreter()
            try i.evaluate(source: """
                table e v0.0 { id String key
                  n Int8 }
                table e v0.1 order_by id
                view mv_e_to_0_1 to e v0.1 as "\(select)"
                migrate e v0.0 -> v0.1
                """)
            return i.session.migration("e")?.transform
        }
        XCTAssertNil(try transform(bridge: #"SELECT * FROM \(e v0.0)"#))
        XCTAssertEqual(try transform(bridge: #"SELECT id, n + 1 AS n FROM \(e v0.0)"#), "SELECT id, n + 1 AS n FROM e_0_0")
    }

    func testDiagnosticRendering() {
        let file = SourceFile(name: "migrate.mbg", text: "table e v0.0 { a Int8 key }\n\nmigrate events -> 0.1\n")
        let (_, diags) = Parser.parse(file)
        XCTAssertEqual(
            diags.first?.render(),
            """
            error: expected a version after '->', found 0.1
             --> migrate.mbg:3:19
              |
            3 | migrate events -> 0.1
              |                   ^^^ versions look like v0.1
            """)
    }
}
