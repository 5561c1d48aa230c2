import Foundation
import MBG

/// Results to stdout (tables, or JSON lines with `--json`), warnings to stderr.
final class TerminalOutput: OutputSink {
    let json: Bool
    /// Plans are collected for `mbg plan --json` to print once, together.
    var collectPlans = false
    /// `mbg plan`: stdout holds the plan alone, so what the script prints goes to stderr.
    var scriptOutputToStderr = false
    /// `--quiet`: messages about what was done are left out; results and `print` stay.
    var quiet = false
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

    func info(_ text: String) {
        if !quiet { line(text) }
    }

    func table(_ result: QueryResult) {
        if json {
            let rows = result.rows.map { row in
                Dictionary(uniqueKeysWithValues: zip(result.columns.map(\.name), row.map { $0 as Any? ?? NSNull() }))
            }
            emit(jsonLine(["type": "result", "columns": result.columns.map { ["name": $0.name, "type": $0.type] }, "rows": rows]))
        } else {
            // Cut to the terminal's width on a terminal; whole cells into pipes and files.
            let width = Console.stdoutIsTerminal ? TerminalSize.columns() : Int.max / 4
            emit(TableFormatter(maxWidth: width).render(columns: result.columns.map(\.name), rows: result.rows))
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
            Console.errRaw("\n")
            liveShown = false
        }
    }

    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {
        progress(label, done: done, total: total, rowsPerSecond: rowsPerSecond, partition: nil)
    }

    /// One line per migration: on a terminal it is redrawn in place (cut to the
    /// terminal's width, so it never wraps onto a second line that `\r` cannot
    /// reach) and ended by the next message; otherwise a plain line a second.
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double, partition: String?) {
        lock.with {
            let pct = total > 0 ? min(100, done * 100 / total) : 100
            let eta = rowsPerSecond > 0 && total > done ? Int(Double(total - done) / rowsPerSecond) : 0
            var text = "\(label): \(done)/\(total) rows (\(pct)%), \(Int(rowsPerSecond)) rows/s, ETA \(eta)s"
            if let partition { text += ", partition \(partition)" }
            if live {
                let width = max(20, TerminalSize.columns(fileDescriptor: STDERR_FILENO) - 1)
                if text.count > width { text = String(text.prefix(width - 1)) + "…" }
                Console.errRaw("\r\u{1B}[2K\(text)")
                liveShown = true
            } else if Date().timeIntervalSince(lastPlain) >= 1 || done >= total {
                Console.err(text)
                lastPlain = Date()
            }
        }
    }
}
