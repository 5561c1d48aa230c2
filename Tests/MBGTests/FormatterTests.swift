import Foundation
import TestSupport
import XCTest

@testable import MBG

/// `mbg fmt`: on every script of the golden corpus, the standard library, the
/// examples and thousands of mutated scripts, formatting keeps the syntax tree,
/// keeps every comment, and a second run changes nothing.
final class FormatterTests: XCTestCase {
    /// The syntax tree as text, source ranges left out: two scripts with the same
    /// dump mean the same program.
    static func dump(_ text: String) -> String? {
        let (program, diagnostics) = Parser.parse(SourceFile(name: "x", text: text))
        guard diagnostics.isEmpty else { return nil }
        return String(describing: program.statements).replacingOccurrences(
            of: #"SourceRange\(start: \d+, end: \d+\)"#, with: "_", options: .regularExpression)
    }

    static func commentTexts(_ text: String) -> [String] {
        var lexer = Lexer(file: SourceFile(name: "x", text: text))
        _ = lexer.tokenize()
        return lexer.comments.map { r in
            var t = String(decoding: Array(text.utf8)[r.start..<r.end], as: UTF8.self)
            while let last = t.last, last == " " || last == "\t" || last == "\r" { t.removeLast() }
            return t
        }
    }

    /// Checks the three properties; returns false when `text` does not parse.
    @discardableResult
    func checkProperties(_ text: String, _ name: String) -> Bool {
        guard let before = Self.dump(text) else { return false }
        let once: String
        do {
            once = try Formatter.format(text, name: name)
        } catch {
            XCTFail("\(name): a script that parses did not format: \(error)")
            return true
        }
        guard let after = Self.dump(once) else {
            XCTFail("\(name): the formatted script does not parse:\n\(once)")
            return true
        }
        XCTAssertEqual(before, after, "\(name): formatting changed the syntax tree:\n\(once)")
        XCTAssertEqual(Self.commentTexts(text), Self.commentTexts(once), "\(name): comments lost or reordered:\n\(once)")
        let twice = try? Formatter.format(once, name: name)
        XCTAssertEqual(once, twice, "\(name): formatting is not idempotent")
        return true
    }

    static func corpus() -> [(String, String)] {
        let root = repositoryRoot()
        var paths: [String] = []
        if let walker = FileManager.default.enumerator(atPath: root.appendingPathComponent("Tests/Scripts").path) {
            for case let p as String in walker where p.hasSuffix(".mbg") { paths.append("Tests/Scripts/" + p) }
        }
        for dir in ["stdlib", "examples"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(dir).path)) ?? []
            paths += names.filter { $0.hasSuffix(".mbg") }.map { "\(dir)/\($0)" }
        }
        return paths.sorted().compactMap { p in
            FileManager.default.contents(atPath: root.appendingPathComponent(p).path).map { (p, String(decoding: $0, as: UTF8.self)) }
        }
    }

    func testGoldenCorpusStdlibAndExamples() {
        let files = Self.corpus()
        var formatted = 0
        for (name, text) in files where checkProperties(text, name) { formatted += 1 }
        print("fmt corpus: \(formatted) of \(files.count) files parse and were checked")
        XCTAssertGreaterThan(formatted, 100)
        XCTAssertTrue(files.contains { $0.0 == "stdlib/bluegreen.mbg" })
    }

    func testMutatedScripts() {
        // Mutations often keep a script valid: the properties really ran on many.
        XCTAssertGreaterThan(checkAll(RandomInputTests.mutatedScripts(count: 3000, seed: 23), "mutated"), 500)
    }

    /// Comments, newlines, blanks and `;` inserted at random places of the
    /// corpus (stdlib and examples included): where comments can go is the
    /// formatter's hardest part.
    static func commentedScripts(count: Int, seed: UInt64) -> [String] {
        let corpus = corpus().map { Array($0.1.utf8) }
        var rng = RandomInputTests.LCG(state: seed)
        let inserts = ["# note\n", "\n", " ", "\n\n", "#", ";", "# a # b\n"].map { Array($0.utf8) }
        return (0..<count).map { _ in
            var bytes = corpus[rng.below(corpus.count)]
            for _ in 0..<(1 + rng.below(4)) where !bytes.isEmpty {
                bytes.insert(contentsOf: inserts[rng.below(inserts.count)], at: rng.below(bytes.count))
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    func testCommentedScripts() {
        XCTAssertGreaterThan(checkAll(Self.commentedScripts(count: 3000, seed: 5), "commented"), 1000)
    }

    /// How many of `inputs` parse and so had the properties checked.
    func checkAll(_ inputs: [String], _ label: String) -> Int {
        var formatted = 0
        for (n, text) in inputs.enumerated() where checkProperties(text, "\(label) #\(n)") { formatted += 1 }
        print("fmt \(label): \(formatted) of \(inputs.count) parse and were checked")
        return formatted
    }

    func testCanonicalLayout() throws {
        let source = """
            # header

            table events v0.0 {
              id String key  # the id
              created_at DateTime
              name String default "''"
            } order_by id   partition_by "toYYYYMM(created_at)"
            migrate events v0.0->v0.1 via mv cutoff created_at lateness 300
            let xs=[1,2,  3]
            fn f(a,b){ if a>b { return a } else { return (b+1)*2 } }
            print f(1,2)+ -3 ; print not (true and false)
            """
        let expected = """
            # header

            table events v0.0 {
                id          String  key  # the id
                created_at  DateTime
                name        String  default "''"
            } order_by id partition_by "toYYYYMM(created_at)"
            migrate events v0.0 -> v0.1
                via mv
                cutoff created_at lateness 5m
            let xs = [1, 2, 3]
            fn f(a, b) {
                if a > b {
                    return a
                } else {
                    return (b + 1) * 2
                }
            }
            print f(1, 2) + -3
            print not (true and false)

            """
        XCTAssertEqual(try Formatter.format(source), expected)
        checkProperties(source, "layout")
    }

    /// Where a newline alone would join two statements or two columns, the
    /// formatter keeps them apart with `;` or `,`.
    func testSeparatorsThatMatter() throws {
        let source = "table t v1 order_by a; order_by = 2\ntable u { a String, key String }\nlet s = sql; \"x\"\n"
            + "table w v1 index i a type minmax; granularity\ntable x v1; {a: 1}\n"
        let out = try Formatter.format(source)
        XCTAssertTrue(out.contains("table t v1 order_by a;\norder_by = 2"), out)
        XCTAssertTrue(out.contains("a    String,\n    key  String"), out)
        XCTAssertTrue(out.contains("let s = sql;\n\"x\""), out)
        XCTAssertTrue(out.contains("type minmax;\ngranularity\n"), out)
        XCTAssertTrue(out.contains("table x v1;\n{a: 1}"), out)
        checkProperties(source, "separators")
    }

    func testCommentsInsideListsBreakThem() throws {
        let source = "let xs = [1, # one\n 2]\nlet r = {a: 1, b: f(x, # why\n y)}\n"
        let out = try Formatter.format(source)
        XCTAssertEqual(out, "let xs = [\n    1,  # one\n    2,\n]\nlet r = {\n    a: 1,\n    b: f(\n        x,  # why\n        y\n    ),\n}\n")
        checkProperties(source, "lists")
    }

    /// Comments and constructs in odd places: inside a type's parentheses, between
    /// clauses, between operands, in empty blocks; declarations inside expressions.
    func testAwkwardPlaces() throws {
        let source = #"""
table t v0.0 {
  a Enum8('x' = 1, # inside a type
          'y' = 2) key
  b String materialized "upper(a)" comment "the b" codec "ZSTD(3)" ttl "ts + INTERVAL 1 DAY"
  c String ephemeral
  `key` UInt8, key String
} order_by a, toDate(ts) # after clauses
  settings index_granularity = 8192, x = 'y', z = "w"
  # between clauses
  index ix b type bloom_filter(0.01) granularity 4
  projection p "SELECT a ORDER BY b" comment "tbl" engine ReplacingMergeTree(
     ver) database db cluster c1 sample_by none
view v to t v0.0 as """
    SELECT *
      FROM x
    """ database d cluster c
let m = f(migrate t v0.0 -> v0.1 batch 10 name n, 2)
let k = {"a b": 1, (x + 1): [1, -2, - -3, not not true], c: """
  text
  """}
let y = 1 + # half way
  2
if a { } else { # nothing
}
if a { print 1 } else { if b { print 2 } }
fn g() {
  # only a comment
}
let z = (table t v0.2 order_by a)
(x).y
let s = (sql)
"str"
migrate t v0.1 -> v0.2 strategy fence
cutover swap
let w = -(1 + 2) * (3 - 4) / (5 % 6) - (7 - 8) - 9
print (a == b) == c, a < (b < c), x[1][2].z(3)(4), events v0.1
return
"""#
        XCTAssertTrue(checkProperties(source, "awkward"))
        let out = try Formatter.format(source)
        XCTAssertEqual(out.components(separatedBy: "# inside a type").count, 2, "a comment inside a type printed twice:\n\(out)")
        XCTAssertTrue(out.contains("let m = f((migrate t v0.0 -> v0.1 batch 10 name n), 2)"), out)
        XCTAssertTrue(out.contains("(x + 1): [1, -2, - -3, not not true],"), out)
        XCTAssertTrue(out.contains("migrate t v0.1 -> v0.2\n    strategy fence\n    cutover swap"), out)
    }

    func testSyntaxErrorsAreReported() {
        XCTAssertThrowsError(try Formatter.format("table t {")) { error in
            XCTAssertTrue(error is DiagnosticList)
        }
    }

    func testCommandRewritesChecksAndPipes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-fmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let messy = dir.appendingPathComponent("messy.mbg")
        let tidy = dir.appendingPathComponent("tidy.mbg")
        try "let   x=1 # one\n".write(to: messy, atomically: true, encoding: .utf8)
        try "let y = 2\n".write(to: tidy, atomically: true, encoding: .utf8)

        let check = try runMBG(["fmt", "--check", messy.path, tidy.path])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.stdout, messy.path + "\n")
        XCTAssertEqual(try String(contentsOf: messy, encoding: .utf8), "let   x=1 # one\n", "--check wrote the file")

        let write = try runMBG(["fmt", messy.path, tidy.path])
        XCTAssertEqual(write.status, 0, write.stderr)
        XCTAssertEqual(try String(contentsOf: messy, encoding: .utf8), "let x = 1  # one\n")
        XCTAssertEqual(try runMBG(["fmt", "--check", messy.path, tidy.path]).status, 0)

        let pipe = try runMBG(["fmt", "-"], stdin: "print  1+2\n")
        XCTAssertEqual(pipe.status, 0)
        XCTAssertEqual(pipe.stdout, "print 1 + 2\n")

        let broken = try runMBG(["fmt", "-"], stdin: "table t {\n")
        XCTAssertEqual(broken.status, 65)
        XCTAssertTrue(broken.stderr.contains("expected '}'"), broken.stderr)
    }
}
