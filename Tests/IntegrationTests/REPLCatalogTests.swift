import ArgumentParser
import Foundation
import MBG
import XCTest

@testable import MBGCLI

/// The REPL's Tab completion offers the connected server's tables and their
/// columns, and sees tables created in the session without reconnecting.
final class REPLCatalogTests: XCTestCase {
    func testCompletionFromLiveCatalogRefreshedAfterDDL() {
        onEveryLane { ctx in
            try ctx.transport.run(
                "CREATE TABLE \(quoteIdentifier(ctx.database)).things (thing_id UInt64, thing_name String) ENGINE = MergeTree ORDER BY thing_id")
            let common = try CommonOptions.parse(["--url", ctx.url.absoluteString, "--database", ctx.database])
            let settings = RunSettings(common: common, mode: .live)
            let interpreter = try makeInterpreter(settings, output: TerminalOutput(json: false))
            let backend = InterpreterBackend(interpreter: interpreter, settings: settings)

            XCTAssertTrue(backend.completions(prefix: "thi", line: "sql \"SELECT * FROM thi").contains("things"))
            XCTAssertEqual(
                backend.completions(prefix: "thing_", line: "sql \"SELECT thing_ FROM things").filter { $0.hasPrefix("thing_") },
                ["thing_id", "thing_name"], "columns of a table named in the statement")
            XCTAssertFalse(backend.completions(prefix: "other", line: "other").contains("others"))

            // DDL through the session refreshes the cached catalog.
            XCTAssertTrue(backend.evaluate(
                "sql \"CREATE TABLE \(ctx.database).others (o UInt8) ENGINE = MergeTree ORDER BY o\""))
            XCTAssertTrue(backend.completions(prefix: "other", line: "other").contains("others"))
            XCTAssertTrue(try backend.tableNames().contains("others"))
            XCTAssertTrue(try backend.describe("others").contains("CREATE TABLE"))
        }
    }
}
