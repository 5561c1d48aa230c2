/// An error or warning tied to a place in a source file.
public struct Diagnostic: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Malformed text.
        case syntax
        /// Well-formed text that does not make sense (unknown name, wrong type, …).
        case check
        /// A statement failed while running.
        case runtime
        /// ClickHouse answered with an error or could not be reached.
        case server
        /// Old and new tables differ.
        case verification
        /// Verification could not compare everything (writes never paused); nothing found differing.
        case notCompared
        /// Another run holds the migration's lock.
        case lock
        /// A destructive action needs `--yes` or a terminal to confirm on.
        case confirmation
    }
    public var kind: Kind
    public var message: String
    public var location: SourceLocation?
    /// Said under the caret.
    public var hint: String?
    /// True when the parser ran out of input: more lines could complete it.
    public var atEndOfInput: Bool

    public init(
        _ kind: Kind, _ message: String, at location: SourceLocation?, hint: String? = nil,
        atEndOfInput: Bool = false
    ) {
        self.kind = kind
        self.message = message
        self.location = location
        self.hint = hint
        self.atEndOfInput = atEndOfInput
    }

    public var description: String { render() }

    /// `file:line:col` or nil.
    public var position: String? {
        guard let location else { return nil }
        let (line, col) = location.file.location(of: location.range.start)
        return "\(location.file.name):\(line):\(col)"
    }

    /// rustc-style rendering:
    /// ```
    /// error: expected a version after '->'
    ///  --> migrate.mbg:3:18
    ///   |
    /// 3 | migrate events -> 0.1
    ///   |                   ^ versions look like v0.1
    /// ```
    public func render(color: Bool = false) -> String {
        let red = color ? "\u{1B}[1;31m" : ""
        let bold = color ? "\u{1B}[1m" : ""
        let blue = color ? "\u{1B}[1;34m" : ""
        let reset = color ? "\u{1B}[0m" : ""
        var out = "\(red)error\(reset)\(bold): \(message)\(reset)"
        guard let location else {
            if let hint { out += "\n  = \(hint)" }
            return out
        }
        let file = location.file
        let (line, col) = file.location(of: location.range.start)
        let lineNo = String(line)
        let pad = String(repeating: " ", count: lineNo.count)
        let text = file.lineText(line).replacingTabs()
        let (endLine, endCol) = file.location(of: max(location.range.start, location.range.end))
        var width = 1
        if endLine == line, endCol > col { width = endCol - col }
        let caretCount = max(1, min(width, max(1, text.count - col + 1)))
        out += "\n\(pad)\(blue)-->\(reset) \(file.name):\(line):\(col)"
        out += "\n\(pad) \(blue)|\(reset)"
        out += "\n\(blue)\(lineNo) |\(reset) \(text)"
        let carets = String(repeating: "^", count: caretCount)
        out += "\n\(pad) \(blue)|\(reset) \(String(repeating: " ", count: col - 1))\(red)\(carets)\(reset)"
        if let hint { out += " \(hint)" }
        return out
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        var s = ""
        for ch in self { s.append(ch == "\t" ? " " : ch) }
        return s
    }
}

/// Several diagnostics from one run (the parser recovers and goes on).
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map { $0.render() }.joined(separator: "\n") }
}
