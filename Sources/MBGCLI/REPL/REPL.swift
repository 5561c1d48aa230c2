#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a REPL session ended.
public enum REPLOutcome: Equatable, Sendable {
    /// `.quit`, `.exit`, Ctrl-D, or the end of piped input with no error.
    case finished
    /// Non-interactive only: a statement failed and the session stopped there,
    /// as scripts do.
    case stoppedOnError
}

/// The read–evaluate–print loop, free of any terminal: lines come from a
/// `LineReader`, statements go to a `ReplBackend`, messages to an `ReplOutput`.
///
/// - A line is added to the statement being typed; while the backend says
///   the statement is incomplete the prompt is `...> `. When it is complete —
///   or invalid, so its diagnostics show at once — it is evaluated once, as
///   one text, and recorded in history as one entry (if `HistoryPolicy`
///   allows).
/// - Ctrl-C abandons the statement being typed; during an evaluation it asks
///   the backend to cancel the running query.
/// - Ctrl-D on an empty prompt ends the session. Ctrl-D at a `...> ` prompt
///   discards the unfinished statement and returns to `mbg> `, so a stray
///   Ctrl-D does not end the session.
/// - Dot-commands are recognised only at the `mbg> ` prompt; inside a
///   statement a line starting with `.` is part of the statement.
///
/// Non-interactive (piped input): no welcome, and the first failing
/// statement ends the session; an unfinished statement at the end of input
/// is evaluated so its diagnostic shows.
public final class REPL {
    public static let prompt = "mbg> "
    public static let continuationPrompt = "...> "

    static let dotCommands = [
        ".help", ".tables", ".describe", ".load", ".connect", ".timing", ".quit", ".exit",
    ]

    private let backend: any ReplBackend
    private let reader: any LineReader
    private let output: any ReplOutput
    private let style: Style
    private let interactive: Bool
    private let now: () -> UInt64

    /// Lines of the statement being typed.
    private var pending: [String] = []
    private var lastRecorded: String?
    /// `.timing on`: print how long each evaluation took.
    public private(set) var timing = false

    /// - Parameter now: a monotonic clock in nanoseconds (replaceable for tests).
    public init(
        backend: any ReplBackend,
        reader: any LineReader,
        output: any ReplOutput,
        style: Style = .plain,
        interactive: Bool = true,
        now: @escaping () -> UInt64 = REPL.monotonicNanoseconds
    ) {
        self.backend = backend
        self.reader = reader
        self.output = output
        self.style = style
        self.interactive = interactive
        self.now = now
        reader.completionProvider = { [weak self] line, word in
            self?.completions(line: line, word: word) ?? []
        }
    }

    public func run() -> REPLOutcome {
        if interactive {
            output.writeLine(style.dim("mbg — type .help for help, Ctrl-D to quit."))
        }
        while true {
            let prompt = pending.isEmpty ? Self.prompt : Self.continuationPrompt
            switch reader.readLine(prompt: prompt) {
            case .interrupted:
                pending.removeAll()
            case .eof:
                if pending.isEmpty { return .finished }
                if interactive {
                    pending.removeAll()
                    output.writeLine(style.dim("(unfinished statement discarded)"))
                } else {
                    let source = pending.joined(separator: "\n")
                    pending.removeAll()
                    return evaluate(source) ? .finished : .stoppedOnError
                }
            case .line(let line):
                if pending.isEmpty && line.trimmingWhitespace().hasPrefix(".") {
                    record(line.trimmingWhitespace())
                    switch runDotCommand(line.trimmingWhitespace()) {
                    case .continue: continue
                    case .quit: return .finished
                    case .failed: if !interactive { return .stoppedOnError }
                    }
                    continue
                }
                if pending.isEmpty && line.trimmingWhitespace().isEmpty { continue }
                pending.append(line)
                let source = pending.joined(separator: "\n")
                if backend.completeness(of: source) == .incomplete { continue }
                pending.removeAll()
                record(source)
                if !evaluate(source) && !interactive { return .stoppedOnError }
            }
        }
    }

    // MARK: - Evaluation

    private func evaluate(_ source: String) -> Bool {
        timed { backend.evaluate(source) }
    }

