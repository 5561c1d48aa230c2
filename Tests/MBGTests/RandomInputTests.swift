import Foundation
import MBGCLI
import TestSupport
import XCTest

@testable import MBG

/// Any input, however malformed, ends in output or diagnostics, never a crash
/// or a hang, and every failure is a documented one: each diagnostic's kind
/// maps to an exit code listed in docs/exit-codes.md, and each points at a
/// line and column inside the input.
final class RandomInputTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    /// The codes in the table of docs/exit-codes.md (`| 65 | script error | …`).
    static let documentedCodes: Set<Int32> = {
        let text = (try? String(contentsOf: repositoryRoot().appendingPathComponent("docs/exit-codes.md"), encoding: .utf8)) ?? ""
        var codes = Set<Int32>()
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            if let code = Int32(line.dropFirst(2).prefix { $0.isNumber }) { codes.insert(code) }
        }
        return codes
    }()

    /// What was checked, to show that the properties were exercised.
    struct Tally {
        var inputs = 0
        var failed = 0
        var diagnostics = 0
        var kinds: [Diagnostic.Kind: Int] = [:]
    }

    /// Evaluates `text` without a server and checks every diagnostic it gives.
    func evaluate(_ text: String, _ tally: inout Tally) {
        tally.inputs += 1
        let file = SourceFile(name: "fuzz", text: text)
        let i = Interpreter(options: InterpreterOptions(mode: .dryRun, transport: DryRunTransport(), makeMigrationEngine: nil), output: CollectingOutput())
        _ = Parser.completeness(of: text)
        let diagnostics: [Diagnostic]
        do {
            try i.evaluate(file: file)
            return
        } catch let list as DiagnosticList {
            diagnostics = list.diagnostics
        } catch let d as Diagnostic {
            diagnostics = [d]
        } catch {
            // Anything else would reach the CLI as exit 1, "a bug in mbg".
            return XCTFail("not a diagnostic (\(type(of: error))): \(error)\ninput: \(text.debugDescription)")
        }
        tally.failed += 1
        // Problems are collected and asserted once per input: tens of thousands
        // of XCTAssert calls would make this test slow.
        var problems: [String] = []
        if diagnostics.isEmpty { problems.append("an empty failure") }
        let size = text.utf8.count
        let lines = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        for d in diagnostics {
            tally.diagnostics += 1
            tally.kinds[d.kind, default: 0] += 1
            let code = MBGExit.of(d.kind)
            if !Self.documentedCodes.contains(code.rawValue) || code == .internalError {
                problems.append("\(d.kind) maps to exit \(code.rawValue), not a documented script outcome")
            }
            guard let location = d.location else {
                problems.append("no location: \(d.message)")
                continue
            }
            if location.file !== file { problems.append("located in \(location.file.name), not the input: \(d.message)") }
            let range = location.range
            guard 0 <= range.start && range.start <= range.end && range.end <= size else {
                problems.append("range \(range.start)..<\(range.end) outside the input (\(size) bytes): \(d.message)")
                continue
            }
            let (line, column) = file.location(of: range.start)
            if !(1 <= line && line <= lines) {
                problems.append("line \(line) of \(lines): \(d.message)")
            } else if !(1 <= column && column <= file.lineText(line).count + 1) {
                problems.append("column \(column) past line \(line) (\(file.lineText(line).count) characters): \(d.message)")
            }
        }
        if !problems.isEmpty {
            XCTFail(problems.joined(separator: "\n") + "\ninput: \(text.debugDescription)")
        }
    }

    /// The kinds the library has all map to documented codes, and the docs'
    /// table lists exactly the codes `MBGExit` has.
    func testDocumentedCodesMatchMBGExit() {
        XCTAssertEqual(Self.documentedCodes, Set(MBGExit.allCases.map(\.rawValue)))
        XCTAssertEqual(MBGExit.of(.runtime), .runtimeError)
        XCTAssertEqual(MBGExit.of(.syntax), .scriptError)
        XCTAssertEqual(MBGExit.of(.check), .scriptError)
        XCTAssertNotEqual(MBGExit.runtimeError, MBGExit.scriptError)
    }

    func testRandomBytes() {
        var rng = LCG(state: 42)
        var tally = Tally()
        for _ in 0..<3000 {
            let n = rng.below(200)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            evaluate(String(decoding: bytes, as: UTF8.self), &tally)
        }
        print("random bytes: \(tally.inputs) inputs, \(tally.failed) failed, \(tally.diagnostics) diagnostics, \(tally.kinds)")
        // Random bytes nearly never parse: the location checks really ran.
        XCTAssertGreaterThan(tally.diagnostics, 2500)
    }

    static func mutatedScripts(count: Int, seed: UInt64) -> [String] {
        let root = repositoryRoot().appendingPathComponent("Tests/Scripts")
        let files = (FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".mbg") }.sorted()
        let corpus = files.compactMap { FileManager.default.contents(atPath: root.appendingPathComponent($0).path) }
            .map { Array(String(decoding: $0, as: UTF8.self).split(separator: "\n").filter { !$0.contains("import") }.joined(separator: "\n").utf8) }
        guard !corpus.isEmpty else { return [] }
        var rng = LCG(state: seed)
        let alphabet = Array("{}()[]\"\\`'#->,.:= \nv0.1 table view migrate plan apply fn let if for x".utf8)
        var out: [String] = []
        for _ in 0..<count {
            var bytes = corpus[rng.below(corpus.count)]
            for _ in 0..<(1 + rng.below(6)) where !bytes.isEmpty {
                let at = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(alphabet[rng.below(alphabet.count)], at: at)
                default: bytes[at] = alphabet[rng.below(alphabet.count)]
                }
            }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    func testMutatedScripts() throws {
        let inputs = Self.mutatedScripts(count: 4000, seed: 7)
        XCTAssertEqual(inputs.count, 4000)
        var tally = Tally()
        for text in inputs { evaluate(text, &tally) }
        print("mutated scripts: \(tally.inputs) inputs, \(tally.failed) failed, \(tally.diagnostics) diagnostics, \(tally.kinds)")
        // Mutations give every kind of script failure, and some still run.
        for kind in [Diagnostic.Kind.syntax, .check, .runtime] {
            XCTAssertGreaterThan(tally.kinds[kind] ?? 0, 10, "too few \(kind) diagnostics to say much")
        }
        XCTAssertLessThan(tally.failed, tally.inputs)
    }

    /// The real binary on a sample of mutated scripts: a documented exit code
    /// (never 1, a bug, nor a signal), and every `--> file:line:col` it prints
    /// lies inside the script.
    func testBinaryExitCodesOnMutatedScripts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-random-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var seen: [Int32: Int] = [:]
        for (n, text) in Self.mutatedScripts(count: 20, seed: 11).enumerated() {
            let path = dir.appendingPathComponent("m\(n).mbg").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let r = try runMBG(["run", "--dry-run", path], timeout: 20)
            seen[r.status, default: 0] += 1
            XCTAssertTrue(Self.documentedCodes.contains(r.status), "exit \(r.status) is not documented\n\(r.stderr)")
            XCTAssertNotEqual(r.status, MBGExit.internalError.rawValue, r.stderr)
            if r.status == 0 { continue }
            XCTAssertTrue(r.stderr.contains("error: "), "exit \(r.status) without an error message")
            // Lines as the library counts them: split at every newline byte.
            let lines = Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            for line in r.stderr.split(separator: "\n") where line.contains("--> \(path):") {
                let parts = line.split(separator: ":").suffix(2).compactMap { Int($0) }
                guard parts.count == 2 else { XCTFail("unreadable position: \(line)"); continue }
                XCTAssertTrue(1 <= parts[0] && parts[0] <= lines.count, "line outside the script: \(line)")
                if 1 <= parts[0] && parts[0] <= lines.count {
                    XCTAssertTrue(1 <= parts[1] && parts[1] <= lines[parts[0] - 1].count + 1, "column outside the line: \(line)")
                }
            }
        }
        print("binary on mutated scripts: exit codes \(seen.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(seen.filter { $0.key != 0 }.count, 0)
    }
}
