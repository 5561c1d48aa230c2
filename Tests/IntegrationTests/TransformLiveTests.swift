import Foundation
import TestSupport
import XCTest

@testable import MBG

/// Migrations through a transform (rename, retype) run by the `mbg` binary on
/// a live server while writers insert uniquely numbered rows, first into the
/// old version, after cut-over into the new one: afterwards every row is in
/// the new version once, in its new shape. A transform with swap cut-over is
/// refused before anything is created.
final class TransformLiveTests: XCTestCase {
    static let rows = 100_000

    static let oldTable = """
        table ev v0.0 {
            id UInt64 key
            ts DateTime
            payload String
        } order_by id partition_by "toYYYYMM(ts)"

        """

    func seed(_ lane: LaneContext) throws { try Self.seed(lane, rows: Self.rows) }

    /// `ev_0_0` as `oldTable` declares it, `rows` rows over about a year.
    static func seed(_ lane: LaneContext, rows: Int) throws {
        let t = qualified(lane.database, "ev_0_0")
        try lane.transport.run("CREATE TABLE \(t) (id UInt64, ts DateTime, payload String) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
        try lane.transport.run("INSERT INTO \(t) SELECT number, toDateTime('2024-01-01 00:00:00') + intDiv(number * 31536000, \(rows)), toString(number) FROM numbers(\(rows))")
    }

    /// stdlib `transform`: `rename(ev, "v0.1", "payload", "body")`.
    func testStdlibRenameUnderWriters() throws {
        try underWriters(
            declarations: Self.oldTable + """
                import "transform"
                let m = rename(ev, "v0.1", "payload", "body")

                """,
            newColumns: "(id, ts, body)", check: "body")
    }

    /// The `transform` clause of `migrate`: payload String -> UInt64 (OrZero: the bridge probe inserts an empty string).
    func testMigrateTransformRetypeUnderWriters() throws {
        try underWriters(
            declarations: Self.oldTable + """
                table ev v0.1 {
                    id UInt64 key
                    ts DateTime
                    payload UInt64
                } order_by id partition_by "toYYYYMM(ts)"
                migrate ev v0.0 -> v0.1 transform "SELECT id, ts, toUInt64OrZero(payload) AS payload FROM \\(ev v0.0)"

                """,
            newColumns: "(id, ts, payload)", check: "payload")
    }

    /// Writers insert `payload = toString(id)` into v0.0 and `id` into v0.1's
    /// `column` (String or UInt64): in the end `toString(column) = toString(id)`
    /// for every row, and every id is there once.
    func underWriters(declarations: String, newColumns: String, check column: String) throws {
        onEveryLane(timeout: 240) { lane in
            try seed(lane)
            let base = ["--url", lane.url.absoluteString, "--database", lane.database, "--yes"]
            func run(_ action: String) throws {
                let r = try runMBG(["run", try scriptFile(declarations + action + "\n")] + base, timeout: 180)
                XCTAssertEqual(r.status, 0, "[\(lane.name)] \(action): \(r.stderr)")
            }
            let newTable = qualified(lane.database, "ev_0_1")
            let writers = Writers(
                transport: { try HTTPTransport(options: lane.transport.options) }, database: lane.database, table: "ev_0_0",
                threads: 2, label: lane.name,
                batch: { w, seq in (0..<10).map { String(LiveMigrationTests.writerBase + w * 10_000_000 + seq * 10 + $0) } },
                insert: { table, list in
                    table == newTable
                        ? "INSERT INTO \(table) \(newColumns) SELECT arrayJoin([\(list)]) AS id, now(), id"
                        : "INSERT INTO \(table) (id, ts, payload) SELECT arrayJoin([\(list)]) AS id, now(), toString(id)"
                })
            writers.start()
            Thread.sleep(forTimeInterval: 1)
            try run("apply ev")
            Thread.sleep(forTimeInterval: 0.5)
            try run("cutover ev")
            writers.retarget("ev_0_1")
            Thread.sleep(forTimeInterval: 1)
            try run("finish ev")
            Thread.sleep(forTimeInterval: 0.5)
            writers.stop()

            let c = try lane.count("ev_0_1", writers: writers)
            let wrong = try lane.transport.run("SELECT countIf(toString(\(quoteIdentifier(column))) != toString(id)) FROM \(newTable)").scalar
            print("[\(lane.name)] transform (\(column)): seed \(c.seed)/\(Self.rows), writer rows \(c.writerUnique)/\(writers.acked), lost \(c.lost), duplicated \(c.duplicated), wrong \(column) \(wrong ?? "?"), failed requests \(writers.failures)")
            XCTAssertEqual(c.seed, Self.rows)
            XCTAssertEqual(c.seedDuplicated, 0)
            XCTAssertEqual(c.lost, 0)
            XCTAssertEqual(c.duplicated, 0)
            XCTAssertEqual(c.writerUnique, writers.acked)
            XCTAssertGreaterThan(writers.acked, 0)
            XCTAssertEqual(writers.unresolved, 0)
            XCTAssertEqual(wrong, "0", "[\(lane.name)] rows not in the new shape")
            let left = try lane.transport.run("SELECT count() FROM system.tables WHERE database = \(quoteString(lane.database)) AND name IN ('ev_0_0', 'mv_ev_to_0_1')").scalar
            XCTAssertEqual(left, "0", "[\(lane.name)] finish drops the old version and the bridge")
        }
    }

    /// Swap with a transform: `plan` shows the cut-over blocked with the
    /// reason, `apply` refuses before creating anything (exit 3).
    func testSwapWithTransformIsRefused() throws {
        onEveryLane(timeout: 120) { lane in
            try seed(lane)
            let declarations = Self.oldTable + """
                table ev v0.1 order_by ts, id
                migrate ev v0.0 -> v0.1 transform "SELECT id, ts, upper(payload) AS payload FROM \\(ev v0.0)" cutover swap

                """
            let base = ["--url", lane.url.absoluteString, "--database", lane.database, "--yes"]
            let plan = try runMBG(["plan", try scriptFile(declarations)] + base)
            XCTAssertTrue(plan.stdout.contains("swap is refused with a transform"), "[\(lane.name)] \(plan.stdout)\n\(plan.stderr)")
            let r = try runMBG(["run", try scriptFile(declarations + "apply ev\n")] + base)
            XCTAssertEqual(r.status, 3, "[\(lane.name)] \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("swap is refused with a transform") && r.stderr.contains("versioned"), "[\(lane.name)] \(r.stderr)")
            let made = try lane.transport.run("SELECT count() FROM system.tables WHERE database = \(quoteString(lane.database)) AND name IN ('ev_0_1', 'mv_ev_to_0_1')").scalar
            XCTAssertEqual(made, "0", "[\(lane.name)] nothing created")
            print("[\(lane.name)] \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

extension XCTestCase {
    /// A temporary script file, removed after the test.
    func scriptFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "mbg-test-\(UUID().uuidString).mbg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
