import Foundation
import XCTest

@testable import MBG

final class RequestBuildingTests: XCTestCase {
    private func options(_ url: String, user: String? = nil, password: String? = nil, database: String? = nil)
        -> ConnectionOptions
    {
        ConnectionOptions(url: URL(string: url)!, user: user, password: password, database: database, timeout: 42)
    }

    func testParametersAndHeaders() {
        let q = Query("SELECT 1", settings: ["max_threads": "2", "log_comment": "a+b c"], queryID: "q-1")
        let r = ClickHouseHTTP.request(for: q, options: options("http://h:8123", user: "u", password: "pw", database: "db"))
        XCTAssertEqual(
            r.url.absoluteString,
            "http://h:8123/?database=db&log_comment=a%2Bb%20c&max_threads=2&query_id=q-1")
        XCTAssertEqual(r.headers["X-ClickHouse-User"], "u")
        XCTAssertEqual(r.headers["X-ClickHouse-Key"], "pw")
        XCTAssertEqual(r.timeout, 42)
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), "SELECT 1\nFORMAT TabSeparatedWithNamesAndTypes")
        XCTAssertEqual(r.bodyFormat, .namesAndTypes)
    }

    func testQueryTimeoutWins() {
        let r = ClickHouseHTTP.request(for: Query("SELECT 1", timeout: 3), options: options("http://h"))
        XCTAssertEqual(r.timeout, 3)
    }

    func testCredentialsInURLMoveToHeaders() {
        let r = ClickHouseHTTP.request(
            for: Query("SELECT 1"), options: options("http://alice:s3cret@h:8123/prefix?password=other&user=bob"))
        XCTAssertFalse(r.url.absoluteString.contains("s3cret"))
        XCTAssertFalse(r.url.absoluteString.contains("alice"))
        XCTAssertFalse(r.url.absoluteString.contains("other"))
        XCTAssertEqual(r.url.path, "/prefix")
        XCTAssertEqual(r.headers["X-ClickHouse-User"], "alice")
        XCTAssertEqual(r.headers["X-ClickHouse-Key"], "s3cret")
    }

    func testExplicitCredentialsWinOverURL() {
        let r = ClickHouseHTTP.request(
            for: Query("SELECT 1"), options: options("http://alice:s3cret@h", user: "carol", password: "pw2"))
        XCTAssertEqual(r.headers["X-ClickHouse-User"], "carol")
        XCTAssertEqual(r.headers["X-ClickHouse-Key"], "pw2")
    }

    func testNoCredentialsNoHeaders() {
        let r = ClickHouseHTTP.request(for: Query("SELECT 1"), options: options("http://h"))
        XCTAssertNil(r.headers["X-ClickHouse-User"])
        XCTAssertNil(r.headers["X-ClickHouse-Key"])
        XCTAssertEqual(r.url.absoluteString, "http://h/")
    }

    func testPingURL() {
        XCTAssertEqual(ClickHouseHTTP.pingURL(options("http://u:p@h:1/?x=1")).absoluteString, "http://h:1/ping")
        XCTAssertEqual(ClickHouseHTTP.pingURL(options("http://h:1/ch")).absoluteString, "http://h:1/ch/ping")
    }

    func testRedaction() {
        XCTAssertEqual(redactedURL(URL(string: "http://alice:s3cret@h:8123/x?password=p")!), "http://h:8123/x")
        let t = try! HTTPTransport(options: options("https://alice:s3cret@h:8443"))
        XCTAssertEqual(t.displayURL, "https://h:8443")
    }

    func testOnlyHTTPSchemes() {
        XCTAssertThrowsError(try HTTPTransport(options: options("ftp://h"))) {
            XCTAssertEqual($0 as? TransportError, .unsupportedScheme("ftp"))
        }
    }
}

final class StatementTests: XCTestCase {
    func testLeadingKeyword() {
        XCTAssertEqual(ClickHouseHTTP.leadingKeyword("  -- hi\n/* x /* nested */ */ select 1"), "SELECT")
        XCTAssertEqual(ClickHouseHTTP.leadingKeyword("(SELECT 1)"), "SELECT")
        XCTAssertEqual(ClickHouseHTTP.leadingKeyword("insert into t values"), "INSERT")
        XCTAssertNil(ClickHouseHTTP.leadingKeyword("  -- only a comment"))
    }

