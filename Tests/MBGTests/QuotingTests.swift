import XCTest

@testable import MBG

final class QuotingTests: XCTestCase {
    func testIdentifiers() {
        XCTAssertEqual(quoteIdentifier("events_0_1"), "events_0_1")
        XCTAssertEqual(quoteIdentifier("my-table"), "`my-table`")
        XCTAssertEqual(quoteIdentifier("select"), "`select`")
        XCTAssertEqual(quoteIdentifier("events`; DROP TABLE x; --"), "`events\\`; DROP TABLE x; --`")
        XCTAssertEqual(quoteIdentifier("a\\b\nc"), "`a\\\\b\\nc`")
        XCTAssertEqual(quoteIdentifier("日本"), "`日本`")
        XCTAssertEqual(quoteIdentifier(""), "``")
    }

    func testStrings() {
        XCTAssertEqual(quoteString("it's"), "'it\\'s'")
        XCTAssertEqual(quoteString("a\\'; DROP"), "'a\\\\\\'; DROP'")
    }

    func testHostileNameRendersAsOneIdentifier() {
        let t = TableDef(name: "events`; DROP TABLE x; --", columns: [ColumnDef(name: "id`)", type: "String", isKey: true)])
        let sql = createTableSQL(t)
        XCTAssertTrue(sql.hasPrefix("CREATE TABLE IF NOT EXISTS `events\\`; DROP TABLE x; --`\n"), sql)
        XCTAssertTrue(sql.contains("`id\\`)` String"), sql)
        XCTAssertTrue(sql.contains("ORDER BY `id\\`)`"), sql)
    }

    func testCreateTableSQL() {
        let t = TableDef(
            name: "events", version: Version([0, 1]), database: "db", cluster: "c",
            columns: [
                ColumnDef(name: "id", type: "String", isKey: true),
                ColumnDef(name: "ts", type: "DateTime", defaultExpression: "now()", codec: "Delta, ZSTD"),
            ], orderBy: ["id", "ts"], partitionBy: "toYYYYMM(ts)", engine: "ReplacingMergeTree(ts)", ttl: "ts + INTERVAL 1 DAY",
            settings: [SettingDef(name: "index_granularity", value: "1024")])
        XCTAssertEqual(
            createTableSQL(t),
            """
            CREATE TABLE IF NOT EXISTS db.events_0_1 ON CLUSTER c
            (
                id String,
                ts DateTime DEFAULT now() CODEC(Delta, ZSTD)
            )
            ENGINE = ReplacingMergeTree(ts)
            PARTITION BY toYYYYMM(ts)
            ORDER BY (id, ts)
            PRIMARY KEY id
            TTL ts + INTERVAL 1 DAY
            SETTINGS index_granularity = 1024
            """)
    }

    func testDropUsesTableForViewsOnOldServers() {
        let old = Capabilities.detect(version: "18.16.1", databaseEngine: "Ordinary")
        XCTAssertEqual(dropSQL(nil, "mv", isView: true, capabilities: old), "DROP TABLE IF EXISTS mv")
        XCTAssertEqual(dropSQL(nil, "mv", isView: true, capabilities: .modern), "DROP VIEW IF EXISTS mv SYNC")
        XCTAssertFalse(old.exchangeTables)
        XCTAssertFalse(old.blockNumber)
    }
}
