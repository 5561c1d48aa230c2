import Foundation
import TestSupport
import XCTest

@testable import MBG

/// The real `mbg` binary against the real engines (`eval "$(scripts/engines-up)"`):
/// the exit code and message of every error class that needs a server, and the
/// security properties (hostile names, passwords, TLS). Each lane gets its own
/// fresh database (`onEveryLane`), dropped afterwards.
final class LiveCLITests: XCTestCase {
    static let password = ProcessInfo.processInfo.environment["MBG_TEST_PASSWORD"] ?? "mbg_test_password"
    static let user = ProcessInfo.processInfo.environment["MBG_TEST_USER"] ?? "mbg_test"

    func script(_ table: String, _ actions: String, options: String = "strategy fence") -> String {
        let q = isPlainIdentifier(table) ? table : "`\(table)`"
        return """
            table \(q) v0.0 {
                id UInt64 key
                ts DateTime
                payload String
            } order_by id partition_by "toYYYYMM(ts)"
            table \(q) v0.1 order_by ts, id
            migrate \(q) v0.0 -> v0.1 \(options)
            \(actions)

            """
    }

    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "mbg-cli-\(UUID().uuidString).mbg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func seed(_ lane: LaneContext, _ physical: String, rows: Int = 10_000) throws {
        let t = qualified(lane.database, physical)
        try lane.transport.run("CREATE TABLE \(t) (id UInt64, ts DateTime, payload String) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
        try lane.transport.run("INSERT INTO \(t) SELECT number, toDateTime('2024-01-01 00:00:00') + number * 3000, toString(number) FROM numbers(\(rows))")
    }

    // MARK: - error classes that need a server

