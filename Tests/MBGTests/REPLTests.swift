import XCTest

@testable import MBGCLI

/// A backend that records what the REPL asks of it. Completeness follows
/// braces; a statement containing `boom` fails; `}}` is invalid.
private final class FakeBackend: ReplBackend {
    let output: CapturedOutput
    var evaluated: [String] = []
    var loaded: [String] = []
    var connected: [String] = []
    let cancellations = Counter()

    init(output: CapturedOutput) {
        self.output = output
    }

    func completeness(of source: String) -> InputCompleteness {
        let opened = source.filter { $0 == "{" }.count
        let closed = source.filter { $0 == "}" }.count
        return closed > opened ? .invalid : closed < opened ? .incomplete : .complete
    }

    func evaluate(_ source: String) -> Bool {
        evaluated.append(source)
        if completeness(of: source) == .invalid || source.contains("boom") {
            output.writeLine("error: bad input")
            return false
        }
        output.writeLine("ok")
        return true
    }

    func completions(prefix: String, line: String) -> [String] {
        ["table", "tables_seen", "view", "line=" + line]
    }

    func tableNames() throws -> [String] { ["events", "events_0_1"] }

    func describe(_ name: String) throws -> String {
        guard name == "events" else { throw FakeError.noSuchTable }
        return "events: id String"
    }

    func load(path: String) -> Bool {
        loaded.append(path)
        return true
    }

    func connect(url: String) throws -> String {
        connected.append(url)
        return "connected"
    }

    var cancelRunning: @Sendable () -> Void {
        let counter = cancellations
        return { counter.increment() }
    }
}

private enum FakeError: Error, CustomStringConvertible {
    case noSuchTable
    var description: String { "no such table" }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Types one line, then presses Tab on the continuation line.
private final class CompletingReader: LineReader {
    var completionProvider: ((_ line: String, _ word: String) -> [String])?
    var candidates: [String] = []
    private var reads = 0

    func readLine(prompt: String) -> LineReadResult {
        reads += 1
        if reads == 1 { return .line("table t {") }
        if reads == 2 { candidates = completionProvider?("  na", "line") ?? [] }
        return .eof
    }

    func addHistory(_ entry: String) {}
}

final class REPLTests: XCTestCase {
    private struct Session {
        let backend: FakeBackend
        let reader: ScriptedLineReader
        let output: CapturedOutput
        let repl: REPL
    }

    private func session(
        _ events: [LineReadResult], interactive: Bool = true, now: @escaping () -> UInt64 = { 0 }
    ) -> Session {
        let output = CapturedOutput()
        let backend = FakeBackend(output: output)
        let reader = ScriptedLineReader(events)
        let repl = REPL(backend: backend, reader: reader, output: output, interactive: interactive, now: now)
        return Session(backend: backend, reader: reader, output: output, repl: repl)
    }

    private func session(lines: [String], interactive: Bool = true) -> Session {
        session(lines.map { .line($0) }, interactive: interactive)
    }

    // MARK: - Statements

    func testWelcomeMentionsHelp() {
        let s = session(lines: [])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertTrue(s.output.text.hasPrefix("mbg"))
        XCTAssertTrue(s.output.text.contains(".help"))
    }

    func testOpenBraceContinuesUntilClosedThenEvaluatesOnce() {
        let s = session(lines: ["table t {", "  id String", "}"])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.reader.prompts, ["mbg> ", "...> ", "...> ", "mbg> "])
        XCTAssertEqual(s.backend.evaluated, ["table t {\n  id String\n}"])
    }

    func testInvalidInputIsEvaluatedAtOnceAndBufferCleared() {
        let s = session(lines: ["table t {", "}}", "print 1"])
        _ = s.repl.run()
        XCTAssertEqual(s.backend.evaluated, ["table t {\n}}", "print 1"])
        XCTAssertTrue(s.output.text.contains("error: bad input"))
        XCTAssertEqual(s.reader.prompts, ["mbg> ", "...> ", "mbg> ", "mbg> "])
    }

