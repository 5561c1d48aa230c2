import Foundation
import XCTest

@testable import MBG

/// Reading, rendering and comparing the table features a migration must keep
/// (issue 15): SAMPLE BY, skip indexes, projections, comments, column TTL,
/// MATERIALIZED/ALIAS/EPHEMERAL columns.
final class SchemaFidelityUnitTests: XCTestCase {
    /// `create_table_query` as ClickHouse 26.9 wrote it for a table with every feature.
    static let query26 =
        "CREATE TABLE fid.t (`id` UInt64 COMMENT 'the id', `ts` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)), "
        + "`day` Date MATERIALIZED toDate(ts) COMMENT 'day', `l` UInt64 ALIAS id * 2, `e` UInt8 EPHEMERAL, "
        + "`n` String DEFAULT 'x' COMMENT 'a, note' TTL toDateTime(ts) + toIntervalDay(1), `m` Map(String, UInt64), "
        + "INDEX idx_ts ts TYPE minmax GRANULARITY 1, INDEX idx2 lower(n) TYPE bloom_filter(0.01) GRANULARITY 4, "
        + "PROJECTION p (SELECT id, count() GROUP BY id)) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) "
        + "PRIMARY KEY id ORDER BY (id, ts) SAMPLE BY id TTL toDateTime(ts) + toIntervalYear(1) "
        + "SETTINGS index_granularity = 4096 COMMENT 'it\\'s a table'"
    /// The same as 18.16 writes it: no quotes, computed columns last, no indexes.
    static let query18 =
        "CREATE TABLE fid.t ( id UInt64 COMMENT 'the id',  ts DateTime,  `m.key` Array(String),  "
        + "day Date MATERIALIZED toDate(ts) COMMENT 'day',  l UInt64 ALIAS id * 2) ENGINE = MergeTree "
        + "PARTITION BY toYYYYMM(ts) ORDER BY (id, ts) SAMPLE BY id SETTINGS index_granularity = 4096"

    func testCreateQueryElements26() {
        let e = CreateTableElements(Self.query26)
        XCTAssertEqual(e.columnTTLs, ["n": "toDateTime(ts) + toIntervalDay(1)"])
        XCTAssertEqual(e.columnComments, ["id": "the id", "day": "day", "n": "a, note"])
        XCTAssertEqual(
            e.indexes,
            [
                IndexDef(name: "idx_ts", expression: "ts", type: "minmax", granularity: 1),
                IndexDef(name: "idx2", expression: "lower(n)", type: "bloom_filter(0.01)", granularity: 4),
            ])
        XCTAssertEqual(e.projections, [ProjectionDef(name: "p", query: "SELECT id, count() GROUP BY id")])
        XCTAssertEqual(e.comment, "it's a table")
    }

    func testCreateQueryElements18() {
        let e = CreateTableElements(Self.query18)
        XCTAssertEqual(e.columnComments, ["id": "the id", "day": "day"])
        XCTAssertEqual(e.columnTTLs, [:])
        XCTAssertEqual(e.indexes, [])
        XCTAssertEqual(e.projections, [])
        XCTAssertNil(e.comment)
    }

    func testLiveTableKeepsSampleByAndBareEphemeral() {
        var t = liveTableDef(
            database: "fid", name: "t", engine: "MergeTree",
            engineFull: "MergeTree PARTITION BY toYYYYMM(ts) PRIMARY KEY id ORDER BY (id, ts) SAMPLE BY id SETTINGS index_granularity = 4096",
            sortingKey: "id, ts", partitionKey: "toYYYYMM(ts)", primaryKey: "id",
            columns: [
                liveColumn(name: "id", type: "UInt64", kind: "", expression: "", codec: "", inPrimaryKey: true),
                liveColumn(name: "e", type: "UInt8", kind: "EPHEMERAL", expression: "defaultValueOfTypeName('UInt8')", codec: "", inPrimaryKey: false),
                liveColumn(name: "n", type: "String", kind: "DEFAULT", expression: "'x'", codec: "", inPrimaryKey: false),
            ])
        CreateTableElements(Self.query26).apply(to: &t)
        XCTAssertEqual(t.sampleBy, "id")
        XCTAssertEqual(t.column(named: "e")?.kind, .ephemeral)
        XCTAssertNil(t.column(named: "e")?.defaultExpression)
        XCTAssertEqual(t.column(named: "n")?.kind, .defaulted)
        XCTAssertEqual(t.column(named: "n")?.ttl, "toDateTime(ts) + toIntervalDay(1)")
        XCTAssertEqual(t.column(named: "n")?.comment, "a, note")
        XCTAssertEqual(t.comment, "it's a table")
        XCTAssertEqual(t.indexes.count, 2)
        XCTAssertEqual(createTableSQL(t, ifNotExists: false).components(separatedBy: "\n").filter { $0.contains("EPHEMERAL") }, ["    e UInt8 EPHEMERAL,"])
    }