    func testRowStatementsGetFormat() {
        for sql in ["SELECT 1", "with 1 as x select x", "SHOW TABLES", "DESCRIBE t", "DESC t", "EXISTS TABLE t"] {
            let (out, format) = ClickHouseHTTP.prepareSQL(sql)
            XCTAssertEqual(out, sql + "\nFORMAT TabSeparatedWithNamesAndTypes", sql)
            XCTAssertEqual(format, .namesAndTypes)
        }
    }

    func testOtherStatementsSentAsIs() {
        for sql in ["CREATE TABLE t (x UInt8) ENGINE = Memory", "INSERT INTO t VALUES (1)", "DROP TABLE t"] {
            XCTAssertEqual(ClickHouseHTTP.prepareSQL(sql).sql, sql)
            XCTAssertEqual(ClickHouseHTTP.prepareSQL(sql).format, .rows)
        }
    }

    func testTrailingSemicolonAndComment() {
        XCTAssertEqual(
            ClickHouseHTTP.prepareSQL("SELECT 1; -- done").sql,
            "SELECT 1\nFORMAT TabSeparatedWithNamesAndTypes")
    }

    func testOwnFormatClauseKept() {
        XCTAssertEqual(ClickHouseHTTP.prepareSQL("SELECT 1 FORMAT JSON").sql, "SELECT 1 FORMAT JSON")
        XCTAssertEqual(ClickHouseHTTP.prepareSQL("SELECT 1 FORMAT JSON").format, .opaque)
        XCTAssertEqual(ClickHouseHTTP.prepareSQL("SELECT 1 format TSV;").format, .rows)
        XCTAssertEqual(ClickHouseHTTP.prepareSQL("SELECT 1 FORMAT TSVWithNames SETTINGS a = 1").format, .names)
    }

    func testFormatWordsThatAreNotClauses() {
        XCTAssertNil(ClickHouseHTTP.formatClause("SELECT format('{}', x) FROM t"))
        XCTAssertNil(ClickHouseHTTP.formatClause("SELECT 'FORMAT JSON'"))
        XCTAssertNil(ClickHouseHTTP.formatClause("SELECT (SELECT 1 FORMAT JSON)"))
        XCTAssertNil(ClickHouseHTTP.formatClause("SELECT format FROM t"))
        XCTAssertEqual(ClickHouseHTTP.formatClause("SELECT 1 FORMAT Vertical"), "Vertical")
    }
}

final class TabSeparatedTests: XCTestCase {
    func testEscapesAndNull() throws {
        let body = Data("a\\tb\tline\\nnext\t\\N\tback\\\\slash\tq\\'s\tz\\0\\b\\f\\r\n\t\\\\N\n".utf8)
        let rows = try TabSeparated.decodeRows(body)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0], ["a\tb", "line\nnext", nil, "back\\slash", "q's", "z\0\u{8}\u{C}\r"])
        XCTAssertEqual(rows[1], ["", "\\N"])
    }

    func testRoundTripThroughEscape() throws {
        let values: [String?] = ["tab\there", "nl\nhere", nil, "", "\\N", "'quoted'", "ünï \u{1F600}"]
        let line = values.map(TabSeparated.escape).joined(separator: "\t") + "\n"
        XCTAssertEqual(try TabSeparated.decodeRows(Data(line.utf8)), [values])
    }

    func testEmptyBodyHasNoRows() throws {
        XCTAssertEqual(try TabSeparated.decodeRows(Data()), [])
    }

    func testNamesAndTypes() throws {
        let body = Data("n\ts\nUInt64\tNullable(String)\n18446744073709551615\t\\N\n1\tx\n".utf8)
        let result = try ClickHouseHTTP.decode(body, format: .namesAndTypes)
        XCTAssertEqual(
            result.columns,
            [ResultColumn(name: "n", type: "UInt64"), ResultColumn(name: "s", type: "Nullable(String)")])
        XCTAssertEqual(result.rows, [["18446744073709551615", nil], ["1", "x"]])
        XCTAssertEqual(result.scalar, "18446744073709551615")
    }

    func testQuotedTypesKeptRaw() throws {
        let body = Data(
            "a\tt\tm\ts\nArray(String)\tTuple(UInt8, String)\tMap(String, String)\tString\n['a\\tb','c\\'d']\t(1,'x\\ty')\t{'k':'v'}\tp\\tq\n".utf8)
        let result = try ClickHouseHTTP.decode(body, format: .namesAndTypes)
        XCTAssertEqual(result.rows, [["['a\\tb','c\\'d']", "(1,'x\\ty')", "{'k':'v'}", "p\tq"]])
        XCTAssertTrue(TabSeparated.isQuotedType("Array(Nullable(String))"))
        XCTAssertFalse(TabSeparated.isQuotedType("LowCardinality(String)"))
    }

    func testDefaultCastIsNoDrift() {
        let declared = TableDef(name: "t", columns: [ColumnDef(name: "a", type: "Decimal(18, 4)", defaultExpression: "0")])
        var live = declared
        live.columns[0].defaultExpression = "CAST(0, 'Decimal(18, 4)')"
        XCTAssertEqual(catalogTableDiff(declared: declared, live: live), [])
        live.columns[0].defaultExpression = "CAST(1, 'Decimal(18, 4)')"
        XCTAssertEqual(catalogTableDiff(declared: declared, live: live).count, 1)
    }

    func testRowWithWrongFieldCountIsAnError() {
        let body = Data("a\tb\nUInt8\tUInt8\n1\n".utf8)
        XCTAssertThrowsError(try ClickHouseHTTP.decode(body, format: .namesAndTypes))
    }

    func testOpaqueKeepsText() throws {
        let result = try ClickHouseHTTP.decode(Data("{\"a\":1}\n".utf8), format: .opaque)
        XCTAssertEqual(result.text, "{\"a\":1}\n")
        XCTAssertEqual(result.rows, [])
    }

    func testSummary() {
        XCTAssertEqual(
            ClickHouseHTTP.writtenRows(summaryHeader: "{\"read_rows\":\"0\",\"written_rows\":\"10\"}"), 10)
        XCTAssertEqual(ClickHouseHTTP.writtenRows(summaryHeader: "{\"written_rows\":7}"), 7)
        XCTAssertNil(ClickHouseHTTP.writtenRows(summaryHeader: nil))
        XCTAssertNil(ClickHouseHTTP.writtenRows(summaryHeader: "garbage"))
    }
}