    func testBlankLinesAtThePromptAreSkipped() {
        let s = session(lines: ["", "   ", "print 1"])
        _ = s.repl.run()
        XCTAssertEqual(s.backend.evaluated, ["print 1"])
        XCTAssertEqual(s.reader.history, ["print 1"])
    }

    func testNonASCIIInputPassesThrough() {
        let s = session(lines: ["print \"grüße 日本 🎉\""])
        _ = s.repl.run()
        XCTAssertEqual(s.backend.evaluated, ["print \"grüße 日本 🎉\""])
    }

    // MARK: - Ctrl-C and Ctrl-D

    func testCtrlCAbandonsTheBuffer() {
        let s = session([.line("table t {"), .line("  id String"), .interrupted, .line("print 1")])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.backend.evaluated, ["print 1"])
        XCTAssertEqual(s.reader.prompts, ["mbg> ", "...> ", "...> ", "mbg> ", "mbg> "])
        XCTAssertEqual(s.reader.history, ["print 1"])
    }

    func testEOFOnEmptyPromptEnds() {
        let s = session([.line("print 1"), .eof, .line("never read")])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.backend.evaluated, ["print 1"])
        XCTAssertEqual(s.reader.prompts.count, 2)
    }

    func testEOFWithUnfinishedStatementDiscardsItAndContinues() {
        let s = session([.line("table t {"), .eof, .line("print 1"), .eof])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.backend.evaluated, ["print 1"])
        XCTAssertTrue(s.output.text.contains("discarded"))
        XCTAssertEqual(s.reader.prompts, ["mbg> ", "...> ", "mbg> ", "mbg> "])
    }

    func testCtrlCDuringEvaluationCancelsTheRunningQuery() {
        let s = session(lines: ["sql \"SELECT sleep(3)\""])
        s.reader.interruptedEvaluations = 1
        _ = s.repl.run()
        XCTAssertEqual(s.backend.cancellations.value, 1)
    }

    // MARK: - Non-interactive

    func testPipedInputHasNoWelcomeAndStopsOnFirstError() {
        let s = session(lines: ["print 1", "boom", "print 2"], interactive: false)
        XCTAssertEqual(s.repl.run(), .stoppedOnError)
        XCTAssertEqual(s.backend.evaluated, ["print 1", "boom"])
        XCTAssertEqual(s.output.text, "ok\nerror: bad input\n")
    }

    func testPipedInputEndingMidStatementEvaluatesItSoTheParserReports() {
        let s = session(lines: ["table t {"], interactive: false)
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.backend.evaluated, ["table t {"])
    }

    func testPlainLineReaderReadsLinesFromADescriptor() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let text = Array("table t {\r\n  ü String\n}\nlast".utf8)
        XCTAssertEqual(text.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }, text.count)
        close(ends[1])
        let reader = PlainLineReader(fileDescriptor: ends[0])
        defer { close(ends[0]) }
        let lines = (0..<5).map { _ in reader.readLine(prompt: "ignored") }
        XCTAssertEqual(lines, [.line("table t {"), .line("  ü String"), .line("}"), .line("last"), .eof])
    }

    // MARK: - History

    func testMultiLineStatementIsOneHistoryEntry() {
        let s = session(lines: ["table t {", "  id String", "}", ".tables"])
        _ = s.repl.run()
        XCTAssertEqual(s.reader.history, ["table t {\n  id String\n}", ".tables"])
    }

    func testHistorySkipsSecretsAndRepeats() {
        let s = session(lines: [
            "let p = env(\"CH_PASSWORD\")", "sql \"CREATE USER bob IDENTIFIED BY 'x'\"",
            ".connect http://bob:hunter2@db:8123", ".connect http://bob@db:8123",
            "print 1", "print 1", "let Secret_key = 1",
        ])
        _ = s.repl.run()
        XCTAssertEqual(s.reader.history, [".connect http://bob@db:8123", "print 1"])
        XCTAssertEqual(s.backend.evaluated.count, 5)
    }

    func testHistoryPolicy() {
        XCTAssertFalse(HistoryPolicy.mayRecord("--PassWord x"))
        XCTAssertFalse(HistoryPolicy.mayRecord("x = \"https://u:p@host/db\""))
        XCTAssertFalse(HistoryPolicy.mayRecord("  "))
        XCTAssertTrue(HistoryPolicy.mayRecord("https://host:8123/path@x"))
        XCTAssertTrue(HistoryPolicy.mayRecord("migrate events -> v0.1"))
    }

    // MARK: - Dot-commands

    func testHelp() {
        let s = session(lines: [".help"])
        _ = s.repl.run()
        for command in REPL.dotCommands {
            XCTAssertTrue(s.output.text.contains(command), command)
        }
    }

    func testTables() {
        let s = session(lines: [".tables"])
        _ = s.repl.run()
        XCTAssertTrue(s.output.text.hasSuffix("events\nevents_0_1\n"))
    }

    func testDescribe() {
        let s = session(lines: [".describe events", ".describe nope", ".describe"])
        _ = s.repl.run()
        XCTAssertTrue(s.output.text.contains("events: id String\n"))
        XCTAssertTrue(s.output.text.contains("error: no such table\n"))
        XCTAssertTrue(s.output.text.contains("error: usage: .describe NAME\n"))
    }

    func testLoadUnquotesAndExpandsTilde() {
        let s = session(lines: [".load \"my file.mbg\"", ".load ~/x.mbg", ".load"])
        _ = s.repl.run()
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        XCTAssertEqual(s.backend.loaded, ["my file.mbg", home + "/x.mbg"])
        XCTAssertTrue(s.output.text.contains("usage: .load FILE"))
    }

    func testConnect() {
        let s = session(lines: [".connect http://ch:8123"])
        _ = s.repl.run()
        XCTAssertEqual(s.backend.connected, ["http://ch:8123"])
        XCTAssertTrue(s.output.text.hasSuffix("connected\n"))
    }

    func testQuitAndExitEndTheSession() {
        for command in [".quit", ".exit", "  .quit  "] {
            let s = session(lines: [command, "print 1"])
            XCTAssertEqual(s.repl.run(), .finished)
            XCTAssertEqual(s.backend.evaluated, [], command)
        }
    }

    func testUnknownDotCommandSuggestsHelp() {
        let s = session(lines: [".frobnicate now"])
        _ = s.repl.run()
        XCTAssertTrue(s.output.text.contains("unknown command '.frobnicate'"))
        XCTAssertTrue(s.output.text.contains(".help"))
    }

    func testDotLineInsideAStatementBelongsToIt() {
        let s = session(lines: ["let r = {", ".quit", "}"])
        XCTAssertEqual(s.repl.run(), .finished)
        XCTAssertEqual(s.backend.evaluated, ["let r = {\n.quit\n}"])
    }

    func testTimingPrintsElapsedTimeAfterEachEvaluation() {
        var clock: UInt64 = 0
        let s = session(
            [.line(".timing on"), .line("print 1"), .line(".timing off"), .line("print 2"), .line(".timing")],
            now: {
                clock += 1_500_000
                return clock
            })
        _ = s.repl.run()
        XCTAssertTrue(s.output.text.contains("ok\ntime: 1.5 ms\n"))
        XCTAssertEqual(s.output.text.components(separatedBy: "time:").count, 2)
        XCTAssertTrue(s.output.text.hasSuffix("timing is off\n"))
        XCTAssertEqual(REPL.formatDuration(nanoseconds: 2_345_000_000), "2.35 s")
        XCTAssertEqual(REPL.formatDuration(nanoseconds: 50_000), "0.1 ms")
    }

    func testTimingRejectsOtherArguments() {
        let s = session(lines: [".timing maybe"])
        _ = s.repl.run()
        XCTAssertTrue(s.output.text.contains("usage: .timing on|off"))
    }

    // MARK: - Completion

    func testCompletionFiltersByPrefixAndSeesTheWholeStatement() {
        let s = session(lines: [])
        let provider = try! XCTUnwrap(s.reader.completionProvider)
        XCTAssertEqual(provider("tab", "tab"), ["table", "tables_seen"])
        XCTAssertEqual(provider(".t", ".t"), [".tables", ".timing"])
        XCTAssertEqual(provider("", "line"), ["line="])
    }

    func testCompletionInsideAStatementIncludesEarlierLines() {
        let output = CapturedOutput()
        let reader = CompletingReader()
        _ = REPL(backend: FakeBackend(output: output), reader: reader, output: output).run()
        XCTAssertEqual(reader.candidates, ["line=table t {\n  na"])
    }

    // MARK: - Table formatter

    func testTableIsAlignedWithNullsAndNumbersRight() {
        let text = TableFormatter(maxWidth: 80).render(
            columns: ["id", "name", "note"],
            rows: [["1", "Ann", nil], ["100", "Bartholomew", "x"]])
        XCTAssertEqual(
            text,
            """
             id  | name        | note
            -----+-------------+------
               1 | Ann         | NULL
             100 | Bartholomew | x
            (2 rows)

            """)
    }

    func testWideCellsAreTruncatedToFitTheWidth() {
        let long = String(repeating: "abcdefghij", count: 10)
        let text = TableFormatter(maxWidth: 30).render(columns: ["k", "v"], rows: [["1", long]])
        let lines = text.split(separator: "\n")
        for line in lines {
            XCTAssertLessThanOrEqual(TableFormatter.displayWidth(of: String(line)), 30, String(line))
        }
        XCTAssertTrue(lines[2].hasSuffix("…"))
        XCTAssertEqual(lines[2], " 1 | abcdefghijabcdefghijabc…")
    }

    func testUnicodeWidthKeepsColumnsAligned() {
        let text = TableFormatter(maxWidth: 80).render(
            columns: ["name", "n"],
            rows: [["日本語", "1"], ["grüße", "2"], ["e\u{301}", "3"], ["🎉", "4"]])
        let lines = text.split(separator: "\n").dropLast()
        let barColumns = lines.map { line -> Int in
            let prefix = line.prefix { $0 != "|" && $0 != "+" }
            return TableFormatter.displayWidth(of: String(prefix))
        }
        XCTAssertEqual(Set(barColumns).count, 1, "\n" + text)
        XCTAssertEqual(TableFormatter.displayWidth(of: "日本語"), 6)
        XCTAssertEqual(TableFormatter.displayWidth(of: "e\u{301}"), 1)
        XCTAssertEqual(TableFormatter.displayWidth(of: "🎉"), 2)
    }

    func testTruncationCountsWideCharacters() {
        XCTAssertEqual(TableFormatter.truncate("日本語テキスト", to: 7), "日本語…")
        XCTAssertEqual(TableFormatter.truncate("short", to: 7), "short")
        XCTAssertEqual(TableFormatter.printable("a\nb\tc"), "a\\nb\\tc")
    }

    func testEmptyResult() {
        XCTAssertEqual(
            TableFormatter(maxWidth: 80).render(columns: ["a"], rows: []),
            " a\n---\n(0 rows)\n")
    }

    // MARK: - Style

    func testStyleColoursOnlyTerminalsWithoutNoColor() {
        XCTAssertTrue(Style.detect(isTerminal: true, environment: [:]).colored)
        XCTAssertTrue(Style.detect(isTerminal: true, environment: ["NO_COLOR": ""]).colored)
        XCTAssertFalse(Style.detect(isTerminal: true, environment: ["NO_COLOR": "1"]).colored)
        XCTAssertFalse(Style.detect(isTerminal: false, environment: [:]).colored)
        XCTAssertEqual(Style.plain.error("x"), "x")
        XCTAssertEqual(Style(colored: true).error("x"), "\u{1B}[1;31mx\u{1B}[0m")
    }

    func testHistoryPathComesFromTheEnvironment() {
        XCTAssertEqual(LineEditor.historyPath(environment: ["MBG_HISTORY": "/tmp/h"]), "/tmp/h")
        XCTAssertNil(LineEditor.historyPath(environment: ["MBG_HISTORY": ""]))
        XCTAssertEqual(LineEditor.historyPath(environment: ["HOME": "/home/u"]), "/home/u/.mbg_history")
    }
}
