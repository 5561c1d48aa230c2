import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one writer to stdout and stderr, for the commands and the REPL alike:
/// write(2) straight to the descriptor (no stdio buffer) under one lock, so
/// results, diagnostics, progress lines and what libedit draws come out in the
/// order they were written. `Console.standardOutput` is the REPL's output.
final class Console: ReplOutput, Sendable {
    /// Stdout as a `ReplOutput`, for the REPL.
    static let standardOutput = Console()

    private static let lock = NSLock()

    private init() {}

    func write(_ text: String) { Self.write(Array(text.utf8), to: STDOUT_FILENO) }

    /// A line to stdout.
    static func out(_ text: String) { write(Array((text + "\n").utf8), to: STDOUT_FILENO) }
    /// Bytes already encoded, plus a newline, to stdout.
    static func out(bytes: [UInt8]) { write(bytes + [0x0A], to: STDOUT_FILENO) }
    /// Bytes as they are, no newline added (a plan written in pieces).
    static func outRaw(_ bytes: [UInt8]) { write(bytes, to: STDOUT_FILENO) }
    /// A line to stderr.
    static func err(_ text: String) { write(Array((text + "\n").utf8), to: STDERR_FILENO) }
    /// Text to stderr as is (prompts, the live progress line).
    static func errRaw(_ text: String) { write(Array(text.utf8), to: STDERR_FILENO) }

    private static func write(_ bytes: [UInt8], to fd: Int32) {
        lock.withLock { writeAll(bytes, to: fd) }
    }

    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }
    static var colorAllowed: Bool { ProcessInfo.processInfo.environment["NO_COLOR"] == nil }
}

/// write(2) until all of `bytes` is out; a closed descriptor ends it quietly.
private func writeAll(_ bytes: [UInt8], to fd: Int32) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
