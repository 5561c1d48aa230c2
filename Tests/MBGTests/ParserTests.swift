import XCTest

@testable import MBG

final class ParserTests: XCTestCase {
    func parse(_ text: String) -> ([Stmt], [Diagnostic]) {
        let (program, diagnostics) = Parser.parse(SourceFile(name: "t.mbg", text: text))
        return (program.statements, diagnostics)
    }

    func testTableWithEveryClause() throws {
        let (stmts, diags) = parse(
            """
            table events v0.1 {
                id String key
                ts DateTime64(3, 'UTC') default "now64()" codec "ZSTD(1)"
            } order_by id, "toDate(ts)" primary_key id partition_by "toYYYYMM(ts)"
              engine ReplacingMergeTree(ts) ttl "ts + INTERVAL 1 DAY"
              settings index_granularity = 4096, storage_policy = 'default'
              database analytics cluster main
            """)
        XCTAssertEqual(diags.count, 0, "\(diags)")
        guard case .table(let t) = stmts.first else { return XCTFail() }
        XCTAssertEqual(t.version, Version([0, 1]))
        XCTAssertEqual(t.columns?.count, 2)
        XCTAssertEqual(t.columns?[1].type, "DateTime64(3, 'UTC')")
        XCTAssertEqual(t.columns?[0].isKey, true)
        XCTAssertEqual(t.clauses.count, 8)
        if case .engine(.text(let e)) = t.clauses[3].clause { XCTAssertEqual(e, "ReplacingMergeTree(ts)") } else { XCTFail() }
    }

    func testDerivedVersion() {
        let (stmts, diags) = parse("table events v0.1 order_by id, created_at")
        XCTAssertTrue(diags.isEmpty)
        guard case .table(let t) = stmts.first else { return XCTFail() }
        XCTAssertNil(t.columns)
        guard case .orderBy(let items) = t.clauses.first?.clause else { return XCTFail() }
        XCTAssertEqual(items.count, 2)
    }

    func testMigrateOptions() {
        let (stmts, diags) = parse(
            """
            migrate events v0.0 -> v0.1
                via mv cutoff created_at lateness 5m batch 2_000_000 throttle 5_000_000 parallel 4
                transform "SELECT 1" strategy fence cutover swap
            cutover events
            """)
        XCTAssertTrue(diags.isEmpty, "\(diags)")
        XCTAssertEqual(stmts.count, 2)
        guard case .migrate(let m) = stmts[0] else { return XCTFail() }
        XCTAssertEqual(m.options.count, 8)
        XCTAssertTrue(m.options.contains { if case .parallel(let e) = $0.option, case .integer(4) = e.kind { true } else { false } }, "\(m.options)")
        guard case .action(let a) = stmts[1] else { return XCTFail("'cutover events' is the action, not an option") }
        XCTAssertEqual(a.kind, .cutover)
    }

    func testActions() {
        let (stmts, diags) = parse("plan\napply events cutover\nfinish events keep\nstatus")
        XCTAssertTrue(diags.isEmpty, "\(diags)")
        XCTAssertEqual(stmts.count, 4)
        guard case .action(let a) = stmts[1] else { return XCTFail() }
        XCTAssertEqual(a.target?.text, "events")
        XCTAssertEqual(a.flags.map(\.text), ["cutover"])
    }

    func testRecoveryReportsSeveralErrors() {
        let (stmts, diags) = parse("let = 1\nprint 2\nlet x = \nprint 3\ntable t v0.0 {")
        XCTAssertEqual(diags.count, 3, "\(diags.map(\.message))")
        XCTAssertEqual(stmts.count, 2)
    }

    func testCompleteness() {
        XCTAssertEqual(Parser.completeness(of: "table t v0.0 {"), .incomplete)
        XCTAssertEqual(Parser.completeness(of: "table t v0.0 order_by a,"), .incomplete)
        XCTAssertEqual(Parser.completeness(of: "migrate e v0.0 ->"), .incomplete)
        XCTAssertEqual(Parser.completeness(of: "print \"abc"), .incomplete)
        XCTAssertEqual(Parser.completeness(of: "let sql = \"\"\"\nSELECT"), .incomplete)
        XCTAssertEqual(Parser.completeness(of: "print 1"), .complete)
        XCTAssertEqual(Parser.completeness(of: "print )"), .invalid)
        XCTAssertEqual(Parser.completeness(of: "migrate e -> 0.1"), .invalid)
    }

    func testRanges() {
        let file = SourceFile(name: "t", text: "print  foo + 1")
        let (program, _) = Parser.parse(file)
        guard case .printStmt(let values, let range) = program.statements[0] else { return XCTFail() }
        XCTAssertEqual(file.slice(values[0].range), "foo + 1")
        XCTAssertEqual(file.slice(range), "print  foo + 1")
    }

    func testTableRefInInterpolation() {
        let (stmts, diags) = parse(#"view mv to events v0.1 as "SELECT * FROM \(events v0.0)""#)
        XCTAssertTrue(diags.isEmpty)
        guard case .view(let v) = stmts[0], case .string(let segs) = v.select.kind else { return XCTFail() }
        guard case .expr(let e) = segs[1], case .tableRef(let ref) = e.kind else { return XCTFail() }
        XCTAssertEqual(ref.version, Version([0, 0]))
    }
}