final class ServerErrorTests: XCTestCase {
    func testModernFormat() {
        let body =
            "Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC): SELEC 1. Expected one of: … (SYNTAX_ERROR) (version 26.9.2.1)\n"
        let e = ClickHouseHTTP.parseServerError(body, codeHeader: "62")
        XCTAssertEqual(e?.code, 62)
        XCTAssertEqual(e?.name, "SYNTAX_ERROR")
        XCTAssertEqual(e?.message, "Syntax error: failed at position 1 (SELEC): SELEC 1. Expected one of: …")
    }

    func testOldFormat() {
        let body =
            "Code: 60, e.displayText() = DB::Exception: Table db.nope doesn't exist., e.what() = DB::Exception\n"
        let e = ClickHouseHTTP.parseServerError(body)
        XCTAssertEqual(e?.code, 60)
        XCTAssertEqual(e?.name, "UNKNOWN_TABLE")
        XCTAssertEqual(e?.message, "Table db.nope doesn't exist.")
    }

    func testOldFormatWithStackTrace() {
        let body = "Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, e.what() = DB::Exception\n\nStack trace:\n0. clickhouse-server(StackTrace)\n"
        let e = ClickHouseHTTP.parseServerError(body)
        XCTAssertEqual(e?.code, 395)
        XCTAssertEqual(e?.message, "Value passed to 'throwIf' function is non zero")
    }

    func testHeaderWithoutCodeInBody() {
        let e = ClickHouseHTTP.parseServerError("something broke", codeHeader: "241")
        XCTAssertEqual(e?.code, 241)
        XCTAssertEqual(e?.message, "something broke")
    }

    func testNotAnError() {
        XCTAssertNil(ClickHouseHTTP.parseServerError("<html>502 Bad Gateway</html>"))
    }

    func testErrorAtTailOf200() {
        let old = Data("x\nUInt64\n1\n2\nCode: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, e.what() = DB::Exception\n".utf8)
        let found = ClickHouseHTTP.trailingError(in: old)
        XCTAssertEqual(found?.error.code, 395)
        XCTAssertEqual(found?.dataEnd, 13)

        let modern = Data("1\n2\nCode: 395. DB::Exception: Value passed to 'throwIf' function is non-zero: while executing 'FUNCTION throwIf(…)'. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 26.9.2.1)\n".utf8)
        XCTAssertEqual(ClickHouseHTTP.trailingError(in: modern)?.error.name, "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO")

        let tagged = Data("1\n2\r\n__exception__\r\nabcdefgh\r\nCode: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED) (version 25.11.1.1)\r\n98 abcdefgh\r\n__exception__\r\n".utf8)
        let t = ClickHouseHTTP.trailingError(in: tagged)
        XCTAssertEqual(t?.error.code, 241)
        XCTAssertEqual(t?.error.message, "Memory limit exceeded")
    }

