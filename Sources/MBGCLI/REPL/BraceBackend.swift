import Foundation
import Synchronization

/// TEMPORARY stand-in for the interpreter, so the REPL and its terminal tests
/// run before the real backend exists. It understands nothing of the
/// language: a statement is complete when its braces, brackets, parentheses,
/// strings and backquoted names are closed; evaluating echoes it; completion
/// offers the keywords and the names seen after `table`; `sleep N` waits N
/// seconds or until Ctrl-C cancels it (for the terminal test). Replace it with the
/// interpreter in `Entry.swift`.
public final class BraceBackend: ReplBackend {
    static let keywords = [
        "table", "view", "migrate", "plan", "apply", "verify", "status", "cutover", "rollback",
        "finish", "sql", "let", "fn", "if", "else", "for", "in", "print", "assert", "import",
        "return", "and", "or", "not", "key", "default", "codec", "order_by", "primary_key",
        "partition_by", "engine", "ttl", "settings", "database", "cluster", "to", "as", "via",
        "cutoff", "lateness", "batch", "throttle", "transform", "keep",
    ]

    private let output: any ReplOutput
    private var declaredTables: [String] = []
    private let cancelled = CancelFlag()

    public init(output: any ReplOutput) {
        self.output = output
    }

    public func completeness(of source: String) -> InputCompleteness {
        Self.scan(source).completeness
    }

    public func evaluate(_ source: String) -> Bool {
        let scan = Self.scan(source)
        if let problem = scan.problem {
            output.writeLine("error: \(problem)")
            return false
        }
        if scan.completeness == .incomplete {
            output.writeLine("error: unexpected end of input")
            return false
        }
        if let seconds = Self.sleepSeconds(source) {
            return sleep(seconds: seconds)
        }
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        output.writeLine("echo (\(lines.count) line\(lines.count == 1 ? "" : "s")): " + lines.joined(separator: " / "))
        for name in Self.tableNames(in: source) where !declaredTables.contains(name) {
            declaredTables.append(name)
        }
        return true
    }

    public func completions(prefix: String, line: String) -> [String] {
        Self.keywords + declaredTables
    }

    public func tableNames() throws -> [String] {
        declaredTables
    }

    public func describe(_ name: String) throws -> String {
        guard declaredTables.contains(name) else { throw BraceBackendError.unknownTable(name) }
        return "table \(name) (declared in this session; the echo backend knows no columns)"
    }

    public func load(path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else {
            output.writeLine("error: cannot read '\(path)'")
            return false
        }
        return evaluate(String(decoding: data, as: UTF8.self))
    }

    public func connect(url: String) throws -> String {
        "the echo backend does not connect; nothing is sent anywhere"
    }

    public var cancelRunning: @Sendable () -> Void {
        let cancelled = self.cancelled
        return { cancelled.flag.store(true, ordering: .sequentiallyConsistent) }
    }

    private func sleep(seconds: Double) -> Bool {
        cancelled.flag.store(false, ordering: .sequentiallyConsistent)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if cancelled.flag.load(ordering: .sequentiallyConsistent) {
                output.writeLine("error: cancelled")
                return false
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        output.writeLine("slept \(seconds) s")
        return true
    }

    private static func sleepSeconds(_ source: String) -> Double? {
        let words = source.split(whereSeparator: \.isWhitespace)
        guard words.count == 2, words[0] == "sleep" else { return nil }
        return Double(words[1])
    }

    // MARK: - Scanning

    private struct Scan {
        var completeness: InputCompleteness
        var problem: String?
    }

    private static func scan(_ source: String) -> Scan {
        let closers: [Character: Character] = ["{": "}", "[": "]", "(": ")"]
        var open: [Character] = []
        let characters = Array(source)
        var index = 0
        func starts(with text: String) -> Bool {
            characters[index...].starts(with: Array(text))
        }
        while index < characters.count {
            let character = characters[index]
            if character == "#" {
                while index < characters.count && characters[index] != "\n" { index += 1 }
            } else if starts(with: "\"\"\"") {
                index += 3
                while index < characters.count && !starts(with: "\"\"\"") { index += 1 }
                if index >= characters.count { return Scan(completeness: .incomplete) }
                index += 2
            } else if character == "\"" || character == "`" {
                index += 1
                while index < characters.count && characters[index] != character {
                    if characters[index] == "\n" {
                        return Scan(completeness: .invalid, problem: "unterminated \(character)")
                    }
                    if characters[index] == "\\" { index += 1 }
                    index += 1
                }
                if index >= characters.count { return Scan(completeness: .incomplete) }
            } else if let closer = closers[character] {
                open.append(closer)
            } else if closers.values.contains(character) {
                guard open.popLast() == character else {
                    return Scan(completeness: .invalid, problem: "unexpected '\(character)'")
                }
            }
            index += 1
        }
        return Scan(completeness: open.isEmpty ? .complete : .incomplete)
    }

    private static func tableNames(in source: String) -> [String] {
        let words = source.split(whereSeparator: { $0.isWhitespace || "{}()[],".contains($0) })
        return zip(words, words.dropFirst()).compactMap { keyword, name in
            keyword == "table" && name.first.map { $0.isLetter || $0 == "_" } == true ? String(name) : nil
        }
    }
}

private final class CancelFlag: Sendable {
    let flag = Atomic<Bool>(false)
}

enum BraceBackendError: Error, CustomStringConvertible {
    case unknownTable(String)

    var description: String {
        switch self {
        case .unknownTable(let name): "no table named '\(name)'"
        }
    }
}
