#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one request for a line of input produced.
public enum LineReadResult: Equatable, Sendable {
    /// A line, without its trailing newline. A line recalled from history may
    /// itself contain newlines (a multi-line statement is one history entry).
    case line(String)
    /// The user pressed Ctrl-C while typing.
    case interrupted
    /// End of input: Ctrl-D on an empty line, or the end of a pipe.
    case eof
}

/// Where the REPL gets its lines from. The REPL core only knows this
/// protocol, so it runs the same against a terminal, a pipe or a test script.
public protocol LineReader: AnyObject {
    /// Shows `prompt` (if the reader shows prompts) and reads one line.
    func readLine(prompt: String) -> LineReadResult

    /// Remembers `entry` so Up-arrow can recall it (and, for a terminal, so it
    /// survives a restart). The REPL decides what is safe to record.
    func addHistory(_ entry: String)

    /// Called by Tab completion with (the statement typed so far including the
    /// current line, the word under the cursor); returns candidate words.
    var completionProvider: ((_ line: String, _ word: String) -> [String])? { get set }

    /// Runs `body` (an evaluation that may take long); a Ctrl-C arriving
    /// meanwhile calls `onInterrupt`, possibly from another thread.
    func runInterruptible(_ body: () -> Void, onInterrupt: @escaping @Sendable () -> Void)
}

extension LineReader {
    /// Readers that cannot be interrupted just run the body.
    public func runInterruptible(_ body: () -> Void, onInterrupt: @escaping @Sendable () -> Void) {
        body()
    }
}

/// Plays back a fixed list of events; records the prompts it was asked to show
/// and the history it was given. For tests.
public final class ScriptedLineReader: LineReader {
    private var events: [LineReadResult]
    public private(set) var prompts: [String] = []
    public private(set) var history: [String] = []
    public var completionProvider: ((_ line: String, _ word: String) -> [String])?
    /// How many of the coming evaluations see a Ctrl-C while they run.
    public var interruptedEvaluations = 0

    /// `events` are returned in order; after the last one every read is `.eof`.
    public init(_ events: [LineReadResult]) {
        self.events = events
    }

    /// Convenience: every string becomes a `.line`.
    public convenience init(lines: [String]) {
        self.init(lines.map { .line($0) })
    }

    public func readLine(prompt: String) -> LineReadResult {
        prompts.append(prompt)
        return events.isEmpty ? .eof : events.removeFirst()
    }

    public func addHistory(_ entry: String) {
        history.append(entry)
    }

    public func runInterruptible(_ body: () -> Void, onInterrupt: @escaping @Sendable () -> Void) {
        if interruptedEvaluations > 0 {
            interruptedEvaluations -= 1
            onInterrupt()
        }
        body()
    }
}

/// Reads lines from a file descriptor that is not a terminal (a pipe or a
/// file): no prompt, no editing, no history.
public final class PlainLineReader: LineReader {
    private let fileDescriptor: Int32
    private var pending: [UInt8] = []
    private var reachedEnd = false
    public var completionProvider: ((_ line: String, _ word: String) -> [String])?

    public init(fileDescriptor: Int32 = STDIN_FILENO) {
        self.fileDescriptor = fileDescriptor
    }

    public func readLine(prompt: String) -> LineReadResult {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var lineBytes = pending[..<newline]
                pending.removeSubrange(...newline)
                if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
                return .line(String(decoding: lineBytes, as: UTF8.self))
            }
            if reachedEnd {
                if pending.isEmpty { return .eof }
                defer { pending.removeAll() }
                return .line(String(decoding: pending, as: UTF8.self))
            }
            fill()
        }
    }

    public func addHistory(_ entry: String) {}

    private func fill() {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            pending.append(contentsOf: chunk[..<count])
        } else if count == 0 || errno != EINTR {
            reachedEnd = true
        }
    }
}
