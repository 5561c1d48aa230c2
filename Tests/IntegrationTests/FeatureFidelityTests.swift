import Foundation
import TestSupport
import XCTest

@testable import MBG

/// One test per table feature of issue 15, live: `t_0_0` is created by SQL
/// with the feature and a few hundred generated rows, the real `mbg` binary
/// runs `table t v0.1 order_by …`, `migrate t v0.0 -> v0.1`, `apply` and
/// `cutover t`, and then the rows are exact (count and a checksum over the
/// stored columns), `SHOW CREATE TABLE` of the new version equals the old one
/// except the name and the ORDER BY, and the feature works on the new table.
/// A feature 18.16 lacks runs on 26.9 only, and its test says so. The
/// migrations run side by side before the tests, which check them one by one.
final class FeatureFidelityTests: XCTestCase {
    static let rows = 300

    /// A feature's old table, its rows and the new sorting key.
    struct Table {
        /// What goes inside `CREATE TABLE t_0_0 ( … )`.
        var columns: String
        var engine = "MergeTree"
        var orderBy: [String]
        /// SQL after ORDER BY: SAMPLE BY, TTL, SETTINGS, COMMENT.
        var tail = ""
        /// `(a, b) SELECT x, y` over `numbers(rows)`: `number` is the row.
        var insert: String
        /// The new version's ORDER BY: column names (as mbg and ClickHouse write them).
        var newOrderBy: [String]
    }

    // MARK: - clauses

    static let sampleBy = Feature("testSampleBy", Table(
        columns: "k UInt8, u UInt64, id UInt64", orderBy: ["k", "u"], tail: "SAMPLE BY u",
        insert: "(k, u, id) SELECT number % 7, cityHash64(number), number", newOrderBy: ["u", "k"])
    )
    func testSampleBy() {
        keeps(Self.sampleBy) { m in
            let sampled = try m.same("SELECT count() FROM {t} SAMPLE 1 / 2")
            XCTAssertTrue((1..<Self.rows).contains(Int(sampled ?? "") ?? 0), "\(m.tag) SAMPLE 1 / 2 read \(sampled ?? "nil") rows")
        }
    }

