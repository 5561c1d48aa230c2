import Foundation
import MBG
import TestSupport
import XCTest

/// `mbg rehearse` against both lanes as the source, into an engine of its own:
/// the migration runs through cut-over on a sample under writers, every row
/// arrives once, the report validates against docs/rehearsal-schema.json, and
/// the source is exactly as it was.
final class RehearseTests: XCTestCase {
    static let password = ProcessInfo.processInfo.environment["MBG_TEST_PASSWORD"] ?? "mbg_test_password"
    static let user = ProcessInfo.processInfo.environment["MBG_TEST_USER"] ?? "mbg_test"

    /// Types both servers know, with a MATERIALIZED column the copy must leave out.
    static func createSource(_ ctx: LaneContext, rows: Int) throws {
        let t = qualified(ctx.database, "events_0_0")
        try ctx.transport.run(
            """
            CREATE TABLE \(t) (id String, name String, tags Array(String), score Nullable(Float64),
            kind Enum8('a' = 1, 'b' = 2), day Date, created_at DateTime, n UInt32, doubled UInt64 MATERIALIZED n * 2)
            ENGINE = MergeTree PARTITION BY toYYYYMM(created_at) ORDER BY id
            """)
        try ctx.transport.run(
            """
            INSERT INTO \(t) (id, name, tags, score, kind, day, created_at, n)
            SELECT toString(number), concat('ev\\t', toString(number % 7)), [toString(number % 3), 'it''s'],
            if(number % 5 = 0, NULL, number / 3), if(number % 2 = 0, 'a', 'b'), toDate('2024-01-01') + intDiv(number, 2000),
            toDateTime('2024-01-01 00:00:00') + number * 60, number % 1000
            FROM system.numbers LIMIT \(rows)
            """)
    }

    static let script = """
        table events v0.0 {
            id          String  key
            name        String
            tags        Array(String)
            score       Nullable(Float64)
            kind        Enum8('a' = 1, 'b' = 2)
            day         Date
            created_at  DateTime
            n           UInt32
        } order_by id partition_by "toYYYYMM(created_at)"

        table events v0.1 order_by name, id

        migrate events v0.0 -> v0.1 cutoff created_at lateness 2s
        apply events
        cutover events
        """

    /// 18.x's old MergeTree syntax, which 26.9 no longer takes: the local copy is made in the new one.
    static let oldSyntaxScript = """
        table legacy v0.0 {
            d   Date
            id  UInt64 key
            s   String
        } order_by id partition_by "toYYYYMM(d)"
        table legacy v0.1 order_by s, id
        migrate legacy v0.0 -> v0.1
        """

    /// What must not change on the source: its tables, the source's rows and
    /// their hash, and no database a rehearsal would have made.
    func snapshot(_ ctx: LaneContext) throws -> [[String?]] {
        let t = qualified(ctx.database, "events_0_0")
        return try ctx.transport.run(RehearsalSQL.tablesOf(ctx.database)).rows
            + ctx.transport.run("SELECT count(), sum(cityHash64(id, name, tags, score, kind, day, created_at, n, doubled)) FROM \(t)").rows
            + ctx.transport.run("SELECT count() FROM system.databases WHERE startsWith(name, 'mbg_rehearsal')").rows
    }

