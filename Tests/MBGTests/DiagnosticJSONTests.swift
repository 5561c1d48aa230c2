import Foundation
import TestSupport
import XCTest

/// `mbg check --json` of the built binary: every stdout line is one diagnostic
/// that docs/diagnostics-schema.json accepts, pointing at the right place.
final class DiagnosticJSONTests: XCTestCase {
    func schema() throws -> JSONSchema {
        try JSONSchema(contentsOf: repositoryRoot().appendingPathComponent("docs/diagnostics-schema.json"))
    }

    func check(_ text: String, _ extra: [String] = []) throws -> (status: Int32, lines: [JSONValue], stderr: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-diag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("script.mbg")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let r = try runMBG(["check", "--json", file.path] + extra)
        var lines: [JSONValue] = []
        for line in r.stdout.split(separator: "\n") {
            XCTAssertEqual(try schema().validate(jsonText: String(line)), [], String(line))
            let value = try JSONValue.parse(String(line))
            XCTAssertEqual(value["file"], .string(file.path))
            lines.append(value)
        }
        return (r.status, lines, r.stderr)
    }

    func testSyntaxErrorsOnePerLine() throws {
        // Two broken statements: the parser recovers, so both are reported.
        let r = try check("let = 1\nprint \"ok\"\nmigrate events -> 0.1\n")
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.lines.count, 2, "\(r.lines)")
        XCTAssertEqual(r.lines[0]["line"], .number(1))
        XCTAssertEqual(r.lines[0]["column"], .number(5))
        XCTAssertEqual(r.lines[0]["end_line"], .number(1))
        XCTAssertEqual(r.lines[0]["end_column"], .number(6))
        XCTAssertEqual(r.lines[0]["severity"], .string("error"))
        XCTAssertEqual(r.lines[0]["kind"], .string("syntax"))
        XCTAssertEqual(r.lines[1]["line"], .number(3))
        XCTAssertEqual(r.lines[1]["column"], .number(19))
        XCTAssertEqual(r.lines[1]["message"], .string("expected a version after '->', found 0.1"))
        XCTAssertEqual(r.lines[1]["hints"], .array([.string("versions look like v0.1")]))
        XCTAssertFalse(r.stderr.contains("error:"), "diagnostics went to stderr too: \(r.stderr)")
    }

    func testCheckErrorAndScriptOutputKeptApart() throws {
        let r = try check("print \"before\"\nprint coutn + 1\n")
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.lines.count, 1)
        XCTAssertEqual(r.lines[0]["kind"], .string("check"))
        XCTAssertEqual(r.lines[0]["message"], .string("unknown name 'coutn'"))
        XCTAssertEqual(r.lines[0]["line"], .number(2))
        XCTAssertEqual(r.lines[0]["column"], .number(7))
        XCTAssertEqual(r.lines[0]["end_column"], .number(12))
        XCTAssertTrue(r.stderr.contains("before"), "what the script prints goes to stderr: \(r.stderr)")
    }

    func testCleanScriptPrintsNothing() throws {
        let r = try check("let x = 1\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.lines.count, 0)
    }
}
