/// A piece of a string literal: text, or an interpolated expression `\(…)`.
package enum StringPiece: Sendable, Hashable {
    case text(String)
    /// The source range of the expression between `\(` and `)`.
    case interpolation(SourceRange)
}

package enum TokenKind: Sendable, Hashable {
    /// A name; `quoted` when written in backquotes (never a keyword then).
    case identifier(String, quoted: Bool)
    case version(Version)
    case integer(Int)
    case decimal(Double)
    /// Seconds.
    case duration(Int)
    case string([StringPiece])
    /// `'…'`: a SQL string literal, kept as written (inside types and settings).
    case sqlString(String)
    case punct(String)
    case eof
}

package struct Token: Sendable, Hashable {
    package var kind: TokenKind
    package var range: SourceRange
    /// Whether a newline came between the previous token and this one.
    package var newlineBefore: Bool

    /// The bare word, if the token is an unquoted identifier.
    package var word: String? {
        if case .identifier(let w, false) = kind { return w }
        return nil
    }

    package func isPunct(_ p: String) -> Bool {
        if case .punct(let q) = kind { return p == q }
        return false
    }

    package var isEOF: Bool {
        if case .eof = kind { return true }
        return false
    }

    /// How the token reads in an error message.
    package var display: String {
        switch kind {
        case .identifier(let w, let q): return q ? "`\(w)`" : "'\(w)'"
        case .version(let v): return "v\(v)"
        case .integer(let n): return String(n)
        case .decimal(let d): return String(d)
        case .duration(let s): return "\(s)s"
        case .string: return "a string"
        case .sqlString(let s): return s
        case .punct(let p): return "'\(p)'"
        case .eof: return "end of input"
        }
    }
}
