import CLibEdit
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ANSI colours for the REPL's own messages — only on a terminal, and never
/// when `NO_COLOR` is set to anything but the empty string (no-color.org).
public struct Style: Sendable, Equatable {
    public let colored: Bool

    public static let plain = Style(colored: false)

    public init(colored: Bool) {
        self.colored = colored
    }

    public static func detect(isTerminal: Bool, environment: [String: String]) -> Style {
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return Style(colored: isTerminal && !noColor)
    }

    /// The style for what goes to standard output in this process.
    public static func forStandardOutput(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Style {
        detect(isTerminal: isatty(STDOUT_FILENO) != 0, environment: environment)
    }

    public func error(_ text: String) -> String { paint(text, "1;31") }
    public func warning(_ text: String) -> String { paint(text, "33") }
    public func success(_ text: String) -> String { paint(text, "32") }
    public func bold(_ text: String) -> String { paint(text, "1") }
    public func dim(_ text: String) -> String { paint(text, "2") }

    private func paint(_ text: String, _ code: String) -> String {
        colored ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// The width to lay tables out in.
public enum TerminalSize {
    /// Columns of the terminal on `fileDescriptor`, else `$COLUMNS`, else 80.
    public static func columns(
        fileDescriptor: Int32 = STDOUT_FILENO,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Int {
        let measured = Int(mbg_terminal_columns(fileDescriptor))
        if measured > 0 { return measured }
        if let configured = environment["COLUMNS"].flatMap(Int.init), configured > 0 { return configured }
        return 80
    }
}