    /// VersionedCollapsingMergeTree appends its version column to the sorting
    /// key (system.tables says `d, u, ver`); the key as written is `(d, u)`.
    func testVersionedCollapsingSortingKeyAsWritten() {
        let t = liveTableDef(
            database: "fid", name: "t", engine: "VersionedCollapsingMergeTree",
            engineFull: "VersionedCollapsingMergeTree(sign, ver) ORDER BY (d, u) SETTINGS index_granularity = 8192",
            sortingKey: "d, u, ver", partitionKey: "", primaryKey: "d, u", columns: [])
        XCTAssertEqual(t.orderBy, ["d", "u"])
        XCTAssertNil(t.primaryKey, "the primary key is the sorting key")
        let single = liveTableDef(
            database: "fid", name: "t", engine: "VersionedCollapsingMergeTree",
            engineFull: "VersionedCollapsingMergeTree(sign, ver) ORDER BY d SETTINGS index_granularity = 8192",
            sortingKey: "d, ver", partitionKey: "", primaryKey: "d", columns: [])
        XCTAssertEqual(single.orderBy, ["d"])
        // Other engines keep the sorting key as system.tables gives it.
        let plain = liveTableDef(
            database: "fid", name: "t", engine: "MergeTree", engineFull: "MergeTree ORDER BY (d, toDate(ts)) SETTINGS index_granularity = 8192",
            sortingKey: "d, toDate(ts)", partitionKey: "", primaryKey: "d, toDate(ts)", columns: [])
        XCTAssertEqual(plain.orderBy, ["d", "toDate(ts)"])
    }

    func testColumnKind() {
        var c = ColumnDef(name: "x", type: "UInt8")
        XCTAssertEqual(c.kind, .ordinary)
        c.defaultExpression = "1"
        XCTAssertEqual(c.kind, .defaulted)
        c.kind = .alias
        XCTAssertEqual(c.defaultKind, "ALIAS")
        XCTAssertFalse(c.isInsertable)
        XCTAssertFalse(c.isStored)
        c.kind = .materialized
        XCTAssertFalse(c.isInsertable)
        XCTAssertTrue(c.isStored)
        c.kind = .defaulted
        XCTAssertNil(c.defaultKind)
    }

    func testDDLOrder() {
        let t = TableDef(
            name: "t", columns: [ColumnDef(name: "a", type: "UInt64", isKey: true, comment: "k", ttl: nil)],
            engine: "MergeTree", ttl: "a", settings: [SettingDef(name: "s", value: "1")], sampleBy: "a",
            indexes: [IndexDef(name: "i", expression: "a", type: "minmax")],
            projections: [ProjectionDef(name: "p", query: "SELECT a ORDER BY a")], comment: "c")
        XCTAssertEqual(
            createTableSQL(t, ifNotExists: false),
            """
            CREATE TABLE t
            (
                a UInt64 COMMENT 'k',
                INDEX i a TYPE minmax,
                PROJECTION p (SELECT a ORDER BY a)
            )
            ENGINE = MergeTree
            ORDER BY a
            SAMPLE BY a
            TTL a
            SETTINGS s = 1
            COMMENT 'c'
            """)
        // Without the new features a table renders exactly as before.
        XCTAssertEqual(
            createTableSQL(TableDef(name: "u", columns: [ColumnDef(name: "a", type: "UInt8", isKey: true)]), ifNotExists: false),
            "CREATE TABLE u\n(\n    a UInt64\n)\nENGINE = MergeTree\nORDER BY a".replacingOccurrences(of: "UInt64", with: "UInt8"))
    }

