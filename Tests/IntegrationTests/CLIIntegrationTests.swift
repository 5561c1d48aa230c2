import Foundation
import MBG
import TestSupport
import XCTest

/// The real `mbg` binary against both real lanes.
final class CLIIntegrationTests: XCTestCase {
    func testVersionOnBothLanes() {
        onEveryLane { ctx in
            let r = try runMBG(["--url", ctx.url.absoluteString, "-c", #"sql "SELECT version() AS v""#])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains(ctx.lane == .v18 ? "18.16" : "26.9"), r.stdout)
        }
    }

    func testWrongPasswordIsClearAndNeverShown() {
        onEveryLane { ctx in
            let secret = "Sup3r-S3cret-\(UUID().uuidString.prefix(6))"
            let r = try runMBG(
                ["--url", ctx.url.absoluteString, "--user", "mbg_test", "--password-env", "MY_PW", "-c", #"sql "SELECT 1""#],
                environment: ["MY_PW": secret])
            XCTAssertEqual(r.status, 69, "a ClickHouse error exits 69: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("password") || r.stderr.contains("Authentication"), r.stderr)
            XCTAssertFalse((r.stdout + r.stderr).contains(secret), "the password leaked")
            // The right password works.
            let ok = try runMBG(
                ["--url", ctx.url.absoluteString, "--user", "mbg_test", "--password-env", "MY_PW", "-c", #"sql "SELECT 1 AS one""#],
                environment: ["MY_PW": ProcessInfo.processInfo.environment["MBG_TEST_PASSWORD"] ?? "mbg_test_password"])
            XCTAssertEqual(ok.status, 0, ok.stderr)
        }
    }

    func testPlanApplyAndDrift() throws {
        onEveryLane { ctx in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let script = dir.appendingPathComponent("things.mbg")
            try """
                table things v1.0 {
                    id UInt64 key
                    name String
                    at DateTime default "now()"
                } partition_by "toYYYYMM(at)" settings index_granularity = 1024
                apply
                """.write(to: script, atomically: true, encoding: .utf8)
            let url = ctx.url.absoluteString
            var r = try runMBG(["plan", script.path, "--url", url, "--database", ctx.database, "--detailed-exitcode"])
            XCTAssertEqual(r.status, 2, "a missing table is a pending change: \(r.stdout)\(r.stderr)")
            XCTAssertTrue(r.stdout.contains("create table things_1_0"), r.stdout)
            r = try runMBG(["run", script.path, "--url", url, "--database", ctx.database])
            XCTAssertEqual(r.status, 0, r.stderr)
            let exists = try ctx.transport.execute(
                Query("SELECT count() FROM system.tables WHERE database = \(quoteString(ctx.database)) AND name = 'things_1_0'"))
            XCTAssertEqual(exists.scalar, "1")
            // Applied as declared: planning again finds nothing to do, on both server versions.
            r = try runMBG(["plan", script.path, "--url", url, "--database", ctx.database, "--detailed-exitcode"])
            XCTAssertEqual(r.status, 0, "no drift expected after apply: \(r.stdout)\(r.stderr)")
            XCTAssertTrue(r.stdout.contains("exists as declared"), r.stdout)
            // A different declaration of the same table is drift: reported, never recreated.
            try """
                table things v1.0 {
                    id UInt64 key
                    name LowCardinality(String)
                    at DateTime default "now()"
                } partition_by "toYYYYMM(at)" settings index_granularity = 1024
                """.write(to: script, atomically: true, encoding: .utf8)
            r = try runMBG(["plan", script.path, "--url", url, "--database", ctx.database, "--detailed-exitcode"])
            XCTAssertEqual(r.status, 2, r.stdout)
            XCTAssertTrue(r.stdout.contains("differs from its declaration"), r.stdout)
            XCTAssertTrue(r.stdout.contains("LowCardinality(String)"), r.stdout)
        }
    }

    func testServerErrorNamesTheStatement() {
        onEveryLane { ctx in
            let r = try runMBG(["--url", ctx.url.absoluteString, "-c", "print 1\nsql \"SELECT * FROM \(ctx.database).no_such_table\""])
            XCTAssertEqual(r.status, 69)
            XCTAssertTrue(r.stderr.contains("60"), "ClickHouse's code for an unknown table: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("<-c>:2:1"), r.stderr)
            XCTAssertEqual(r.stdout, "1\n")
        }
    }

    /// A derived version whose previous version is not declared takes its
    /// columns and clauses from the live table, versioned or not.
    func testDerivedVersionFromLiveTable() {
        onEveryLane { ctx in
            try ctx.transport.run(
                "CREATE TABLE \(quoteIdentifier(ctx.database)).events (id String, name String, ts DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
            func mbg(_ statements: String) throws -> ProcessOutcome {
                try runMBG(["--url", ctx.url.absoluteString, "--database", ctx.database, "-c", statements])
            }
            let r = try mbg("table events v0.1 order_by id, ts\nprint (events v0.1).columns\nprint (events v0.1).partition_by\nplan")
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains(#"{name: "name", type: "String", key: false}"#), r.stdout)
            XCTAssertTrue(r.stdout.contains("toYYYYMM(ts)"), r.stdout)
            XCTAssertTrue(r.stdout.contains("create table events_0_1"), r.stdout)
            XCTAssertTrue(r.stdout.contains("ORDER BY (id, ts)"), r.stdout)
            // A later version derives from the versioned live table in turn.
            try ctx.transport.run(
                "CREATE TABLE \(quoteIdentifier(ctx.database)).events_0_1 (id String, name String, ts DateTime, extra UInt8) ENGINE = MergeTree ORDER BY (id, ts)")
            let again = try mbg("table events v0.2 order_by ts\nprint len((events v0.2).columns)\nlet m = migrate events -> v0.2\nprint m.from")
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertEqual(again.stdout, "4\n\(ctx.database).events_0_1\n", "v0.2 derives from the highest live version below it")
        }
    }
}
