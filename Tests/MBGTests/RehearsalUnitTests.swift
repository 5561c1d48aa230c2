import Foundation
import XCTest

@testable import MBG

/// The pieces of `mbg rehearse` that need no server.
final class RehearsalUnitTests: XCTestCase {
    func testReadOnlyTransportSendsReadsWithReadonlyAndRefusesEverythingElse() throws {
        let base = ScriptedTransport()
        let source = ReadOnlyTransport(base)
        _ = try source.execute(Query("SELECT 1", settings: ["max_threads": "4"]))
        _ = try source.run("  -- a comment\nWITH 1 AS x SELECT x")
        for write in ["INSERT INTO t VALUES (1)", "CREATE TABLE t (a UInt8) ENGINE = Memory", "ALTER TABLE t DELETE WHERE 1",
                      "DROP TABLE t", "SYSTEM STOP MERGES t", "OPTIMIZE TABLE t", "RENAME TABLE a TO b", "TRUNCATE TABLE t", "SET readonly = 0"] {
            XCTAssertThrowsError(try source.run(write), write) {
                XCTAssertTrue("\($0)".contains("only reads"), "\($0)")
            }
        }
        XCTAssertEqual(base.statements.count, 2, "nothing but the two reads reached the server: \(base.statements)")
    }

    func testSampleQuotaIsProportionalAndBounded() {
        let parts = [
            PartitionInfo(partitionID: "a", rows: 900, parts: 1, maxBlockNumber: 1),
            PartitionInfo(partitionID: "b", rows: 100, parts: 1, maxBlockNumber: 1),
            PartitionInfo(partitionID: "c", rows: 1, parts: 1, maxBlockNumber: 1),
        ]
        let q = sampleQuota(parts, total: 100)
        XCTAssertEqual(q.map(\.rows), [90, 10, 1])
        XCTAssertEqual(sampleQuota(parts, total: 5000).map(\.rows), [900, 100, 1], "a small table is copied whole")
    }

    func testSyntheticValuesFitTheirTypes() {
        let table = TableDef(
            name: "t", columns: [
                ColumnDef(name: "a", type: "UInt8"), ColumnDef(name: "b", type: "Nullable(String)"),
                ColumnDef(name: "c", type: "Enum8('x' = 1, 'y' = 2)"), ColumnDef(name: "d", type: "DateTime('UTC')"),
                ColumnDef(name: "e", type: "LowCardinality(String)"), ColumnDef(name: "f", type: "Array(UInt32)"),
                ColumnDef(name: "g", type: "FixedString(4)"), ColumnDef(name: "h", type: "UInt64", defaultExpression: "a * 2", defaultKind: "MATERIALIZED"),
                ColumnDef(name: "i", type: "Tuple(a UInt8)"),
            ], orderBy: ["a"])
        let rows = SyntheticRows(table)
        XCTAssertEqual(rows.columns.map(\.name), ["a", "b", "c", "d", "e", "f", "g"], "MATERIALIZED and unknown types are left to the server")
        let fields = rows.line(seed: 7).dropLast().split(separator: "\t", omittingEmptySubsequences: false)
        XCTAssertEqual(fields.count, 7)
        XCTAssertLessThan(Int(fields[0]) ?? 999, 100)
        XCTAssertEqual(fields[2], "x")
        XCTAssertLessThan(abs((Double(fields[3]) ?? 0) - Date().timeIntervalSince1970), 5)
        XCTAssertEqual(fields[5], "[]")
        XCTAssertLessThanOrEqual(fields[6].count, 4)
    }

    func testLocalTwinDropsReplicationAndTheOldMergeTreeSyntax() {
        let cols = [ColumnDef(name: "d", type: "Date"), ColumnDef(name: "id", type: "UInt64"), ColumnDef(name: "v", type: "UInt32")]
        func twin(_ engine: String) -> TableDef {
            localTwin(TableDef(name: "t", database: "prod", cluster: "c", columns: cols, orderBy: ["id"], engine: engine), database: "local")
        }
        XCTAssertEqual(twin("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/t', '{replica}', v)").engine, "ReplacingMergeTree(v)")
        XCTAssertEqual(twin("ReplicatedMergeTree('/p', '{replica}')").engine, "MergeTree")
        XCTAssertEqual(twin("MergeTree(d, (id), 8192)").engine, "MergeTree")
        let sampled = twin("MergeTree(d, intHash32(id), (id, intHash32(id)), 1024)")
        XCTAssertEqual(sampled.engine, "MergeTree")
        XCTAssertEqual(sampled.sampleBy, "intHash32(id)")
        XCTAssertEqual(sampled.settings.map { "\($0.name)=\($0.value)" }, ["index_granularity=1024"])
        XCTAssertEqual(twin("CollapsingMergeTree(d, (id), 8192, v)").engine, "CollapsingMergeTree(v)")
        XCTAssertEqual(twin("ReplacingMergeTree(v)").engine, "ReplacingMergeTree(v)", "the new syntax stays")
        XCTAssertEqual(twin("MergeTree").database, "local")
        XCTAssertNil(twin("MergeTree").cluster)
    }
}