    func testDriftSeesEveryFeature() {
        let declared = TableDef(
            name: "t",
            columns: [
                ColumnDef(name: "a", type: "UInt64", isKey: true, comment: "k"),
                ColumnDef(name: "ts", type: "DateTime", ttl: "ts + INTERVAL 1 DAY"),
                ColumnDef(name: "e", type: "UInt8", defaultKind: "EPHEMERAL"),
            ],
            sampleBy: "a", indexes: [IndexDef(name: "i", expression: "ts", type: "minmax", granularity: 1)],
            projections: [ProjectionDef(name: "p", query: "SELECT a, count() GROUP BY a")], comment: "c")
        // Read back: the server's spelling of the same things.
        var live = declared
        live.columns[1].ttl = "ts + toIntervalDay(1)"
        live.indexes = [IndexDef(name: "i", expression: "ts", type: "minmax", granularity: nil)]
        live.projections = [ProjectionDef(name: "p", query: "SELECT\n    a,\n    count()\nGROUP BY a")]
        XCTAssertEqual(catalogTableDiff(declared: declared, live: live), [])

        var lost = live
        lost.sampleBy = nil
        lost.indexes = []
        lost.projections = []
        lost.comment = nil
        lost.columns[0].comment = nil
        lost.columns[1].ttl = nil
        lost.columns[2].defaultKind = nil
        XCTAssertEqual(
            catalogTableDiff(declared: declared, live: lost),
            [
                "column a: comment 'k' declared, none on the server",
                "column ts: ttl ts + INTERVAL 1 DAY declared, none on the server",
                "column e: EPHEMERAL declared, no default on the server",
                "column order: (a, ts) declared, (a, ts, e) on the server",
                "sample by: a declared, none on the server",
                "index i is declared but not on the server",
                "projection p is declared but not on the server",
                "comment: 'c' declared, none on the server",
            ])

        var changed = live
        changed.indexes = [IndexDef(name: "i", expression: "a", type: "minmax", granularity: 1), IndexDef(name: "j", expression: "ts", type: "set(10)")]
        XCTAssertEqual(
            catalogTableDiff(declared: declared, live: changed),
            [
                "index i: INDEX i ts TYPE minmax GRANULARITY 1 declared, INDEX i a TYPE minmax GRANULARITY 1 on the server",
                "index j is on the server but not declared",
            ])
    }

    func testOldDumpsStillDecode() throws {
        let json = #"{"name":"t","columns":[{"name":"a","type":"UInt8","isKey":true}],"engine":"MergeTree","settings":[]}"#
        let t = try JSONDecoder().decode(TableDef.self, from: Data(json.utf8))
        XCTAssertEqual(t.indexes, [])
        XCTAssertEqual(t.projections, [])
        XCTAssertNil(t.sampleBy)
        let full = TableDef(name: "t", sampleBy: "a", indexes: [IndexDef(name: "i", expression: "a", type: "minmax")], comment: "c")
        XCTAssertEqual(try JSONDecoder().decode(TableDef.self, from: JSONEncoder().encode(full)), full)
    }

    func testFeatureProblems() {
        let base = TableDef(
            name: "e", version: Version([0, 0]),
            columns: [ColumnDef(name: "d", type: "String"), ColumnDef(name: "u", type: "UInt64"), ColumnDef(name: "h", type: "String")],
            orderBy: ["d", "u"], sampleBy: "u",
            indexes: [IndexDef(name: "i", expression: "lower(h)", type: "minmax")],
            projections: [ProjectionDef(name: "p", query: "SELECT h, count() GROUP BY h")])
        XCTAssertEqual(featureProblems(base, base: nil), [])
        var next = base
        next.version = Version([0, 1])
        next.orderBy = ["d"]
        next.columns.removeLast()
        let problems = featureProblems(next, base: base)
        XCTAssertEqual(problems.map(\.feature), [.sampleBy, .index("i"), .projection("p")])
        XCTAssertEqual(problems[0].message, "SAMPLE BY u (kept from e v0.0) is not in the primary key d of e v0.1")
        XCTAssertEqual(problems[1].message, "index i (kept from e v0.0) reads column 'h', which e v0.1 does not have")
        // An expression sampled on must itself be in the key.
        var hashed = base
        hashed.sampleBy = "intHash32(u)"
        hashed.orderBy = ["d", "intHash32(u)"]
        XCTAssertEqual(featureProblems(hashed, base: nil), [])
        XCTAssertEqual(referencedNames("lower(h) || `meta.key`[1] || 'x'"), ["h", "meta.key"])
    }
}