    /// 26.9 only: 18.16 has no skip indexes (`INDEX` is a syntax error there).
    static let skipIndex = Feature("testSkipIndex", on: [.v26], Table(
        columns: "id UInt64, host String, INDEX by_host host TYPE bloom_filter(0.01) GRANULARITY 2, INDEX by_id id TYPE minmax GRANULARITY 1",
        orderBy: ["id"], insert: "(id, host) SELECT number, concat('h-', toString(number % 13))", newOrderBy: ["host", "id"])
    )
    func testSkipIndex() {
        keeps(Self.skipIndex) { m in
            XCTAssertEqual(
                try m.rows("SELECT name, type_full, expr, granularity FROM system.data_skipping_indices WHERE database = \(quoteString(m.ctx.database)) AND table = 't_0_1' ORDER BY name"),
                [["by_host", "bloom_filter(0.01)", "host", "2"], ["by_id", "minmax", "id", "1"]], m.tag)
            // The server uses it: with the index forced, the query still runs.
            XCTAssertEqual(try m.same("SELECT count() FROM {t} WHERE host = 'h-3' SETTINGS force_data_skipping_indices = 'by_host'"), "23", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no projections.
    static let projection = Feature("testProjection", on: [.v26], Table(
        columns: "id UInt64, host String, PROJECTION per_host (SELECT host, count() GROUP BY host)",
        orderBy: ["id"], insert: "(id, host) SELECT number, concat('h-', toString(number % 13))", newOrderBy: ["host", "id"])
    )
    func testProjection() {
        keeps(Self.projection) { m in
            // Every part of the new table, migrated rows too, carries the projection.
            let parts = try m.value("SELECT count() FROM system.parts WHERE database = \(quoteString(m.ctx.database)) AND table = 't_0_1' AND active")
            XCTAssertNotEqual(parts, "0", m.tag)
            XCTAssertEqual(
                try m.value("SELECT count() FROM system.projection_parts WHERE database = \(quoteString(m.ctx.database)) AND table = 't_0_1' AND name = 'per_host' AND active"),
                parts, m.tag)
            _ = try m.same("SELECT groupArray((host, c)) FROM (SELECT host, count() AS c FROM {t} GROUP BY host ORDER BY host) SETTINGS force_optimize_projection = 1")
        }
    }

    /// 26.9 only: 18.16 has no table COMMENT.
    static let tableComment = Feature("testTableComment", on: [.v26], Table(
        columns: "id UInt64, host String", orderBy: ["id"], tail: "COMMENT 'visits, one a row'",
        insert: "(id, host) SELECT number, toString(number)", newOrderBy: ["host", "id"])
    )
    func testTableComment() {
        keeps(Self.tableComment) { m in
            XCTAssertEqual(try m.value("SELECT comment FROM system.tables WHERE database = \(quoteString(m.ctx.database)) AND name = 't_0_1'"), "visits, one a row", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no TTL.
    static let tableTTL = Feature("testTableTTL", on: [.v26], Table(
        columns: "id UInt64, at DateTime", orderBy: ["id"], tail: "TTL at + INTERVAL 1 DAY",
        insert: "(id, at) SELECT number, toDateTime('2030-01-01 00:00:00') + number * 60", newOrderBy: ["at", "id"])
    )
    func testTableTTL() {
        keeps(Self.tableTTL) { m in
            // An expired row is removed by the next merge; the migrated ones are not expired.
            try m.run("INSERT INTO \(m.new) (id, at) VALUES (1000, '2000-01-01 00:00:00')")
            try m.run("OPTIMIZE TABLE \(m.new) FINAL")
            XCTAssertEqual(try m.value("SELECT count(), countIf(id = 1000) FROM \(m.new)"), "\(Self.rows)\t0", m.tag)
        }
    }

    static let settings = Feature("testSettings", Table(
        columns: "id UInt64, host String", orderBy: ["id"], tail: "SETTINGS index_granularity = 64",
        insert: "(id, host) SELECT number, toString(number)", newOrderBy: ["host", "id"])
    )
    func testSettings() {
        keeps(Self.settings) { m in
            // 64 rows a mark: 300 rows take 5 marks and the final one, in old and new alike.
            let marks = try m.same("SELECT sum(marks) FROM system.parts WHERE database = \(quoteString(m.ctx.database)) AND table = '{name}' AND active")
            XCTAssertGreaterThanOrEqual(Int(marks ?? "") ?? 0, 5, m.tag)
        }
    }

    // MARK: - engine parameters

    static let replacingMergeTreeVersion = Feature("testReplacingMergeTreeVersion", Table(
        columns: "id UInt64, name String, ver UInt32, score UInt32", engine: "ReplacingMergeTree(ver)", orderBy: ["id"],
        insert: "(id, name, ver, score) SELECT number, concat('n-', toString(number % 17)), 1 + number % 3, number", newOrderBy: ["name", "id"])
    )
    func testReplacingMergeTreeVersion() {
        keeps(Self.replacingMergeTreeVersion) { m in
            // The row with the higher `ver` wins under FINAL, the lower one loses.
            try m.run("INSERT INTO \(m.new) (id, name, ver, score) VALUES (5, 'n-5', 99, 12345), (6, 'n-6', 0, 777)")
            XCTAssertEqual(try m.rows("SELECT id, score FROM \(m.new) FINAL WHERE id IN (5, 6) ORDER BY id"), [["5", "12345"], ["6", "6"]], m.tag)
            XCTAssertEqual(try m.value("SELECT count() FROM \(m.new) FINAL"), String(Self.rows), m.tag)
        }
    }

    static let versionedCollapsingMergeTree = Feature("testVersionedCollapsingMergeTree", Table(
        columns: "account UInt64, amount Int64, sign Int8, version UInt32", engine: "VersionedCollapsingMergeTree(sign, version)",
        orderBy: ["account"], insert: "(account, amount, sign, version) SELECT number, number * 10, 1, 1", newOrderBy: ["amount", "account"])
    )
    func testVersionedCollapsingMergeTree() {
        keeps(Self.versionedCollapsingMergeTree) { m in
            // A cancel row of the same version collapses its state; one of another version does not.
            try m.run("INSERT INTO \(m.new) (account, amount, sign, version) VALUES (7, 70, -1, 1), (8, 80, -1, 2)")
            XCTAssertEqual(try m.rows("SELECT account, count() FROM \(m.new) FINAL WHERE account IN (7, 8) GROUP BY account ORDER BY account"), [["8", "2"]], m.tag)
        }
    }

    // MARK: - columns

    static let columnComment = Feature("testColumnComment", Table(
        columns: "id UInt64 COMMENT 'the row', host String COMMENT 'where it came from'", orderBy: ["id"],
        insert: "(id, host) SELECT number, toString(number)", newOrderBy: ["host", "id"])
    )
    func testColumnComment() {
        keeps(Self.columnComment) { m in
            XCTAssertEqual(
                try m.same("SELECT groupArray((name, comment)) FROM (SELECT name, comment FROM system.columns WHERE database = \(quoteString(m.ctx.database)) AND table = '{name}')"),
                "[('id','the row'),('host','where it came from')]", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no CODEC.
    static let codec = Feature("testCodec", on: [.v26], Table(
        columns: "id UInt64 CODEC(Delta, ZSTD(1)), at DateTime CODEC(DoubleDelta, LZ4), host String CODEC(ZSTD(3))", orderBy: ["id"],
        insert: "(id, at, host) SELECT number, toDateTime('2024-01-01 00:00:00') + number, toString(number)", newOrderBy: ["host", "id"])
    )
    func testCodec() {
        keeps(Self.codec) { m in
            XCTAssertEqual(
                try m.same("SELECT groupArray(compression_codec) FROM (SELECT compression_codec FROM system.columns WHERE database = \(quoteString(m.ctx.database)) AND table = '{name}')"),
                "['CODEC(Delta(8), ZSTD(1))','CODEC(DoubleDelta, LZ4)','CODEC(ZSTD(3))']", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no TTL.
    static let columnTTL = Feature("testColumnTTL", on: [.v26], Table(
        columns: "id UInt64, at DateTime, note String DEFAULT 'x' TTL at + INTERVAL 1 DAY", orderBy: ["id"],
        insert: "(id, at, note) SELECT number, toDateTime('2030-01-01 00:00:00') + number * 60, 'kept'", newOrderBy: ["at", "id"])
    )
    func testColumnTTL() {
        keeps(Self.columnTTL) { m in
            // An expired value goes back to its default at the next merge; the migrated ones are not expired.
            try m.run("INSERT INTO \(m.new) (id, at, note) VALUES (1000, '2000-01-01 00:00:00', 'kept')")
            try m.run("OPTIMIZE TABLE \(m.new) FINAL")
            XCTAssertEqual(try m.value("SELECT countIf(note = 'kept'), anyIf(note, id = 1000) FROM \(m.new)"), "\(Self.rows)\tx", m.tag)
        }
    }

    static let defaultColumn = Feature("testDefault", Table(
        columns: "id UInt64, host String, note String DEFAULT concat('n-', toString(id))", orderBy: ["id"],
        insert: "(id, host, note) SELECT number, toString(number % 7), if(number % 3 = 0, 'given', concat('n-', toString(number)))",
        newOrderBy: ["host", "id"])
    )
    func testDefault() {
        keeps(Self.defaultColumn) { m in
            XCTAssertEqual(try m.same("SELECT countIf(note = 'given') FROM {t}"), "100", m.tag)
            try m.run("INSERT INTO \(m.new) (id, host) VALUES (1000, 'h')")
            XCTAssertEqual(try m.value("SELECT note FROM \(m.new) WHERE id = 1000"), "n-1000", m.tag)
        }
    }

    static let materialized = Feature("testMaterialized", Table(
        columns: "id UInt64, at DateTime, day Date MATERIALIZED toDate(at)", orderBy: ["id"],
        insert: "(id, at) SELECT number, toDateTime('2024-01-01 00:00:00') + number * 3600", newOrderBy: ["at", "id"])
    )
    func testMaterialized() {
        keeps(Self.materialized) { m in
            XCTAssertEqual(try m.value("SELECT countIf(day != toDate(at)), uniqExact(day) FROM \(m.new)"), "0\t13", m.tag)
            try m.run("INSERT INTO \(m.new) (id, at) VALUES (1000, '2031-05-06 07:08:09')")
            XCTAssertEqual(try m.value("SELECT day FROM \(m.new) WHERE id = 1000"), "2031-05-06", m.tag)
        }
    }

    static let alias = Feature("testAlias", Table(
        columns: "id UInt64, host String, host_len UInt64 ALIAS length(host)", orderBy: ["id"],
        insert: "(id, host) SELECT number, substring('hhhhhhhhh', 1, number % 10)", newOrderBy: ["host", "id"])
    )
    func testAlias() {
        keeps(Self.alias) { m in
            XCTAssertEqual(try m.same("SELECT sum(host_len), sum(length(host)) FROM {t}"), "1350\t1350", m.tag)
            XCTAssertEqual(try m.value("SELECT default_kind FROM system.columns WHERE database = \(quoteString(m.ctx.database)) AND table = 't_0_1' AND name = 'host_len'"), "ALIAS", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no EPHEMERAL.
    static let ephemeral = Feature("testEphemeral", on: [.v26], Table(
        columns: "id UInt64, raw String EPHEMERAL, seed UInt8 EPHEMERAL 7, raw_len UInt64 DEFAULT length(raw) + seed", orderBy: ["id"],
        insert: "(id, raw) SELECT number, substring('xxxxxxxxx', 1, number % 10)", newOrderBy: ["raw_len", "id"])
    )
    func testEphemeral() {
        keeps(Self.ephemeral) { m in
            XCTAssertEqual(try m.same("SELECT sum(raw_len) FROM {t}"), String(1350 + 7 * Self.rows), m.tag)
            // The new table still takes the ephemeral values and computes from them.
            try m.run("INSERT INTO \(m.new) (id, raw) VALUES (1000, 'abcd')")
            try m.run("INSERT INTO \(m.new) (id, raw, seed) VALUES (1001, 'ab', 1)")
            XCTAssertEqual(try m.rows("SELECT raw_len FROM \(m.new) WHERE id >= 1000 ORDER BY id"), [["11"], ["3"]], m.tag)
        }
    }

    static let nestedAndDottedColumns = Feature("testNestedAndDottedColumns", Table(
        columns: "id UInt64, k UInt8, meta Nested(key String, value String), `props.name` Array(String)", orderBy: ["id"],
        insert: "(id, k, `meta.key`, `meta.value`, `props.name`) SELECT number, number % 7, ['a', 'b'], [toString(number), 'x'], arrayMap(i -> toString(i), range(number % 4))",
        newOrderBy: ["k", "id"])
    )
    func testNestedAndDottedColumns() {
        keeps(Self.nestedAndDottedColumns) { m in
            XCTAssertEqual(try m.same("SELECT count(), countIf(meta.key = 'a') FROM {t} ARRAY JOIN meta"), "600\t300", m.tag)
            XCTAssertEqual(try m.same("SELECT sum(length(`props.name`)) FROM {t}"), "450", m.tag)
            // Still one Nested structure: its arrays must have equal lengths.
            XCTAssertThrowsError(try m.run("INSERT INTO \(m.new) (id, `meta.key`, `meta.value`) VALUES (1000, ['a', 'b'], ['only one'])"), m.tag)
        }
    }

    // MARK: - types

    static let lowCardinality = Feature("testLowCardinality", Table(
        columns: "id UInt64, country LowCardinality(FixedString(2)), browser LowCardinality(String)", orderBy: ["id"],
        insert: "(id, country, browser) SELECT number, ['DE', 'FR', 'US'][number % 3 + 1], concat('b-', toString(number % 5))",
        newOrderBy: ["browser", "id"])
    )
    func testLowCardinality() {
        keeps(Self.lowCardinality) { m in
            XCTAssertEqual(try m.value("SELECT toTypeName(country), toTypeName(browser) FROM \(m.new) LIMIT 1"), "LowCardinality(FixedString(2))\tLowCardinality(String)", m.tag)
            XCTAssertEqual(try m.same("SELECT uniqExact(country), uniqExact(browser) FROM {t}"), "3\t5", m.tag)
        }
    }

    static let nullable = Feature("testNullable", Table(
        columns: "id UInt64, k UInt8, age Nullable(UInt8), nick Nullable(String), scores Array(Nullable(Int32))", orderBy: ["id"],
        insert: "(id, k, age, nick, scores) SELECT number, number % 7, if(number % 4 = 0, NULL, number % 90), if(number % 5 = 0, NULL, toString(number)), [if(number % 2 = 0, NULL, toInt32(number)), 1]",
        newOrderBy: ["k", "id"])
    )
    func testNullable() {
        keeps(Self.nullable) { m in
            // NULL stays NULL (not 0 or ''), in arrays too.
            XCTAssertEqual(try m.same("SELECT countIf(isNull(age)), countIf(isNull(nick)), countIf(isNull(scores[1])) FROM {t}"), "75\t60\t150", m.tag)
        }
    }

    static let enumType = Feature("testEnum", Table(
        columns: "id UInt64, kind Enum8('pageview' = 1, 'custom' = 2), level Enum16('low' = -1, 'high' = 1000)", orderBy: ["id"],
        insert: "(id, kind, level) SELECT number, ['pageview', 'custom'][number % 2 + 1], ['low', 'high'][number % 3 % 2 + 1]",
        newOrderBy: ["kind", "id"])
    )
    func testEnum() {
        keeps(Self.enumType) { m in
            XCTAssertEqual(try m.same("SELECT countIf(kind = 'custom'), sum(toInt16(level)) FROM {t}"), "150\t99800", m.tag)
            // A value outside the Enum is refused, as by the old table.
            XCTAssertThrowsError(try m.run("INSERT INTO \(m.new) (id, kind, level) VALUES (1000, 'other', 'low')"), m.tag)
        }
    }

    static let decimal = Feature("testDecimal", Table(
        columns: "id UInt64, amount Decimal(18, 4), rate Decimal32(2)", orderBy: ["id"],
        insert: "(id, amount, rate) SELECT number, toDecimal64(number, 4) / 7, toDecimal32(number % 100, 2) / 3", newOrderBy: ["amount", "id"])
    )
    func testDecimal() {
        keeps(Self.decimal) { m in
            XCTAssertEqual(try m.value("SELECT toTypeName(amount), toTypeName(rate) FROM \(m.new) LIMIT 1"), "Decimal(18, 4)\tDecimal(9, 2)", m.tag)
            _ = try m.same("SELECT toString(sum(amount)), toString(sum(rate)) FROM {t}")
        }
    }

    /// 18.16 has no DateTime64: there the test runs with DateTime('Europe/Berlin'),
    /// a time zone on the type 18.16 has.
    static let dateTime64WithTimeZone = Feature(
        "testDateTime64WithTimeZone",
        Table(
            columns: "id UInt64, at DateTime64(3, 'Europe/Berlin')", orderBy: ["id"],
            insert: "(id, at) SELECT number, toDateTime64(toDateTime('2024-03-31 00:30:00', 'UTC') + number * 60, 3, 'Europe/Berlin') + toIntervalMillisecond(number)",
            newOrderBy: ["at", "id"]),
        on18: Table(
            columns: "id UInt64, at DateTime('Europe/Berlin')", orderBy: ["id"],
            insert: "(id, at) SELECT number, toDateTime(toDateTime('2024-03-31 00:30:00', 'UTC') + number * 60, 'Europe/Berlin')",
            newOrderBy: ["at", "id"]))
    func testDateTime64WithTimeZone() {
        keeps(Self.dateTime64WithTimeZone) { m in
            let type = m.ctx.lane.isModern ? "DateTime64(3, 'Europe/Berlin')" : "DateTime('Europe/Berlin')"
            XCTAssertEqual(try m.value("SELECT toTypeName(at) FROM \(m.new) LIMIT 1"), type, m.tag)
            // Times across the switch to summer time read the same, milliseconds included.
            let span = try m.same("SELECT toString(min(at)), toString(max(at)) FROM {t}")
            XCTAssertEqual(span, m.ctx.lane.isModern ? "2024-03-31 01:30:00.000\t2024-03-31 07:29:00.299" : "2024-03-31 01:30:00\t2024-03-31 07:29:00", m.tag)
        }
    }

    /// 26.9 only: 18.16 has no Map.
    static let map = Feature("testMap", on: [.v26], Table(
        columns: "id UInt64, k UInt8, props Map(String, UInt64)", orderBy: ["id"],
        insert: "(id, k, props) SELECT number, number % 7, if(number % 2 = 0, map('a', number), map('a', number, 'b', 1))", newOrderBy: ["k", "id"])
    )
    func testMap() {
        keeps(Self.map) { m in
            XCTAssertEqual(try m.same("SELECT sum(props['a']), countIf(mapContains(props, 'b')) FROM {t}"), "44850\t150", m.tag)
        }
    }

    /// 18.16 parses named Tuple elements but cannot read them by name: there
    /// the elements are read by position only.
    static let tuple = Feature("testTuple", Table(
        columns: "id UInt64, k UInt8, pair Tuple(a String, b UInt8), point Tuple(Float64, Float64)", orderBy: ["id"],
        insert: "(id, k, pair, point) SELECT number, number % 7, (toString(number % 9), number % 200), (number / 2, -1.5)", newOrderBy: ["k", "id"])
    )
    func testTuple() {
        keeps(Self.tuple) { m in
            XCTAssertEqual(try m.same("SELECT sum(tupleElement(pair, 2)), sum(tupleElement(point, 1)) FROM {t}"), "24850\t22425", m.tag)
            if m.ctx.lane.isModern {
                XCTAssertEqual(try m.same("SELECT countIf(pair.a = '3') FROM {t}"), "33", m.tag)
            }
        }
    }

    static let arrays = Feature("testArrays", Table(
        columns: "id UInt64, k UInt8, tags Array(String), matrix Array(Array(UInt32))", orderBy: ["id"],
        insert: "(id, k, tags, matrix) SELECT number, number % 7, arrayMap(i -> concat('t', toString(i)), range(number % 5)), [range(number % 3), [7]]",
        newOrderBy: ["k", "id"])
    )
    func testArrays() {
        keeps(Self.arrays) { m in
            XCTAssertEqual(try m.same("SELECT sum(length(tags)), countIf(has(tags, 't3')), sum(arraySum(arrayMap(row -> arraySum(row), matrix))) FROM {t}"), "600\t60\t2200", m.tag)
        }
    }

    // MARK: - the shared steps

    /// One test's feature: its table, and the lanes that have it.
    struct Feature: Sendable {
        /// The test method checking it.
        let name: String
        let lanes: [Lane]
        let table: Table
        /// The table on 18.16 when it differs.
        let on18: Table?

        init(_ name: String, on lanes: [Lane] = Lane.allCases, _ table: Table, on18: Table? = nil) {
            self.name = name
            self.lanes = lanes
            self.table = table
            self.on18 = on18
        }
    }

    static let all = [
        sampleBy, skipIndex, projection, tableComment, tableTTL, settings, replacingMergeTreeVersion,
        versionedCollapsingMergeTree, columnComment, codec, columnTTL, defaultColumn, materialized, alias,
        ephemeral, nestedAndDottedColumns, lowCardinality, nullable, enumType, decimal, dateTime64WithTimeZone,
        map, tuple, arrays,
    ]

    /// The migrations of the selected tests start together before the first
    /// test, four at a time: one is mostly waiting on a server, and a test only
    /// checks the outcome of its own.
    static let runs = Runs(slots: 4)

    override class func setUp() {
        super.setUp()
        for feature in all where isSelected(feature.name) { runs.start(feature) }
    }

    /// Whether this run includes the test: `swift test --filter` hands the
    /// selected tests to the test binary as `Module.Class/method,…`; without
    /// such a list every test runs.
    static func isSelected(_ method: String) -> Bool {
        let mine = CommandLine.arguments.dropFirst().flatMap { $0.split(separator: ",") }.filter { $0.contains("FeatureFidelityTests/") }
        return mine.isEmpty || mine.contains { $0.hasSuffix("/" + method) }
    }

    override class func tearDown() {
        runs.dropUnchecked()
        super.tearDown()
    }

    /// The migrations started for the class, by feature and lane.
    final class Runs: @unchecked Sendable {
        typealias Run = Background<(LaneContext, ProcessOutcome)>
        private let lock = NSLock()
        private let slots: DispatchSemaphore
        private var started: [String: Run] = [:]
        private var checked: Set<String> = []

        init(slots: Int) { self.slots = DispatchSemaphore(value: slots) }

        /// Starts the feature's migrations not started yet.
        func start(_ feature: Feature) {
            lock.lock()
            defer { lock.unlock() }
            for lane in feature.lanes where started[feature.name + lane.name] == nil {
                let table = lane == .v18 ? feature.on18 ?? feature.table : feature.table
                started[feature.name + lane.name] = Run { [slots] in
                    slots.wait()
                    defer { slots.signal() }
                    return try FeatureFidelityTests.migrate(lane, table)
                }
            }
        }

        /// The lane's migration of the feature, started now if it was not; its database is the caller's to drop.
        func take(_ feature: Feature, _ lane: Lane) -> Run {
            start(feature)
            lock.lock()
            defer { lock.unlock() }
            checked.insert(feature.name + lane.name)
            return started[feature.name + lane.name]!
        }

        /// Drops the databases of migrations no test took.
        func dropUnchecked() {
            lock.lock()
            let left = started.filter { !checked.contains($0.key) }.map(\.value)
            lock.unlock()
            for run in left {
                if case .success(let (ctx, _))? = run.wait(seconds: 300) { try? ctx.drop() }
            }
        }
    }

    /// The new table after the migration, for a feature's own checks.
    struct Migrated {
        let ctx: LaneContext
        /// Qualified names of the old and the new version.
        let old: String, new: String
        var tag: String { "[\(ctx.name)]" }

        func rows(_ sql: String) throws -> [[String?]] { try ctx.transport.run(sql).rows }
        func value(_ sql: String) throws -> String? {
            try rows(sql).first.map { $0.map { $0 ?? "\\N" }.joined(separator: "\t") }
        }
        func run(_ sql: String) throws { try ctx.transport.run(sql) }
        /// The answer of `sql` on the new table (`{t}` is the qualified table,
        /// `{name}` the bare one), asserted equal to the old table's.
        @discardableResult
        func same(_ sql: String, file: StaticString = #filePath, line: UInt = #line) throws -> String? {
            let onNew = try value(sql.replacingOccurrences(of: "{t}", with: new).replacingOccurrences(of: "{name}", with: "t_0_1"))
            let onOld = try value(sql.replacingOccurrences(of: "{t}", with: old).replacingOccurrences(of: "{name}", with: "t_0_0"))
            XCTAssertEqual(onNew, onOld, "\(tag) \(sql): the new table answers differently", file: file, line: line)
            return onNew
        }
    }

    /// Waits for the feature's migration on each of its lanes, then checks
    /// rows, definition and `check` there, and drops the lane's database.
    func keeps(
        _ feature: Feature, function: String = #function, file: StaticString = #filePath, line: UInt = #line,
        check: (Migrated) throws -> Void
    ) {
        XCTAssertEqual(feature.name + "()", function, "the feature names another test", file: file, line: line)
        XCTAssertTrue(Self.all.contains { $0.name == feature.name }, "\(feature.name) is missing from `all`", file: file, line: line)
        for lane in feature.lanes {
            guard let outcome = Self.runs.take(feature, lane).wait(seconds: 300) else {
                XCTFail("[\(lane.name)] the migration did not end within 300 s", file: file, line: line)
                continue
            }
            do {
                let (ctx, mbg) = try outcome.get()
                defer {
                    do { try ctx.drop() } catch { XCTFail("[\(lane.name)] dropping \(ctx.database): \(error)", file: file, line: line) }
                }
                let m = Migrated(ctx: ctx, old: qualified(ctx.database, "t_0_0"), new: qualified(ctx.database, "t_0_1"))
                XCTAssertFalse(mbg.timedOut, "\(m.tag) mbg run did not end within 120 s", file: file, line: line)
                XCTAssertEqual(mbg.status, 0, "\(m.tag) mbg run failed:\n\(mbg.stdout)\n\(mbg.stderr)", file: file, line: line)
                guard mbg.status == 0 else { continue }
                XCTAssertFalse(mbg.stderr.contains("drift"), "\(m.tag) \(mbg.stderr)", file: file, line: line)
                try assertSameRowsAndDefinition(m, lane == .v18 ? feature.on18 ?? feature.table : feature.table, file: file, line: line)
                try check(m)
            } catch {
                XCTFail("[\(lane.name)] \(error)", file: file, line: line)
            }
        }
    }

    /// The work of one lane up to the end of `mbg run`: a fresh database, the
    /// old table with its rows, the migration. Asserts nothing (it runs off
    /// the test's thread).
    static func migrate(_ lane: Lane, _ table: Table) throws -> (LaneContext, ProcessOutcome) {
        let ctx = try LaneContext.create(lane, url: try lane.url(), timeout: 120)
        do {
            // 18.16 creates LowCardinality columns only with this setting.
            let settings = lane.isModern ? [:] : ["allow_experimental_low_cardinality_type": "1"]
            let old = qualified(ctx.database, "t_0_0")
            try ctx.transport.run(
                "CREATE TABLE \(old) (\(table.columns)) ENGINE = \(table.engine) ORDER BY \(orderBy(table.orderBy)) \(table.tail)",
                settings: settings)
            try ctx.transport.run("INSERT INTO \(old) \(table.insert) FROM numbers(\(rows))", settings: settings)
            let path = NSTemporaryDirectory() + "mbg-feature-\(UUID().uuidString).mbg"
            try "table t v0.1 order_by \(table.newOrderBy.joined(separator: ", "))\nmigrate t v0.0 -> v0.1\napply\ncutover t\n".write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            // runProgram rather than runMBG, which fails the running test on a
            // timeout: here none is running yet (keeps checks `timedOut`).
            let environment = ProcessInfo.processInfo.environment
            let mbg = try runProgram(
                productsDirectory().appendingPathComponent("mbg"),
                ["run", path, "--url", ctx.url.absoluteString, "--database", ctx.database,
                 "--user", environment["MBG_TEST_USER"] ?? "mbg_test", "--yes"],
                environment: ["MBG_HOME": repositoryRoot().path, "MBG_PASSWORD": environment["MBG_TEST_PASSWORD"] ?? "mbg_test_password"],
                timeout: 120)
            return (ctx, mbg)
        } catch {
            try? ctx.drop()
            throw error
        }
    }

    /// Rows exact (count and a checksum over every stored column, NULLs
    /// included) and `SHOW CREATE TABLE` of the new version equal to the old
    /// one but for the name and the ORDER BY.
    func assertSameRowsAndDefinition(_ m: Migrated, _ table: Table, file: StaticString, line: UInt) throws {
        let stored = try m.rows(
            "SELECT name FROM system.columns WHERE database = \(quoteString(m.ctx.database)) AND table = 't_0_0' AND default_kind NOT IN ('ALIAS', 'EPHEMERAL')"
        ).compactMap { $0.first ?? nil }
        let hash = stored.map { "ifNull(toString(\(quoteIdentifier($0))), '\\\\N')" }.joined(separator: ", ")
        let sums = try m.same("SELECT count(), toString(sum(cityHash64(\(hash)))) FROM {t}", file: file, line: line)
        XCTAssertEqual(sums?.split(separator: "\t").first.map(String.init), String(Self.rows), "\(m.tag) rows", file: file, line: line)

        let old = try showCreate(m.ctx, m.old), new = try showCreate(m.ctx, m.new)
        let from = "ORDER BY \(Self.orderBy(table.orderBy)) ", to = "ORDER BY \(Self.orderBy(table.newOrderBy)) "
        XCTAssertTrue(old.contains(from), "\(m.tag) \(from)not in \(old)", file: file, line: line)
        let expected = old.replacingOccurrences(of: "\(m.old) ", with: "\(m.new) ").replacingOccurrences(of: from, with: to)
        XCTAssertEqual(new, expected, "\(m.tag) the new version differs in more than its name and ORDER BY", file: file, line: line)
    }

    /// `SHOW CREATE TABLE` with whitespace runs turned into single spaces.
    func showCreate(_ ctx: LaneContext, _ table: String) throws -> String {
        (try ctx.transport.run("SHOW CREATE TABLE \(table)").scalar ?? "").split(whereSeparator: { $0.isWhitespace }).joined(separator: " ") + " "
    }

    /// ORDER BY as ClickHouse prints it: `a`, or `(a, b)`.
    static func orderBy(_ items: [String]) -> String {
        items.count == 1 ? items[0] : "(\(items.joined(separator: ", ")))"
    }

}
