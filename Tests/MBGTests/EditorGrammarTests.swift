import Foundation
import TestSupport
import XCTest

@testable import MBG

/// editors/: the TextMate grammar names every keyword the parser knows, and
/// the VS Code files are valid JSON that point at it.
final class EditorGrammarTests: XCTestCase {
    /// The words the parser reads, taken from its source and its word sets.
    static func parserKeywords() throws -> Set<String> {
        let source = try String(
            contentsOf: repositoryRoot().appendingPathComponent("Sources/MBG/Syntax/Parser.swift"), encoding: .utf8)
        var words = Parser.statementWords.union(Parser.clauseWords).union(Parser.migrateWords).union(Parser.reserved)
        let patterns = [
            #"(?:checkWord|matchWord)\("([a-z_]+)"\)"#,  // checkWord("key")
            #"case "[a-z_]+"(?:, "[a-z_]+")*"#,  // case "true", "false":
            #"\[(?:"[a-z_]+"(?:, )?)+\]\.contains"#,  // ["swap", "versioned"].contains
            #"text == "[a-z_]+""#,  // action flags
        ]
        for pattern in patterns {
            let regex = try NSRegularExpression(pattern: pattern)
            for m in regex.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                let text = String(source[Range(m.range, in: source)!])
                let quoted = try NSRegularExpression(pattern: #""([a-z_]+)""#)
                for q in quoted.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    words.insert(String(text[Range(q.range(at: 1), in: text)!]))
                }
            }
        }
        return words
    }

    /// The words of the grammar's `\b(a|b|c)\b` rules.
    static func grammarKeywords() throws -> Set<String> {
        let data = try Data(contentsOf: repositoryRoot().appendingPathComponent("editors/mbg.tmLanguage.json"))
        let grammar = try JSONValue.parse(String(decoding: data, as: UTF8.self))
        var words = Set<String>()
        func walk(_ v: JSONValue) {
            switch v {
            case .object(let o):
                if case .string(let match)? = o["match"], match.hasPrefix("\\b("), match.hasSuffix(")\\b") {
                    for w in match.dropFirst(3).dropLast(3).split(separator: "|") { words.insert(String(w)) }
                }
                o.values.forEach(walk)
            case .array(let a): a.forEach(walk)
            default: break
            }
        }
        walk(grammar)
        return words
    }

    func testEveryParserKeywordIsHighlighted() throws {
        let keywords = try Self.parserKeywords()
        // The extraction really found the parser's words, not an empty set.
        XCTAssertTrue(keywords.isSuperset(of: ["table", "migrate", "lateness", "granularity", "materialized", "versioned", "keep", "sql"]))
        let grammar = try Self.grammarKeywords()
        XCTAssertEqual(keywords.subtracting(grammar).sorted(), [], "keywords the grammar does not know")
    }

    func testVSCodeConfiguration() throws {
        let root = repositoryRoot().appendingPathComponent("editors/vscode")
        let config = try JSONValue.parse(String(decoding: try Data(contentsOf: root.appendingPathComponent("language-configuration.json")), as: UTF8.self))
        XCTAssertEqual(config["comments"]?["lineComment"], .string("#"))
        XCTAssertEqual(config["brackets"], .array([.array([.string("{"), .string("}")]), .array([.string("["), .string("]")]), .array([.string("("), .string(")")])]))
        guard case .string(let increase)? = config["indentationRules"]?["increaseIndentPattern"] else {
            return XCTFail("no increaseIndentPattern")
        }
        let regex = try NSRegularExpression(pattern: increase)
        func indents(_ line: String) -> Bool { regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil }
        XCTAssertTrue(indents("fn f(a) {"))
        XCTAssertTrue(indents("table events v0.0 {  # columns"))
        XCTAssertFalse(indents("let x = {a: 1}"))
        let package = try JSONValue.parse(String(decoding: try Data(contentsOf: root.appendingPathComponent("package.json")), as: UTF8.self))
        guard case .array(let grammars)? = package["contributes"]?["grammars"], case .string(let path)? = grammars.first?["path"] else {
            return XCTFail("package.json names no grammar")
        }
        // The grammar the extension loads is the one tested above.
        let loaded = try Data(contentsOf: root.appendingPathComponent(path))
        XCTAssertEqual(loaded, try Data(contentsOf: repositoryRoot().appendingPathComponent("editors/mbg.tmLanguage.json")))
    }
}
