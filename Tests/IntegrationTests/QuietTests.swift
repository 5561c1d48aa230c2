import Foundation
import MBG
import TestSupport
import XCTest

/// `--quiet`: results and errors only. The same scripts without it print the
/// info lines, so the test sees the flag remove them.
final class QuietTests: XCTestCase {
    func script(_ db: String) -> String {
        """
        table events v0.0 {
            id          String  key
            created_at  DateTime
        } order_by id partition_by "toYYYYMM(created_at)"
        table events v0.1 order_by created_at, id
        migrate events v0.0 -> v0.1 cutoff created_at lateness 1s
        apply events
        print "result line"
        """
    }

    /// Lines that are neither a warning nor an error.
    func infoLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { !$0.hasPrefix("warning:") && !$0.hasPrefix("error") }
    }

    func testQuietKeepsResultsAndErrorsOnly() throws {
        onEveryLane { ctx in
            try ctx.transport.run("CREATE TABLE \(qualified(ctx.database, "events_0_0")) (id String, created_at DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(created_at) ORDER BY id")
            try ctx.transport.run("INSERT INTO \(qualified(ctx.database, "events_0_0")) SELECT toString(number), toDateTime('2024-01-01 00:00:00') + number * 3600 FROM system.numbers LIMIT 2000")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quiet-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("m.mbg")
            try script(ctx.database).write(to: file, atomically: true, encoding: .utf8)
            let base = ["--url", ctx.url.absoluteString, "--database", ctx.database]

            // plan: the plan on stdout, nothing else.
            let loud = try runMBG(["plan", file.path] + base)
            let plan = try runMBG(["plan", file.path, "--quiet"] + base)
            XCTAssertEqual(plan.status, 0, plan.stderr)
            // The plan itself is a result (its T differs by the second it was made).
            func headers(_ text: String) -> [Substring] { text.split(separator: "\n").filter { $0.hasPrefix("+ ") || $0.hasPrefix("= ") } }
            XCTAssertEqual(headers(plan.stdout), headers(loud.stdout))
            XCTAssertFalse(headers(plan.stdout).isEmpty, plan.stdout)
            XCTAssertTrue(plan.stdout.contains("backfill"), plan.stdout)
            // What the script prints goes to stderr under `plan`: a result, kept.
            XCTAssertEqual(infoLines(plan.stderr), ["result line"], "[\(ctx.name)] \(plan.stderr)")

            // run with apply: the print stays; created/bridge/backfilled/verified lines go.
            let run = try runMBG(["run", file.path, "--yes", "--quiet"] + base, timeout: 120)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.stdout, "result line\n", "[\(ctx.name)] only the script's result: \(run.stdout)")
            XCTAssertEqual(infoLines(run.stderr), [], "[\(ctx.name)] \(run.stderr)")
            // Without --quiet the same run (already applied) says so.
            let again = try runMBG(["run", file.path, "--yes"] + base, timeout: 120)
            XCTAssertTrue(again.stderr.contains("events: already verified"), "[\(ctx.name)] \(again.stderr)")
            let quietAgain = try runMBG(["run", file.path, "--yes", "--quiet"] + base, timeout: 120)
            XCTAssertFalse(quietAgain.stderr.contains("already"), quietAgain.stderr)

            // Errors still show, with their exit code.
            let broken = try runMBG(["--quiet"] + base, stdin: #"sql "SELECT * FROM no_such_table""#)
            let fails = try runMBG(["--quiet", "-c", #"sql "SELECT * FROM no_such_table""#] + base)
            XCTAssertNotEqual(broken.status, 0)
            XCTAssertEqual(fails.status, 69, fails.stderr)
            XCTAssertTrue(fails.stderr.contains("no_such_table"), fails.stderr)
        }
    }

    /// A fresh apply without --quiet prints the info lines that --quiet removes.
    func testWithoutQuietTheInfoLinesShow() throws {
        onEveryLane([.v26]) { ctx in
            try ctx.transport.run("CREATE TABLE \(qualified(ctx.database, "events_0_0")) (id String, created_at DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(created_at) ORDER BY id")
            try ctx.transport.run("INSERT INTO \(qualified(ctx.database, "events_0_0")) SELECT toString(number), toDateTime('2024-01-01 00:00:00') + number * 3600 FROM system.numbers LIMIT 2000")
            let r = try runMBG(["--url", ctx.url.absoluteString, "--database", ctx.database, "--yes"], stdin: script(ctx.database), timeout: 120)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("backfilled") && r.stderr.contains("verified"), r.stderr)
            XCTAssertTrue(r.stdout.contains("result line"), r.stdout)
        }
    }
}