    func testRehearsesFromBothLanesReadOnly() throws {
        let local = try OwnEngine.start(.chdb, test: self)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rehearse-\(UUID().uuidString.prefix(8)).mbg")
        defer { try? FileManager.default.removeItem(at: file) }
        let schema = try JSONSchema(contentsOf: repositoryRoot().appendingPathComponent("docs/rehearsal-schema.json"))
        let rows = 120_000

        onEveryLane(timeout: 120) { ctx in
            try Self.createSource(ctx, rows: rows)
            if ctx.lane == .v18 {
                try ctx.transport.run("CREATE TABLE \(qualified(ctx.database, "legacy_0_0")) (d Date, id UInt64, s String) ENGINE = MergeTree(d, (id), 8192)")
                try ctx.transport.run("INSERT INTO \(qualified(ctx.database, "legacy_0_0")) SELECT toDate('2024-01-01') + number % 60, number, toString(number) FROM system.numbers LIMIT 10000")
            }
            try (Self.script + (ctx.lane == .v18 ? "\n" + Self.oldSyntaxScript : "")).write(to: file, atomically: true, encoding: .utf8)
            // 18.16: a user whose profile has readonly=1 (scripts/ch18). The chDB
            // front has one user and no profiles: the normal user, and the
            // readonly=1 that rehearse sends with every statement.
            let user = ctx.lane == .v18 ? Self.user + "_readonly" : Self.user
            if ctx.lane == .v18 {
                let readonly = try HTTPTransport(
                    options: ConnectionOptions(url: ctx.url, user: user, password: Self.password))
                XCTAssertThrowsError(try readonly.run("CREATE TABLE \(qualified(ctx.database, "probe")) (a UInt8) ENGINE = Memory")) {
                    XCTAssertEqual(($0 as? TransportError)?.serverCode, 164, "[18] the readonly user cannot write: \($0)")
                }
            } else {
                XCTAssertThrowsError(try ctx.transport.run("CREATE TABLE \(qualified(ctx.database, "probe")) (a UInt8) ENGINE = Memory", settings: ["readonly": "1"])) {
                    XCTAssertEqual(($0 as? TransportError)?.serverCode, 164, "[26] readonly=1 stops writes: \($0)")
                }
            }
            let before = try snapshot(ctx)
            let data = local.dir + "/data"
            let r = try runMBG(
                [
                    "rehearse", file.path, "--url", ctx.url.absoluteString, "--user", user, "--password-env", "MBG_REHEARSE_PASSWORD",
                    "--database", ctx.database, "--local", data, "--sample", "40000", "--writers", "2", "--rate", "100", "--json",
                ], environment: local.environment.merging(["MBG_REHEARSE_PASSWORD": Self.password]) { $1 }, timeout: 300)
            XCTAssertEqual(r.status, 0, "[\(ctx.name)] \(r.stderr)\n\(r.stdout)")
            XCTAssertEqual(schema.validate(jsonText: r.stdout), [], "[\(ctx.name)] \(r.stdout)")
            XCTAssertFalse(r.stdout.contains(Self.password) || r.stderr.contains(Self.password), "the password never shows")
            let report = try JSONValue.parse(r.stdout)
            let m = try XCTUnwrap(report["migrations"]?[0], "[\(ctx.name)] \(r.stdout)")
            XCTAssertEqual(report["source"]?["version"]?.string?.hasPrefix(ctx.lane == .v18 ? "18.16" : "26.9"), true)
            XCTAssertEqual(m["exact"]?["ok"], .bool(true), "[\(ctx.name)] \(m)")
            XCTAssertEqual(m["exact"]?["hashes_match"], .bool(true), "[\(ctx.name)] \(m)")
            XCTAssertEqual(m["source_size"]?["rows"]?.number, Double(rows))
            // 40,000 spread over 3 monthly partitions, each rounded up.
            let sampled = try XCTUnwrap(m["sample"]?["rows"]?.number)
            XCTAssertTrue((40_000...40_003).contains(Int(sampled)), "[\(ctx.name)] sample \(sampled)")
            XCTAssertEqual(m["sample"]?["partitions"]?.number, 3)
            let written = try XCTUnwrap(m["writers"]?["rows"]?.number)
            XCTAssertGreaterThan(written, 0, "[\(ctx.name)] writers wrote nothing")
            XCTAssertEqual(m["writers"]?["failures"]?.number, 0, "[\(ctx.name)] \(m)")
            XCTAssertEqual(m["exact"]?["expected_rows"]?.number, sampled + written)
            XCTAssertEqual(m["exact"]?["new_layout_rows"]?.number, sampled + written)
            XCTAssertGreaterThan(m["measured"]?["backfill_rows_per_second"]?.number ?? 0, 0)
            XCTAssertGreaterThan(m["estimate"]?["total_seconds"]?.number ?? 0, m["estimate"]?["fixed_seconds"]?.number ?? 0)
            let kinds = m["steps"]?.array?.compactMap { $0["kind"]?.string } ?? []
            XCTAssertTrue(kinds.contains("backfill") && kinds.contains("cutover"), "\(kinds)")
            if ctx.lane == .v18 {
                let legacy = try XCTUnwrap(report["migrations"]?[1], r.stdout)
                XCTAssertEqual(legacy["name"]?.string, "legacy")
                XCTAssertEqual(legacy["exact"]?["ok"], .bool(true), "[18] old syntax: \(legacy)")
                XCTAssertEqual(legacy["sample"]?["rows"]?.number, 10_000, "a table smaller than --sample is copied whole")
            }
            print("[rehearse \(ctx.name)] \(m["measured"] ?? .null) writers \(m["writers"] ?? .null) estimate \(m["estimate"] ?? .null)")

            XCTAssertEqual(try snapshot(ctx), before, "[\(ctx.name)] the source changed")
            // The rehearsal's database is gone from the local engine again.
            let engine = try HTTPTransport(options: ConnectionOptions(url: URL(string: "http://127.0.0.1:\(local.port)")!))
            XCTAssertEqual(try engine.run("SELECT count() FROM system.databases WHERE startsWith(name, 'mbg_rehearsal')").scalar, "0")
        }
    }