    func testServerErrorClasses() throws {
        onEveryLane { lane in
            let base = ["--url", lane.url.absoluteString, "--database", lane.database]
            // Authentication failure: 69, the server's code, never the password tried.
            let wrong = "wrong-secret-\(UInt32.random(in: 0...UInt32.max))"
            var r = try runMBG(["-c", "sql \"SELECT 1\"", "--user", Self.user] + base, environment: ["MBG_PASSWORD": wrong])
            XCTAssertEqual(r.status, 69, "[\(lane.name)] auth failure: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(lane.lane.isModern ? "516" : "193"), "[\(lane.name)] \(r.stderr)")
            XCTAssertFalse((r.stdout + r.stderr).contains(wrong), "[\(lane.name)] the password tried leaked")
            print("[\(lane.name)] auth failure: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")

            // A ClickHouse error: 69 with the code and name.
            r = try runMBG(["-c", "sql \"SELECT * FROM no_such_table\""] + base)
            XCTAssertEqual(r.status, 69, "[\(lane.name)] \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("ClickHouse error 60"), "[\(lane.name)] \(r.stderr)")
            print("[\(lane.name)] ClickHouse error: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")

            // A migration applied, then a foreign row in the new table: verify exits 70.
            try seed(lane, "ev_0_0")
            r = try runMBG(["run", try file(script("ev", "apply ev"))] + base)
            XCTAssertEqual(r.status, 0, "[\(lane.name)] apply: \(r.stderr)")
            try lane.transport.run("INSERT INTO \(qualified(lane.database, "ev_0_1")) VALUES (424242, toDateTime('2024-01-05 00:00:00'), 'foreign')")
            r = try runMBG(["run", try file(script("ev", "verify ev"))] + base)
            XCTAssertEqual(r.status, 70, "[\(lane.name)] verify: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("202401"), "[\(lane.name)] names the partition: \(r.stderr)")
            print("[\(lane.name)] verification mismatch: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")

            // Another run's fresh lock: 73, naming the holder.
            let lock = #"{"owner":"other-host:4242","since":"2024-01-01T00:00:00Z"}"#
            try lane.transport.run("INSERT INTO \(qualified(lane.database, "_mbg_state")) (migration, key, value, owner, seq) VALUES ('ev', 'lock', \(quoteString(lock)), 'other-host:4242', 9000000000000000000)")
            r = try runMBG(["run", try file(script("ev", "apply ev"))] + base)
            XCTAssertEqual(r.status, 73, "[\(lane.name)] lock: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("other-host:4242"), "[\(lane.name)] \(r.stderr)")
            print("[\(lane.name)] lock held: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    // MARK: - security

    /// A name full of SQL metacharacters and Unicode goes through a whole
    /// migration as one table; the table `victim` survives.
    func testHostileNameThroughWholeMigration() throws {
        let hostile = "x'; DROP TABLE victim; -- \"é 名\\"
        onEveryLane { lane in
            let base = ["--url", lane.url.absoluteString, "--database", lane.database, "--yes"]
            try lane.transport.run("CREATE TABLE \(qualified(lane.database, "victim")) (a UInt8) ENGINE = MergeTree ORDER BY a")
            try seed(lane, hostile + "_0_0")
            let r = try runMBG(["run", try file(script(hostile, "apply \(("`" + hostile + "`"))\ncutover `\(hostile)`\nfinish `\(hostile)`", options: "strategy fence cutover swap"))] + base)
            XCTAssertEqual(r.status, 0, "[\(lane.name)] \(r.stdout)\n\(r.stderr)")
            let names = try lane.transport.run("SELECT name FROM system.tables WHERE database = \(quoteString(lane.database)) ORDER BY name").rows.map { $0.first ?? nil }
            XCTAssertTrue(names.contains("victim"), "[\(lane.name)] victim dropped: \(names)")
            XCTAssertTrue(names.contains(hostile + "_0_0"), "[\(lane.name)] \(names)")
            let n = try lane.transport.run("SELECT count(), uniqExact(id) FROM \(qualified(lane.database, hostile + "_0_0"))").rows.first
            XCTAssertEqual(n?[0], "10000", "[\(lane.name)]")
            XCTAssertEqual(n?[1], "10000", "[\(lane.name)]")
        }
    }

    /// With the password user, nothing mbg prints or stores holds the password:
    /// not stdout, stderr (success and failure), the state table, nor the REPL history.
    func testPasswordNeverAppears() throws {
        let marker = Self.password
        onEveryLane { lane in
            let base = ["--url", lane.url.absoluteString, "--database", lane.database, "--user", Self.user, "--yes"]
            let env = ["MBG_PASSWORD": marker]
            try seed(lane, "ev_0_0", rows: 1000)
            var outputs = ""
            let full = script("ev", "apply ev\nstatus ev\ncutover ev\nfinish ev keep\nprint env(\"MBG_PASSWORD\")", options: "strategy fence cutover swap")
            var r = try runMBG(["run", try file(full)] + base, environment: env)
            outputs += r.stdout + r.stderr
            XCTAssertEqual(r.status, 3, "[\(lane.name)] env() of a password variable is refused (a runtime error): \(r.stderr)")
            r = try runMBG(["-c", "sql \"SELECT throwIf(1, 'boom')\""] + base, environment: env)
            XCTAssertEqual(r.status, 69)
            outputs += r.stdout + r.stderr
            // The same with the password in the URL instead.
            let inURL = lane.url.absoluteString.replacingOccurrences(of: "://", with: "://\(Self.user):\(marker)@")
            r = try runMBG(["-c", "sql \"SELECT * FROM nope\"", "--url", inURL, "--database", lane.database])
            outputs += r.stdout + r.stderr
            XCTAssertEqual(r.status, 69, "[\(lane.name)] \(r.stderr)")
            XCTAssertFalse(outputs.contains(marker), "[\(lane.name)] the password appears in output:\n\(outputs)")
            let state = try lane.transport.run("SELECT * FROM \(qualified(lane.database, "_mbg_state"))").rows
            XCTAssertFalse(state.isEmpty)
            XCTAssertFalse(state.flatMap { $0 }.contains { ($0 ?? "").contains(marker) }, "[\(lane.name)] password in _mbg_state")

            // The REPL on a terminal (script(1) gives it a pty), its history file checked afterwards.
            let history = NSTemporaryDirectory() + "mbg-history-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: history) }
            let bin = productsDirectory().appendingPathComponent("mbg").path
            let cmd = ([bin] + base).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            p.arguments = ["-qec", cmd, "/dev/null"]
            p.environment = ProcessInfo.processInfo.environment.merging(["MBG_PASSWORD": marker, "MBG_HISTORY": history, "TERM": "dumb", "NO_COLOR": "1"]) { $1 }
            let input = Pipe(), out = Pipe()
            p.standardInput = input
            p.standardOutput = out
            p.standardError = out
            try p.run()
            for line in ["sql \"SELECT 1\"", "let p = env(\"MBG_PASSWORD\")", "sql \"SELECT * FROM nope\"", "print 40 + 2", ".quit"] {
                input.fileHandleForWriting.write(Data((line + "\n").utf8))
                Thread.sleep(forTimeInterval: 0.5)
            }
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertTrue(text.contains("42"), "[\(lane.name)] the REPL ran: \(text)")
            XCTAssertFalse(text.contains(marker), "[\(lane.name)] password on the REPL's terminal")
            // libedit stores spaces as \\040.
            let saved = ((try? String(contentsOfFile: history, encoding: .utf8)) ?? "").replacingOccurrences(of: "\\040", with: " ")
            XCTAssertTrue(saved.contains("40 + 2"), "[\(lane.name)] history written: \(saved)")
            XCTAssertFalse(saved.contains(marker), "[\(lane.name)] password in history")
        }
    }
}
