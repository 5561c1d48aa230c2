import CLibEdit
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal LineReader: libedit's readline with history kept in a file,
/// Tab completion, and Ctrl-C told apart from Ctrl-D.
///
/// libedit is process-global state (one line buffer, one history, one
/// completion hook), so create at most one editor per process.
public final class LineEditor: LineReader {
    /// Most entries kept in memory and in the history file.
    public static let historyLimit: Int32 = 1000

    private let historyPath: String?

    public var completionProvider: ((_ line: String, _ word: String) -> [String])? {
        didSet { completionContext.withLock { $0 = completionProvider.map(CompletionContext.init) } }
    }

    /// `historyPath` nil: history is kept for this session only.
    public init(historyPath: String?) {
        self.historyPath = historyPath
        // Without this libedit silently drops every non-ASCII character typed.
        setlocale(LC_CTYPE, "")
        mbg_rl_set_readline_name(strdup("mbg"))
        mbg_rl_set_catch_signals(0)
        using_history()
        stifle_history(Self.historyLimit)
        if let historyPath {
            _ = read_history(historyPath)
        }
        mbg_rl_set_attempted_completion_function(attemptCompletion)
        // Only our candidates: without this libedit falls back to file names.
        mbg_rl_set_attempted_completion_over(1)
        mbg_rl_set_completion_append_character(Int32(UInt8(ascii: " ")))
        InterruptHandling.install()
    }

    deinit {
        completionContext.withLock { $0 = nil }
        InterruptHandling.uninstall()
    }

    /// The history file: `$MBG_HISTORY` if set (set but empty: no file, the
    /// history lives only as long as the session), else `~/.mbg_history`.
    public static func historyPath(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        if let configured = environment["MBG_HISTORY"] {
            return configured.isEmpty ? nil : configured
        }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return (home as NSString).appendingPathComponent(".mbg_history")
    }

    public func readLine(prompt: String) -> LineReadResult {
        interruptFlag.store(false, ordering: .sequentiallyConsistent)
        guard let raw = CLibEdit.readline(prompt) else {
            // readline() returns NULL for Ctrl-C (our SIGINT handler ran) and for
            // Ctrl-D alike; the flag tells which. Both leave the cursor after
            // the echoed ^C / ^D, so end that line.
            Console.standardOutput.write("\n")
            return interruptFlag.exchange(false, ordering: .sequentiallyConsistent) ? .interrupted : .eof
        }
        defer { free(raw) }
        return .line(String(cString: raw))
    }

    public func addHistory(_ entry: String) {
        _ = add_history(entry)
        guard let historyPath else { return }
        // History may hold statements with names of things: keep it private.
        let descriptor = open(historyPath, O_WRONLY | O_CREAT, 0o600)
        if descriptor >= 0 { close(descriptor) }
        // Rewritten whole after every statement so a killed session loses nothing.
        _ = write_history(historyPath)
    }

    public func runInterruptible(_ body: () -> Void, onInterrupt: @escaping @Sendable () -> Void) {
        busyState.withLock { $0 = BusyState(onInterrupt: onInterrupt) }
        defer { busyState.withLock { $0 = BusyState() } }
        body()
    }
}

// MARK: - Completion

/// Holds the provider closure for the C completion hook, which cannot capture
/// context. Unchecked Sendable: the hook only runs inside readline(), on the
/// thread that owns the editor, so the closure never crosses threads.
private final class CompletionContext: @unchecked Sendable {
    let provider: (_ line: String, _ word: String) -> [String]
    init(_ provider: @escaping (_ line: String, _ word: String) -> [String]) { self.provider = provider }
}

private struct CompletionCandidates {
    var words: [String] = []
    var next = 0
}

private let completionContext = Mutex<CompletionContext?>(nil)
private let completionCandidates = Mutex(CompletionCandidates())

/// rl_attempted_completion_function: gathers candidates for the word being
/// completed and lets libedit build its match list from them.
private func attemptCompletion(
    _ text: UnsafePointer<CChar>?, _ start: Int32, _ end: Int32
) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    guard let text, let context = completionContext.withLock({ $0 }) else { return nil }
    let word = String(cString: text)
    let line = mbg_rl_line_buffer().map { String(cString: $0) } ?? ""
    let words = Array(Set(context.provider(line, word).filter { $0.hasPrefix(word) })).sorted()
    guard !words.isEmpty else { return nil }
    completionCandidates.withLock { $0 = CompletionCandidates(words: words) }
    return rl_completion_matches(text, nextCandidate)
}

/// The generator rl_completion_matches calls with state 0, 1, 2, … until NULL.
/// libedit frees what it gets, hence strdup.
private func nextCandidate(_ text: UnsafePointer<CChar>?, _ state: Int32) -> UnsafeMutablePointer<CChar>? {
    completionCandidates.withLock { candidates in
        if state == 0 { candidates.next = 0 }
        guard candidates.next < candidates.words.count else { return nil }
        defer { candidates.next += 1 }
        return strdup(candidates.words[candidates.next])
    }
}

// MARK: - Ctrl-C

/// Set by the SIGINT handler; read when readline() returns NULL.
private let interruptFlag = Atomic<Bool>(false)
/// Write end of a pipe the handler pokes, so a watcher thread can cancel a
/// running evaluation (a signal handler itself may do almost nothing).
private let interruptPipeWriteEnd = Atomic<Int32>(-1)

private struct BusyState {
    /// Set while an evaluation runs.
    var onInterrupt: (@Sendable () -> Void)?
    var interrupts = 0
}

private let busyState = Mutex(BusyState())

private func handleInterrupt(_ signal: Int32) {
    interruptFlag.store(true, ordering: .sequentiallyConsistent)
    let descriptor = interruptPipeWriteEnd.load(ordering: .sequentiallyConsistent)
    if descriptor >= 0 {
        var byte: UInt8 = 0
        _ = write(descriptor, &byte, 1)
    }
}

private enum InterruptHandling {
    static func install() {
        startWatcher()
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = handleInterrupt
        #else
        action.__sigaction_u.__sa_handler = handleInterrupt
        #endif
        sigemptyset(&action.sa_mask)
        // No SA_RESTART: the read inside readline() must return on Ctrl-C.
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
    }

    static func uninstall() {
        signal(SIGINT, SIG_DFL)
    }

    /// Once per process: a thread that wakes on every Ctrl-C and, if an
    /// evaluation is running, asks it to cancel. A second Ctrl-C during the same
    /// evaluation means it is not cancelling: leave.
    private static func startWatcher() {
        guard interruptPipeWriteEnd.load(ordering: .sequentiallyConsistent) < 0 else { return }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        let readEnd = ends[0]
        interruptPipeWriteEnd.store(ends[1], ordering: .sequentiallyConsistent)
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                let (cancel, repeated) = busyState.withLock { state -> ((@Sendable () -> Void)?, Bool) in
                    guard let onInterrupt = state.onInterrupt else { return (nil, false) }
                    state.interrupts += 1
                    return (onInterrupt, state.interrupts > 1)
                }
                if repeated {
                    Console.standardOutput.write("\nmbg: interrupted again while cancelling; exiting\n")
                    _exit(130)
                }
                if let cancel {
                    Console.standardOutput.write("\ncancelling…\n")
                    cancel()
                }
            }
        }
    }
}
