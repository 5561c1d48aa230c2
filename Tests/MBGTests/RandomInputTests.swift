import TestSupport
import XCTest

@testable import MBG

/// Any input, however malformed, gives output or diagnostics: never a crash or a hang.
final class RandomInputTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    func evaluateQuietly(_ text: String) {
        let i = Interpreter(options: InterpreterOptions(mode: .dryRun, transport: DryRunTransport(), makeMigrationEngine: nil), output: CollectingOutput())
        _ = try? i.evaluate(source: text, name: "fuzz")
        _ = Parser.completeness(of: text)
    }

    func testRandomBytes() {
        var rng = LCG(state: 42)
        for _ in 0..<3000 {
            let n = rng.below(200)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            evaluateQuietly(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testMutatedScripts() throws {
        let root = repositoryRoot().appendingPathComponent("Tests/Scripts")
        let files = (FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".mbg") }
        XCTAssertFalse(files.isEmpty)
        let corpus = files.compactMap { FileManager.default.contents(atPath: root.appendingPathComponent($0).path) }
            .map { Array(String(decoding: $0, as: UTF8.self).split(separator: "\n").filter { !$0.contains("import") }.joined(separator: "\n").utf8) }
        var rng = LCG(state: 7)
        let alphabet = Array("{}()[]\"\\`'#->,.:= \nv0.1 table view migrate plan apply fn let if for x".utf8)
        for _ in 0..<4000 {
            var bytes = corpus[rng.below(corpus.count)]
            for _ in 0..<(1 + rng.below(6)) where !bytes.isEmpty {
                let at = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(alphabet[rng.below(alphabet.count)], at: at)
                default: bytes[at] = alphabet[rng.below(alphabet.count)]
                }
            }
            evaluateQuietly(String(decoding: bytes, as: UTF8.self))
        }
    }
}
