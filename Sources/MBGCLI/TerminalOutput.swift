import Foundation
import MBG

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to stdout/stderr without buffering surprises between the two.
enum Console {
    static let lock = NSLockShim()
    static func out(_ text: String) {
        lock.with {
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }
    /// Bytes already encoded, plus a newline.
    static func out(bytes: [UInt8]) {
        lock.with {
            var data = Data(bytes)
            data.append(0x0A)
            FileHandle.standardOutput.write(data)
        }
    }
    static func err(_ text: String) {
        lock.with {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
    static var stdoutIsTerminal: Bool { isatty(1) == 1 }
    static var stderrIsTerminal: Bool { isatty(2) == 1 }
    static var stdinIsTerminal: Bool { isatty(0) == 1 }
    static var colorAllowed: Bool { ProcessInfo.processInfo.environment["NO_COLOR"] == nil }
}

/// Results to stdout (tables, or JSON lines with `--json`), warnings to stderr.
final class TerminalOutput: OutputSink {
    let json: Bool
    /// Plans are collected for `mbg plan --json` to print once, together.
    var collectPlans = false
    /// `mbg plan`: stdout holds the plan alone, so what the script prints goes to stderr.
    var scriptOutputToStderr = false
    private(set) var plans: [(name: String?, plan: Plan)] = []

    init(json: Bool) { self.json = json }

    private func emit(_ text: String) {
        if scriptOutputToStderr { Console.err(text) } else { Console.out(text) }
    }

    func line(_ text: String) {
        if json {
            emit(jsonLine(["type": "print", "text": text]))
        } else {
            emit(text)
        }
    }

    func table(_ result: QueryResult) {
        if json {
            let rows = result.rows.map { row in
                Dictionary(uniqueKeysWithValues: zip(result.columns.map(\.name), row.map { $0 as Any? ?? NSNull() }))
            }
            emit(jsonLine(["type": "result", "columns": result.columns.map { ["name": $0.name, "type": $0.type] }, "rows": rows]))
        } else {
            emit(renderTable(result, width: terminalWidth()))
        }
    }

    func plan(_ plan: Plan, name: String?) {
        if collectPlans {
            plans.append((name, plan))
            return
        }
        if json {
            Console.out(String(decoding: PlanDocument(plans: [plan]).encoded(pretty: false), as: UTF8.self))
        } else {
            Console.out(bytes: plan.renderedBytes())
        }
    }

    func warning(_ text: String) {
        Console.err("warning: \(text)")
    }

    func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Backfill progress: a live line on a terminal, plain lines otherwise.
final class ConsoleReporter: ProgressReporter, @unchecked Sendable {
    let live = Console.stderrIsTerminal
    var lastPlain = Date.distantPast
    let lock = NSLockShim()

    func info(_ line: String) { lock.with { finishLive(); Console.err(line) } }
    func warning(_ line: String) { lock.with { finishLive(); Console.err("warning: \(line)") } }

    var liveShown = false
    func finishLive() {
        if liveShown {
            FileHandle.standardError.write(Data("\n".utf8))
            liveShown = false
        }
    }

    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {
        lock.with {
            let pct = total > 0 ? min(100, done * 100 / total) : 100
            let eta = rowsPerSecond > 0 && total > done ? Int(Double(total - done) / rowsPerSecond) : 0
            let text = "\(label): \(done)/\(total) rows (\(pct)%), \(Int(rowsPerSecond)) rows/s, ETA \(eta)s"
            if live {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
                liveShown = true
            } else if Date().timeIntervalSince(lastPlain) >= 1 || done >= total {
                Console.err(text)
                lastPlain = Date()
            }
        }
    }
}

func terminalWidth() -> Int {
    var w = winsize()
    if ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 { return Int(w.ws_col) }
    return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 120
}

/// An aligned text table; wide cells are cut with '…' to fit the width.
func renderTable(_ result: QueryResult, width: Int) -> String {
    let headers = result.columns.map(\.name)
    let cells = result.rows.map { $0.map { ($0 ?? "NULL").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") } }
    var widths = headers.map(\.count)
    for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    let available = max(20, width - 3 * max(0, widths.count - 1))
    while widths.reduce(0, +) > available, let i = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[i] > 8 {
        widths[i] -= 1
    }
    func fit(_ s: String, _ w: Int) -> String {
        if s.count > w { return String(s.prefix(max(0, w - 1))) + "…" }
        return s + String(repeating: " ", count: w - s.count)
    }
    var lines = [zip(headers, widths).map { fit($0, $1) }.joined(separator: " | ")]
    lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-"))
    for row in cells { lines.append(zip(row, widths).map { fit($0, $1) }.joined(separator: " | ")) }
    lines.append("(\(result.rows.count) row\(result.rows.count == 1 ? "" : "s"))")
    return lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }.joined(separator: "\n")
}
