import Foundation
import TestSupport
import XCTest

/// Runs every `Tests/Scripts/**/*.mbg` through the real binary and checks the
/// expectations written in its comments:
///
///     # args: run --dry-run          (default: run --dry-run FILE)
///     # expect: a line of stdout     (all of them, in order, exactly)
///     # expect error: text           (must appear in stderr)
///     # exit: 65                     (default 0, or 65 when errors are expected)
///     # stdin: text                  (fed to the process)
///
/// In an expected line, `{{any}}` matches any text (times chosen at run time).
///
/// Adding a case is adding a file.
final class GoldenScriptTests: XCTestCase {
    struct Case {
        var path: String
        var args: [String] = []
        var expected: [String] = []
        var expectedErrors: [String] = []
        var exit: Int32?
        var stdin: String?
        var anyOutput = false
    }

    static func cases() -> [Case] {
        let root = repositoryRoot().appendingPathComponent("Tests/Scripts")
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var cases: [Case] = []
        for case let relative as String in walker where relative.hasSuffix(".mbg") {
            let path = "Tests/Scripts/" + relative
            let text = String(decoding: FileManager.default.contents(atPath: root.appendingPathComponent(relative).path) ?? Data(), as: UTF8.self)
            var c = Case(path: path)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                guard let hash = line.range(of: "# ") else { continue }
                let comment = line[hash.upperBound...]
                if comment.hasPrefix("expect: ") {
                    c.expected.append(String(comment.dropFirst("expect: ".count)))
                } else if comment == "expect:" {
                    c.expected.append("")
                } else if comment.hasPrefix("expect error: ") {
                    c.expectedErrors.append(String(comment.dropFirst("expect error: ".count)))
                } else if comment.hasPrefix("exit: ") {
                    c.exit = Int32(comment.dropFirst("exit: ".count).trimmingCharacters(in: .whitespaces))
                } else if comment.hasPrefix("args: ") {
                    c.args = shellWords(String(comment.dropFirst("args: ".count)))
                } else if comment.hasPrefix("stdin: ") {
                    c.stdin = (c.stdin.map { $0 + "\n" } ?? "") + comment.dropFirst("stdin: ".count)
                } else if comment.hasPrefix("expect any output") {
                    c.anyOutput = true
                }
            }
            cases.append(c)
        }
        return cases.sorted { $0.path < $1.path }
    }

    func testScripts() throws {
        let cases = Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 80, "golden scripts missing")
        var failures = 0
        for c in cases {
            var args = c.args.isEmpty ? ["run", "--dry-run", "FILE"] : c.args
            args = args.map { $0 == "FILE" ? c.path : $0 }
            if !args.contains(c.path) && !args.contains("-c") && c.stdin == nil { args.append(c.path) }
            let r = try runMBG(args, stdin: c.stdin, directory: repositoryRoot())
            let name = c.path.replacingOccurrences(of: repositoryRoot().path + "/", with: "")
            let expectedExit = c.exit ?? (c.expectedErrors.isEmpty ? 0 : 65)
            var problems: [String] = []
            if r.status != expectedExit { problems.append("exit \(r.status), expected \(expectedExit)") }
            if !c.anyOutput {
                let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let got = lines.last == "" ? Array(lines.dropLast()) : lines
                if !linesMatch(got, c.expected) {
                    problems.append("stdout:\n" + got.joined(separator: "\n") + "\n--- expected:\n" + c.expected.joined(separator: "\n"))
                }
            }
            for e in c.expectedErrors where !r.stderr.contains(e) {
                problems.append("stderr lacks \"\(e)\"")
            }
            if !problems.isEmpty {
                failures += 1
                XCTFail("\(name): " + problems.joined(separator: "; ") + "\nstderr:\n\(r.stderr)")
            }
        }
        print("golden scripts: \(cases.count - failures) passed, \(failures) failed")
    }
}

/// Splits `a 'b c' d` into words; single quotes group.
func shellWords(_ text: String) -> [String] {
    var words: [String] = []
    var current = ""
    var quoted = false
    var inWord = false
    for ch in text {
        if ch == "'" {
            quoted.toggle()
            inWord = true
        } else if ch == " " && !quoted {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else {
            current.append(ch)
            inWord = true
        }
    }
    if inWord { words.append(current) }
    return words
}

/// Lines equal, where `{{any}}` in an expected line matches any text.
func linesMatch(_ got: [String], _ expected: [String]) -> Bool {
    guard got.count == expected.count else { return false }
    for (g, e) in zip(got, expected) {
        if !e.contains("{{any}}") {
            if g != e { return false }
            continue
        }
        let pattern = "^" + e.components(separatedBy: "{{any}}").map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: ".*") + "$"
        if g.range(of: pattern, options: .regularExpression) == nil { return false }
    }
    return true
}