    /// Runs `work` so Ctrl-C cancels it, and reports its time under `.timing on`.
    private func timed(_ work: () -> Bool) -> Bool {
        let start = now()
        var succeeded = false
        reader.runInterruptible({ succeeded = work() }, onInterrupt: backend.cancelRunning)
        if timing {
            output.writeLine(style.dim("time: \(Self.formatDuration(nanoseconds: now() - start))"))
        }
        return succeeded
    }

    static func formatDuration(nanoseconds: UInt64) -> String {
        let milliseconds = Double(nanoseconds) / 1_000_000
        if milliseconds < 1000 {
            return "\(rounded(milliseconds, places: 1)) ms"
        }
        return "\(rounded(milliseconds / 1000, places: 2)) s"
    }

    private static func rounded(_ value: Double, places: Int) -> String {
        let factor = Double((0..<places).reduce(1) { value, _ in value * 10 })
        let scaled = Int((value * factor).rounded())
        let whole = scaled / Int(factor)
        let fraction = String(scaled % Int(factor))
        return "\(whole).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }

    public static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    // MARK: - History

    private func record(_ entry: String) {
        guard entry != lastRecorded, HistoryPolicy.mayRecord(entry) else { return }
        lastRecorded = entry
        reader.addHistory(entry)
    }

    // MARK: - Completion

    private func completions(line: String, word: String) -> [String] {
        if pending.isEmpty && line.trimmingWhitespace() == word && word.hasPrefix(".") {
            return Self.dotCommands.filter { $0.hasPrefix(word) }
        }
        let statement = (pending + [line]).joined(separator: "\n")
        return backend.completions(prefix: word, line: statement).filter { $0.hasPrefix(word) }
    }

    // MARK: - Dot-commands

    private enum DotCommandResult {
        case `continue`, quit, failed
    }

    private func runDotCommand(_ text: String) -> DotCommandResult {
        let name = String(text.prefix { !$0.isWhitespace })
        let argument = String(text.dropFirst(name.count)).trimmingWhitespace()
        switch name {
        case ".help":
            output.write(Self.help)
        case ".quit", ".exit":
            return .quit
        case ".tables":
            do {
                let names = try backend.tableNames()
                output.write(names.isEmpty ? style.dim("(no tables)") + "\n" : names.map { $0 + "\n" }.joined())
            } catch {
                return fail("\(error)")
            }
        case ".describe":
            guard !argument.isEmpty else { return fail("usage: .describe NAME") }
            do {
                let description = try backend.describe(argument)
                output.write(description.hasSuffix("\n") ? description : description + "\n")
            } catch {
                return fail("\(error)")
            }
        case ".load":
            guard !argument.isEmpty else { return fail("usage: .load FILE") }
            let path = Self.expandingTilde(Self.unquoted(argument))
            if !timed({ backend.load(path: path) }) { return .failed }
        case ".connect":
            guard !argument.isEmpty else { return fail("usage: .connect URL") }
            do {
                output.writeLine(try backend.connect(url: argument))
            } catch {
                return fail("\(error)")
            }
        case ".timing":
            switch argument.lowercased() {
            case "on": timing = true
            case "off": timing = false
            case "": output.writeLine("timing is \(timing ? "on" : "off")")
            default: return fail("usage: .timing on|off")
            }
        default:
            return fail("unknown command '\(name)'; type .help for the list of commands")
        }
        return .continue
    }

    private func fail(_ message: String) -> DotCommandResult {
        output.writeLine(style.error("error:") + " " + message)
        return .failed
    }

    static let help = """
        Type statements of the mbg language. A statement continues on the next
        line (prompt ...>) while a brace, bracket or string is open.

          .help              show this text
          .tables            list the tables of the connected database
          .describe NAME     show a table's columns and layout
          .load FILE         evaluate a script file in this session
          .connect URL       use another ClickHouse server
          .timing on|off     show how long each statement takes
          .quit, .exit       leave (so does Ctrl-D on an empty line)

        Tab completes keywords and names; Up and Down recall earlier statements.
        Ctrl-C abandons the statement being typed, or cancels a running query.

        """

    private static func unquoted(_ text: String) -> String {
        for quote in ["\"", "'"] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    private static func expandingTilde(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/"), let home = getenv("HOME") else { return path }
        return String(cString: home) + path.dropFirst()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
