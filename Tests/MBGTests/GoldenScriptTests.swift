import Foundation
import TestSupport
import Testing

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
/// Adding a case is adding a file. Each file is its own test case (Swift
/// Testing's parameterized test), so a failure names the file.
struct GoldenScriptTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var args: [String] = []
        var expected: [String] = []
        var expectedErrors: [String] = []
        var exit: Int32?
        var stdin: String?
        var anyOutput = false

        var testDescription: String { path }
    }

    static let all = cases()

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

    @Test func scriptsAreFound() {
        #expect(Self.all.count >= 80, "golden scripts missing")
    }

    @Test(arguments: all)
    func script(_ file: Case) throws {
        var args = file.args.isEmpty ? ["run", "--dry-run", "FILE"] : file.args
        args = args.map { $0 == "FILE" ? file.path : $0 }
        if !args.contains(file.path) && !args.contains("-c") && file.stdin == nil { args.append(file.path) }
        let r = try runProgram(
            productsDirectory().appendingPathComponent("mbg"), args, stdin: file.stdin,
            environment: ["MBG_HOME": repositoryRoot().path], directory: repositoryRoot(), timeout: 60)
        #expect(!r.timedOut, "\(file.path): did not finish within 60 s")
        let expectedExit = file.exit ?? (file.expectedErrors.isEmpty ? 0 : 65)
        #expect(r.status == expectedExit, "\(file.path): exit \(r.status), expected \(expectedExit)\nstderr:\n\(r.stderr)")
        if !file.anyOutput {
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let got = lines.last == "" ? Array(lines.dropLast()) : lines
            #expect(
                linesMatch(got, file.expected),
                "\(file.path): stdout:\n\(got.joined(separator: "\n"))\n--- expected:\n\(file.expected.joined(separator: "\n"))")
        }
        for e in file.expectedErrors {
            #expect(r.stderr.contains(e), "\(file.path): stderr lacks \"\(e)\"\nstderr:\n\(r.stderr)")
        }
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
