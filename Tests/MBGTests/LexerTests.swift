import XCTest

@testable import MBG

final class LexerTests: XCTestCase {
    func kinds(_ text: String) -> [TokenKind] {
        var lexer = Lexer(file: SourceFile(name: "t", text: text))
        return lexer.tokenize().map(\.kind)
    }

    func testVersionsNumbersDurations() {
        XCTAssertEqual(
            kinds("v0.1 v1.10.2 42 1_000 3.5 30s 5m 2h 7d"),
            [
                .version(Version([0, 1])), .version(Version([1, 10, 2])), .integer(42), .integer(1000),
                .decimal(3.5), .duration(30), .duration(300), .duration(7200), .duration(604800), .eof,
            ])
    }

    func testIdentifiersAndBackquotes() {
        XCTAssertEqual(
            kinds("events `my table` _x1"),
            [.identifier("events", quoted: false), .identifier("my table", quoted: true), .identifier("_x1", quoted: false), .eof])
    }

    func testPunctuation() {
        XCTAssertEqual(
            kinds("-> == != <= >= { } ( ) [ ] , : = ."),
            ["->", "==", "!=", "<=", ">=", "{", "}", "(", ")", "[", "]", ",", ":", "=", "."].map { TokenKind.punct($0) } + [.eof])
    }

    func testStringInterpolationRange() {
        let text = #""a \(x) b""#
        let ks = kinds(text)
        guard case .string(let pieces) = ks[0] else { return XCTFail("not a string") }
        XCTAssertEqual(pieces.count, 3)
        guard case .interpolation(let r) = pieces[1] else { return XCTFail("no interpolation") }
        XCTAssertEqual(SourceFile(name: "t", text: text).slice(r), "x")
    }

    func testTripleStringDedent() {
        let text = "\"\"\"\n    SELECT 1\n      FROM t\n    \"\"\""
        guard case .string(let pieces) = kinds(text)[0] else { return XCTFail() }
        XCTAssertEqual(pieces, [.text("SELECT 1\n  FROM t")])
    }

    func testNewlineFlag() {
        var lexer = Lexer(file: SourceFile(name: "t", text: "a\nb c"))
        let tokens = lexer.tokenize()
        XCTAssertEqual(tokens.map(\.newlineBefore), [false, true, false, false])
    }

    func testErrorsDoNotStopLexing() {
        var lexer = Lexer(file: SourceFile(name: "t", text: "a @ b \"open"))
        let tokens = lexer.tokenize()
        XCTAssertEqual(lexer.diagnostics.count, 2)
        XCTAssertTrue(lexer.diagnostics[1].atEndOfInput, "an unterminated string at the end is incomplete input")
        XCTAssertEqual(tokens.first?.kind, .identifier("a", quoted: false))
    }

    func testLocations() {
        let file = SourceFile(name: "t", text: "ab\ncdé f")
        XCTAssertEqual(file.location(of: 0).line, 1)
        XCTAssertEqual(file.location(of: 3).line, 2)
        // 'f' is after a two-byte é: column counts characters.
        let f = Array("ab\ncdé ".utf8).count
        XCTAssertEqual(file.location(of: f).column, 5)
    }
}