    func testNoFalseTailError() {
        XCTAssertNil(ClickHouseHTTP.trailingError(in: Data("s\nString\nCode: 1 is fine\nmy Code: 62. DB::Exception: x\n".utf8)))
        XCTAssertNil(ClickHouseHTTP.trailingError(in: Data()))
    }

    func testDescriptionsCarryNoPassword() throws {
        let t = try HTTPTransport(
            options: ConnectionOptions(url: URL(string: "http://alice:hunter22@127.0.0.1:1")!, timeout: 5))
        XCTAssertThrowsError(try t.run("SELECT 1")) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("hunter22"), text)
            XCTAssertFalse(text.contains("alice"), text)
            guard case .connection(let url, _) = error as? TransportError else {
                return XCTFail("expected a connection error, got \(error)")
            }
            XCTAssertEqual(url, "http://127.0.0.1:1")
        }
    }
}

final class CatalogParsingTests: XCTestCase {
    func testEngineClauses() {
        let c = EngineClauses(
            "ReplacingMergeTree(ver) PARTITION BY toYYYYMM(ts) PRIMARY KEY id ORDER BY (id, ts, order) TTL ts + toIntervalDay(30) SETTINGS index_granularity = 4096, merge_with_ttl_timeout = 3600")
        XCTAssertEqual(c.engine, "ReplacingMergeTree(ver)")
        XCTAssertEqual(c.partitionBy, "toYYYYMM(ts)")
        XCTAssertEqual(c.primaryKey, "id")
        XCTAssertEqual(c.orderBy, "(id, ts, order)")
        XCTAssertEqual(c.ttl, "ts + toIntervalDay(30)")
        XCTAssertEqual(
            c.settings,
            [SettingDef(name: "index_granularity", value: "4096"), SettingDef(name: "merge_with_ttl_timeout", value: "3600")])
        XCTAssertEqual(EngineClauses("Memory").engine, "Memory")
        XCTAssertEqual(EngineClauses("MergeTree ORDER BY tuple() SETTINGS index_granularity = 8192").orderBy, "tuple()")
    }

    func testLiveTableDef() {
        let t = liveTableDef(
            database: "db", name: "events_0_1", engine: "ReplacingMergeTree",
            engineFull: "ReplacingMergeTree(ver) ORDER BY (id, ts) SETTINGS index_granularity = 8192",
            sortingKey: "id, ts", partitionKey: "", primaryKey: "id, ts", columns: [])
        XCTAssertEqual(t.name, "events")
        XCTAssertEqual(t.version, Version([0, 1]))
        XCTAssertEqual(t.engine, "ReplacingMergeTree(ver)")
        XCTAssertEqual(t.orderBy, ["id", "ts"])
        XCTAssertNil(t.primaryKey)
        XCTAssertNil(t.partitionBy)
        XCTAssertEqual(t.settings, [])
        // A default before another setting stays, keeping the clause's order in a copy.
        XCTAssertEqual(
            withoutTrailingDefaults([SettingDef(name: "index_granularity", value: "8192"), SettingDef(name: "ttl_only_drop_parts", value: "1")]).map(\.name),
            ["index_granularity", "ttl_only_drop_parts"])
    }

    func testLiveColumn() {
        let c = liveColumn(name: "x", type: "UInt64", kind: "MATERIALIZED", expression: "y * 2", codec: "CODEC(ZSTD(1))", inPrimaryKey: false)
        XCTAssertEqual(c.defaultKind, "MATERIALIZED")
        XCTAssertEqual(c.defaultExpression, "y * 2")
        XCTAssertEqual(c.codec, "ZSTD(1)")
        let d = liveColumn(name: "x", type: "String", kind: "DEFAULT", expression: "'a'", codec: "", inPrimaryKey: true)
        XCTAssertNil(d.defaultKind)
        XCTAssertNil(d.codec)
        XCTAssertTrue(d.isKey)
    }

    func testViewTarget() {
        XCTAssertEqual(
            viewTarget("CREATE MATERIALIZED VIEW db.mv TO db.`ev v2` (`x` UInt64) AS SELECT x FROM db.ev"),
            "db.ev v2")
        XCTAssertNil(viewTarget("CREATE MATERIALIZED VIEW db.mv ENGINE = Memory AS SELECT 1 AS to"))
    }