    /// The text report names every part the brief asks for; a chain (v0.1 ->
    /// v0.2 after v0.0 -> v0.1) rehearses its second step on what the first made.
    func testTextReportAndRefusals() throws {
        let local = try OwnEngine.start(.chdb, test: self)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rehearse-\(UUID().uuidString.prefix(8)).mbg")
        let chain = "table events v0.2 order_by created_at\nmigrate events v0.1 -> v0.2 cutoff created_at lateness 1s name second\nprint \"printed once\"\n"
        try (Self.script + "\n" + chain).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        onEveryLane([.v26]) { ctx in
            try Self.createSource(ctx, rows: 5_000)
            let common = ["rehearse", file.path, "--url", ctx.url.absoluteString, "--local", local.dir + "/data"]
            let args = common + ["--database", ctx.database]
            let r = try runMBG(args + ["--sample", "1000", "--writers", "1", "--rate", "50"], environment: local.environment, timeout: 300)
            XCTAssertEqual(r.status, 0, r.stderr)
            for part in ["sample: 1000 of 5000 rows", "backfill: ", "rows/s", "verification", "writers: ", "p50", "p99",
                         "exactly once: yes", "estimate for 5000 rows", "assumptions:", "CREATE MATERIALIZED VIEW"] {
                XCTAssertTrue(r.stdout.contains(part), "missing '\(part)' in:\n\(r.stdout)")
            }
            XCTAssertTrue(r.stderr.contains("backfilled"), r.stderr)
            XCTAssertEqual(r.stdout.components(separatedBy: "exactly once: yes").count - 1, 2, r.stdout)
            XCTAssertTrue(r.stdout.contains("(through events_0_1)"), r.stdout)
            XCTAssertEqual(r.stderr.components(separatedBy: "printed once").count - 1, 1, r.stderr)
            // --quiet: the report, no info lines.
            let q = try runMBG(args + ["--sample", "500", "--writers", "0", "--quiet"], environment: local.environment, timeout: 300)
            XCTAssertEqual(q.status, 0, q.stderr)
            XCTAssertTrue(q.stdout.contains("exactly once: yes"), q.stdout)
            XCTAssertFalse(q.stderr.contains("backfilled") || q.stderr.contains("rehearsal database"), q.stderr)
            // A table the server does not have is named.
            let missing = try runMBG(common + ["--database", "default"], environment: local.environment, timeout: 120)
            XCTAssertEqual(missing.status, 64, missing.stderr)
            XCTAssertTrue(missing.stderr.contains("events_0_0"), missing.stderr)
        }
    }
}

extension JSONValue {
    fileprivate var string: String? { if case .string(let s) = self { s } else { nil } }
    fileprivate var number: Double? { if case .number(let n) = self { n } else { nil } }
    fileprivate var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    fileprivate subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { a[index] } else { nil }
    }
}
