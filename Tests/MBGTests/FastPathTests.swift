import XCTest

@testable import MBG

/// The byte-level fast paths the interpreter benchmark asked for (issue 13)
/// give what the general code gave: reserved words in any case, engine names,
/// version text, number tokens, substring search.
final class FastPathTests: XCTestCase {
    func testReservedWordsInAnyCaseAreQuoted() {
        for word in ["all", "select", "SELECT", "Select", "settings", "prewhere", "to", "with", "WHERE"] {
            XCTAssertFalse(isPlainIdentifier(word), word)
            XCTAssertEqual(quoteIdentifier(word), "`\(word)`")
        }
        for name in ["selects", "a1", "_x", "events_0_1", "settingsx", "verylongname", "To_"] {
            XCTAssertTrue(isPlainIdentifier(name), name)
        }
        for name in ["1a", "", "a-b", "é", "a b"] { XCTAssertFalse(isPlainIdentifier(name), name) }
    }

    func testEngineName() {
        let names = [
            "ReplicatedMergeTree('/p/{shard}', '{replica}')": "ReplicatedMergeTree",
            "  \tReplacingMergeTree(ver)": "ReplacingMergeTree", "MergeTree": "MergeTree",
            "Memory ORDER BY x": "Memory", "\nMergeTree": "",
            // Not ASCII: the general path, as before.
            "Mérge(x)": "Mérge", "\u{00A0}Log": "Log",
        ]
        for (engine, name) in names { XCTAssertEqual(engineName(engine), name, engine) }
        XCTAssertTrue(TableDef(name: "t", engine: "ReplicatedMergeTree('/x', 'r')").isReplicated)
        XCTAssertFalse(TableDef(name: "t", engine: "MergeTree").isReplicated)
    }

    func testVersionText() {
        XCTAssertEqual(Version([0, 1]).suffix, "0_1")
        XCTAssertEqual(Version([1, 10, 2]).description, "1.10.2")
        XCTAssertEqual(Version([1234567890123]).suffix, "1234567890123")
        XCTAssertEqual(Version([-1]).description, "-1")
        XCTAssertEqual(Version([Int.max, Int.min]).description, "\(Int.max).\(Int.min)")
        XCTAssertEqual(physicalName("events", Version([0, 12])), "events_0_12")
    }

    func testNumberTokens() {
        var lexer = Lexer(file: SourceFile(name: "t", text: "1_0.2_5 007 9223372036854775807 9223372036854775808 3d 99999999999999999999s"))
        XCTAssertEqual(
            lexer.tokenize().map(\.kind),
            [.decimal(10.25), .integer(7), .integer(Int.max), .integer(0), .duration(259_200), .duration(0), .eof])
        XCTAssertEqual(lexer.diagnostics.map(\.message), ["number too large", "duration too large"])
    }

    func testContainsText() {
        XCTAssertTrue("ReplacingMergeTree(ver)".containsText("MergeTree"))
        XCTAssertTrue("CollapsingMergeTree(sign)".containsText("CollapsingMergeTree"))
        XCTAssertFalse("Memory".containsText("MergeTree"))
        XCTAssertFalse("Merge".containsText("MergeTree"))
        XCTAssertTrue("Täble MergeTree".containsText("MergeTree"))
    }
}