    func testStringArray() {
        XCTAssertEqual(sqlStringArray("['a','b\\'c']"), ["a", "b'c"])
        XCTAssertEqual(sqlStringArray("[]"), [])
    }

    func testSplitTopLevelCommas() {
        XCTAssertEqual(splitTopLevelCommas("a, f(b, c),  'x,y' "), ["a", "f(b, c)", "'x,y'"])
        XCTAssertEqual(splitTopLevelCommas(""), [])
    }
}

final class DDLAndDriftTests: XCTestCase {
    private let table = TableDef(
        name: "events", version: Version([0, 2]), database: "db", cluster: "c1",
        columns: [
            ColumnDef(name: "id", type: "UInt64", isKey: true),
            ColumnDef(name: "ts", type: "DateTime", codec: "Delta, ZSTD(1)"),
            ColumnDef(name: "order", type: "String", defaultExpression: "'x'"),
            ColumnDef(name: "twice", type: "UInt64", defaultExpression: "id * 2", defaultKind: "MATERIALIZED"),
        ],
        orderBy: ["id", "ts"], partitionBy: "toYYYYMM(ts)", engine: "ReplacingMergeTree(id)",
        ttl: "ts + INTERVAL 30 DAY", settings: [SettingDef(name: "index_granularity", value: "4096")])

    func testCreateTableSQL() {
        XCTAssertEqual(
            createTableSQL(table, ifNotExists: true),
            """
            CREATE TABLE IF NOT EXISTS db.events_0_2 ON CLUSTER c1
            (
                id UInt64,
                ts DateTime CODEC(Delta, ZSTD(1)),
                `order` String DEFAULT 'x',
                twice UInt64 MATERIALIZED id * 2
            )
            ENGINE = ReplacingMergeTree(id)
            PARTITION BY toYYYYMM(ts)
            ORDER BY (id, ts)
            PRIMARY KEY id
            TTL ts + INTERVAL 30 DAY
            SETTINGS index_granularity = 4096
            """)
    }

    func testEmptyOrderByIsTuple() {
        let t = TableDef(name: "t", columns: [ColumnDef(name: "x", type: "UInt8")], orderBy: [])
        XCTAssertTrue(createTableSQL(t, ifNotExists: false).hasSuffix("ENGINE = MergeTree\nORDER BY tuple()"))
        let m = TableDef(name: "t", columns: [ColumnDef(name: "x", type: "UInt8")], engine: "Memory")
        XCTAssertTrue(createTableSQL(m, ifNotExists: false).hasSuffix("ENGINE = Memory"))
    }

    func testNoDriftAgainstServerSpelling() {
        var live = table
        live.cluster = nil
        live.engine = "ReplacingMergeTree(id)"
        live.orderBy = ["id", "ts"]
        live.primaryKey = ["id"]
        live.columns[2].name = "order"
        live.ttl = "ts + toIntervalDay(30)"
        live.columns[1].codec = "Delta, ZSTD(1)"
        XCTAssertEqual(catalogTableDiff(declared: table, live: live), [])
    }

    func testDriftReport() {
        var live = table
        live.columns[0].type = "UInt32"
        live.columns.remove(at: 2)
        live.columns.append(ColumnDef(name: "extra", type: "String"))
        live.engine = "MergeTree"
        live.orderBy = ["id"]
        live.partitionBy = nil
        live.ttl = nil
        let diffs = catalogTableDiff(declared: table, live: live)
        XCTAssertEqual(
            diffs,
            [
                "column id: type UInt64 declared, UInt32 on the server",
                "column `order` is declared but not on the server",
                "column extra is on the server but not declared",
                "engine: ReplacingMergeTree(id) declared, MergeTree on the server",
                "order by: (id, ts) declared, id on the server",
                "partition by: toYYYYMM(ts) declared, none on the server",
                "ttl: ts + INTERVAL 30 DAY declared, none on the server",
            ])
    }

    func testNormalizedSQL() {
        XCTAssertEqual(normalizedSQL("`a`  +  b"), normalizedSQL("a+b"))
        XCTAssertEqual(normalizedSQL("Decimal(10,2)"), normalizedSQL("Decimal(10, 2)"))
        XCTAssertEqual(normalizedSQL("x and y"), normalizedSQL("x AND y"))
        XCTAssertNotEqual(normalizedSQL("'a b'"), normalizedSQL("'ab'"))
        XCTAssertEqual(normalizedSQL("(id, ts)"), normalizedSQL("id, ts"))
        XCTAssertEqual(normalizedSQL("MergeTree"), normalizedEngine("MergeTree()"))
    }
}
