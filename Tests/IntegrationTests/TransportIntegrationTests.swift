import Foundation
import MBG
import XCTest

final class TransportIntegrationTests: XCTestCase {
    func testVersionAndPing() {
        onEveryLane { ctx in
            try ctx.transport.ping()
            let version = try ctx.transport.run("SELECT version()")
            XCTAssertEqual(version.columns, [ResultColumn(name: "version()", type: "String")])
            XCTAssertTrue(
                version.scalar?.hasPrefix(ctx.lane.isModern ? "26.9" : "18.16") == true,
                "[\(ctx.lane)] version \(version.scalar ?? "nil")")
        }
    }

    func testDatabaseOption() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE kv (k String, v UInt8) ENGINE = Memory")
            try t.run("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
            let rows = try t.run("SELECT k, v FROM kv ORDER BY k").rows
            XCTAssertEqual(rows, [["a", "1"], ["b", "2"]])
            XCTAssertEqual(try t.run("SELECT currentDatabase()").scalar, ctx.database)
        }
    }

    func testSettingsAndQueryID() {
        onEveryLane { ctx in
            let result = try ctx.transport.execute(
                Query(
                    "SELECT value FROM system.settings WHERE name = 'max_threads'",
                    settings: ["max_threads": "3"]))
            XCTAssertEqual(result.scalar, "3")
            // The caller's own format is left alone and the text handed back.
            let json = try ctx.transport.run("SELECT 1 AS one FORMAT JSONEachRow")
            XCTAssertEqual(json.text?.trimmingCharacters(in: .whitespacesAndNewlines), "{\"one\":1}")
        }
    }

    func testWrittenRows() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE n (x UInt64) ENGINE = MergeTree ORDER BY x")
            let result = try t.run("INSERT INTO n SELECT number FROM numbers(1000)")
            if ctx.lane.isModern {
                XCTAssertEqual(result.writtenRows, 1000)
            } else {
                // 18.16 sends no X-ClickHouse-Summary.
                XCTAssertNil(result.writtenRows)
            }
            XCTAssertEqual(try t.run("SELECT count() FROM n").scalar, "1000")
        }
    }

    func testEveryCommonType() {
        onEveryLane { ctx in
            var sql = """
                SELECT
                    toUInt64('18446744073709551615') AS u64max,
                    toUInt64('9007199254740993') AS past53,
                    toInt64('-9223372036854775808') AS i64min,
                    CAST(NULL AS Nullable(String)) AS null_string,
                    CAST('x' AS Nullable(String)) AS some_string,
                    [1, 2, 3] AS numbers,
                    ['a\\tb', 'c\\'d'] AS strings,
                    'tab\\there\\nnewline ünï 😀 back\\\\slash \\'q\\'' AS text,
                    toDate('2024-01-02') AS day,
                    toDateTime('2024-01-02 03:04:05', 'UTC') AS moment,
                    toFloat64(1.5) AS f,
                    toDecimal64('1234567.89', 2) AS money,
                    toUUID('01234567-89ab-cdef-0123-456789abcdef') AS id,
                    '' AS empty
                """
            if ctx.lane.isModern {
                sql += ", toDateTime64('2024-01-02 03:04:05.123456', 6, 'UTC') AS precise"
            }
            let r = try ctx.transport.run(sql)
            guard r.rows.count == 1 else { return XCTFail("[\(ctx.lane)] rows: \(r.rows)") }
            let row = r.rows[0]
            func cell(_ name: String) -> String? {
                guard let i = r.column(name) else {
                    XCTFail("[\(ctx.lane)] no column \(name)")
                    return nil
                }
                return row[i]
            }
            func type(_ name: String) -> String? { r.column(name).map { r.columns[$0].type } }
            XCTAssertEqual(cell("u64max"), "18446744073709551615")
            XCTAssertEqual(cell("past53"), "9007199254740993")
            XCTAssertEqual(cell("i64min"), "-9223372036854775808")
            XCTAssertNil(cell("null_string"))
            XCTAssertEqual(type("null_string"), "Nullable(String)")
            XCTAssertEqual(cell("some_string"), "x")
            XCTAssertEqual(cell("numbers"), "[1,2,3]")
            XCTAssertEqual(type("numbers"), "Array(UInt8)")
            XCTAssertEqual(cell("strings"), "['a\\tb','c\\'d']")
            XCTAssertEqual(cell("text"), "tab\there\nnewline ünï 😀 back\\slash 'q'")
            XCTAssertEqual(cell("day"), "2024-01-02")
            XCTAssertEqual(cell("moment"), "2024-01-02 03:04:05")
            XCTAssertEqual(type("moment"), "DateTime('UTC')")
            XCTAssertEqual(cell("f"), "1.5")
            XCTAssertEqual(cell("money"), "1234567.89")
            XCTAssertEqual(type("money"), "Decimal(18, 2)")
            XCTAssertEqual(cell("id"), "01234567-89ab-cdef-0123-456789abcdef")
            XCTAssertEqual(cell("empty"), "")
            if ctx.lane.isModern {
                XCTAssertEqual(cell("precise"), "2024-01-02 03:04:05.123456")
                XCTAssertEqual(type("precise"), "DateTime64(6, 'UTC')")
            }
        }
    }

    func testStringsSurviveARoundTripThroughATable() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE s (k UInt8, v Nullable(String)) ENGINE = Memory")
            let values: [String?] = ["a\tb", "line\nbreak", "back\\slash", "it's", nil, "", "\\N", "ü😀"]
            let tuples = values.enumerated().map { i, v in "(\(i), \(v.map(quoteString) ?? "NULL"))" }
            try t.run("INSERT INTO s VALUES " + tuples.joined(separator: ", "))
            let back = try t.run("SELECT v FROM s ORDER BY k").rows.map { $0[0] }
            XCTAssertEqual(back, values, "[\(ctx.lane)]")
        }
    }

    func testLargeResult() {
        onEveryLane { ctx in
            let started = Date()
            let r = try ctx.transport.run(
                "SELECT number, toString(number) AS s, if(number % 7 = 0, NULL, 'x\\ty') AS n FROM numbers(200000)")
            XCTAssertEqual(r.rows.count, 200000)
            XCTAssertEqual(r.rows.last, ["199999", "199999", "x\ty"])
            XCTAssertEqual(r.rows[7], ["7", "7", nil])
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, "[\(ctx.lane)]")
        }
    }

    func testConcurrentCalls() {
        onEveryLane { ctx in
            let transport = ctx.transport
            let workers = (0..<8).map { i in
                Background { () throws -> [String?] in
                    var answers: [String?] = []
                    for j in 0..<5 {
                        answers.append(try transport.run("SELECT \(i * 100 + j) + 0 AS x").scalar)
                    }
                    return answers
                }
            }
            for (i, worker) in workers.enumerated() {
                let expected = (0..<5).map { String(i * 100 + $0) }
                switch worker.wait(seconds: 60) {
                case .success(let answers): XCTAssertEqual(answers, expected, "[\(ctx.lane)]")
                case .failure(let error): XCTFail("[\(ctx.lane)] worker \(i): \(error)")
                case nil: XCTFail("[\(ctx.lane)] worker \(i) did not finish")
                }
            }
        }
    }
}

final class TransportErrorIntegrationTests: XCTestCase {
    func testSyntaxError() {
        onEveryLane { ctx in
            XCTAssertThrowsError(try ctx.transport.run("SELEC 1")) { error in
                guard case .server(let code, let name, let message, let url) = error as? TransportError else {
                    return XCTFail("[\(ctx.lane)] \(error)")
                }
                XCTAssertEqual(code, 62)
                XCTAssertEqual(name, "SYNTAX_ERROR")
                XCTAssertTrue(message.hasPrefix("Syntax error"), message)
                XCTAssertFalse(message.contains("DB::Exception"), message)
                XCTAssertEqual(url, ctx.transport.displayURL)
            }
        }
    }

    func testUnknownTable() {
        onEveryLane { ctx in
            XCTAssertThrowsError(try ctx.transport.run("SELECT * FROM \(ctx.database).nope")) { error in
                XCTAssertEqual((error as? TransportError)?.serverCode, 60, "[\(ctx.lane)] \(error)")
                if case .server(_, let name, _, _) = error as? TransportError {
                    XCTAssertEqual(name, "UNKNOWN_TABLE")
                }
            }
        }
    }

    func testErrorAfterRowsInA200Answer() {
        onEveryLane { ctx in
            // Enough rows that 18.16 has streamed some (HTTP 200) before throwIf fires.
            let q = Query(
                "SELECT number, throwIf(number = 300000) FROM numbers(400000)",
                settings: ["max_block_size": "1000"])
            XCTAssertThrowsError(try ctx.transport.execute(q)) { error in
                XCTAssertEqual((error as? TransportError)?.serverCode, 395, "[\(ctx.lane)] \(error)")
            }
        }
    }

    /// Needs no engine.
    func testConnectionRefused() throws {
        // A port nobody listens on: bind one, note it, close it.
        let port = try closedPort()
        let password = "pw-\(UUID().uuidString)"
        let t = try HTTPTransport(
            options: ConnectionOptions(
                url: URL(string: "http://someone:\(password)@127.0.0.1:\(port)")!, timeout: 10))
        let started = Date()
        XCTAssertThrowsError(try t.run("SELECT 1")) { error in
            guard case .connection(let url, let reason) = error as? TransportError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(url, "http://127.0.0.1:\(port)")
            XCTAssertEqual(reason, "connection refused")
            XCTAssertFalse("\(error)".contains(password))
            XCTAssertFalse("\(error)".contains("someone"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertThrowsError(try t.ping())
    }

    func testWrongPassword() {
        onEveryLane { ctx in
            let password = "wrong-\(UUID().uuidString)"
            // The engines' password user (scripts/README-engines.md); `default` has none.
            let user = ProcessInfo.processInfo.environment["MBG_TEST_USER"] ?? "mbg_test"
            let t = try HTTPTransport(
                options: ConnectionOptions(url: ctx.url, user: user, password: password, timeout: 10))
            XCTAssertThrowsError(try t.run("SELECT 1")) { error in
                let code = (error as? TransportError)?.serverCode
                // 18.16: WRONG_PASSWORD; 26.x: AUTHENTICATION_FAILED.
                XCTAssertEqual(code, ctx.lane.isModern ? 516 : 193, "[\(ctx.lane)] \(error)")
                XCTAssertFalse("\(error)".contains(password), "\(error)")
                XCTAssertFalse(String(reflecting: error).contains(password))
            }
            // Also when the password is in the URL.
            var parts = URLComponents(url: ctx.url, resolvingAgainstBaseURL: false)!
            parts.user = user
            parts.password = password
            let inURL = try HTTPTransport(options: ConnectionOptions(url: parts.url!, timeout: 10))
            XCTAssertFalse(inURL.displayURL.contains(password))
            XCTAssertThrowsError(try inURL.run("SELECT 1")) { error in
                XCTAssertFalse("\(error)".contains(password), "\(error)")
            }
        }
    }

    func testTimeout() {
        onEveryLane { ctx in
            let started = Date()
            XCTAssertThrowsError(try ctx.transport.execute(Query("SELECT sleep(3)", timeout: 1))) { error in
                guard case .timeout(_, let seconds) = error as? TransportError else {
                    return XCTFail("[\(ctx.lane)] \(error)")
                }
                XCTAssertEqual(seconds, 1)
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
        }
    }

    func testTimedOutQueryIsKilledOnTheServer() {
        onEveryLane { ctx in
            let id = "mbg-it-timeout-\(UUID().uuidString)"
            XCTAssertThrowsError(
                try ctx.transport.execute(
                    Query("SELECT count() FROM numbers(10000000000)", queryID: id, timeout: 1)))
            var gone = false
            for _ in 0..<50 where !gone {
                Thread.sleep(forTimeInterval: 0.1)
                gone = try ctx.transport.run(
                    "SELECT count() FROM system.processes WHERE query LIKE '%numbers(10000000000)%' AND query NOT LIKE '%system.processes%'"
                ).scalar == "0"
            }
            XCTAssertTrue(gone, "[\(ctx.lane)] the timed-out query still runs on the server")
        }
    }

    func testCancelFromAnotherThread() {
        onEveryLane { ctx in
            let transport = ctx.transport
            let id = "mbg-it-cancel-\(UUID().uuidString)"
            let long = Background { () throws -> QueryResult in
                try transport.execute(Query("SELECT count() FROM numbers(10000000000)", queryID: id))
            }
            // Wait until the server runs it, then cancel as a Ctrl-C handler would.
            var seen = false
            for _ in 0..<50 where !seen {
                Thread.sleep(forTimeInterval: 0.1)
                let rows = try transport.run(
                    "SELECT count() FROM system.processes WHERE query LIKE '%numbers(10000000000)%' AND query NOT LIKE '%system.processes%'")
                seen = rows.scalar != "0"
            }
            XCTAssertTrue(seen, "[\(ctx.lane)] the long query never showed up")
            XCTAssertEqual(transport.runningQueryIDs.contains(id), true)
            let cancelled = Date()
            try transport.cancel(queryID: id)
            switch long.wait(seconds: 10) {
            case .success(let r): XCTFail("[\(ctx.lane)] finished: \(r.rows)")
            case .failure(let error):
                XCTAssertEqual((error as? TransportError)?.serverCode, 394, "[\(ctx.lane)] \(error)")
                // The server's own answer, not the local fallback after the grace period.
                XCTAssertFalse("\(error)".contains("did not confirm"), "[\(ctx.lane)] \(error)")
            case nil: XCTFail("[\(ctx.lane)] the cancelled call did not return")
            }
            XCTAssertLessThan(Date().timeIntervalSince(cancelled), 5, "[\(ctx.lane)]")
            XCTAssertFalse(transport.runningQueryIDs.contains(id))
        }
    }

    private func closedPort() throws -> Int {
        #if os(Linux)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw NoFreePort() }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

private struct NoFreePort: Error {}
