/// Turns source text into tokens. Works on UTF-8 bytes; never fails on any input:
/// malformed text becomes a diagnostic and lexing goes on.
package struct Lexer {
    let file: SourceFile
    let bytes: [UInt8]
    var pos: Int
    let end: Int
    package private(set) var diagnostics: [Diagnostic] = []
    /// Ranges of the `#` comments skipped so far (the formatter keeps them; the parser never sees them).
    package private(set) var comments: [SourceRange] = []

    package init(file: SourceFile, range: SourceRange? = nil) {
        self.file = file
        self.bytes = file.bytes
        self.pos = range?.start ?? 0
        self.end = min(range?.end ?? file.bytes.count, file.bytes.count)
    }

    /// Every token up to and including `.eof`.
    package mutating func tokenize() -> [Token] {
        var tokens: [Token] = []
        while true {
            let t = next()
            tokens.append(t)
            if t.isEOF { return tokens }
        }
    }

    private func peek(_ k: Int = 0) -> UInt8 {
        pos + k < end ? bytes[pos + k] : 0
    }

    private mutating func error(
        _ message: String, _ start: Int, _ stop: Int, hint: String? = nil, atEnd: Bool = false
    ) {
        diagnostics.append(
            Diagnostic(
                .syntax, message,
                at: SourceLocation(file: file, range: SourceRange(start, max(stop, start + 1))),
                hint: hint, atEndOfInput: atEnd))
    }

    /// The one-byte punctuation tokens, by byte.
    static let punctuation: [String?] = (0..<256).map { b in
        "{}()[],:=.+-*/%<>;".utf8.contains(UInt8(b)) ? String(UnicodeScalar(UInt8(b))) : nil
    }

    static func isIdentStart(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95
    }
    static func isIdentChar(_ b: UInt8) -> Bool { isIdentStart(b) || isDigit(b) }
    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// Skips blanks and comments; reports whether a newline was crossed.
    private mutating func skipTrivia() -> Bool {
        var newline = false
        while pos < end {
            let b = bytes[pos]
            if b == 10 {
                newline = true
                pos += 1
            } else if b == 32 || b == 9 || b == 13 {
                pos += 1
            } else if b == 35 {  // '#'
                let start = pos
                while pos < end && bytes[pos] != 10 { pos += 1 }
                comments.append(SourceRange(start, pos))
            } else {
                break
            }
        }
        return newline
    }

    package mutating func next() -> Token {
        let newline = skipTrivia()
        let start = pos
        func make(_ kind: TokenKind) -> Token {
            Token(kind: kind, range: SourceRange(start, pos), newlineBefore: newline)
        }
        guard pos < end else { return make(.eof) }
        let b = bytes[pos]

        if b == 118, Lexer.isDigit(peek(1)) {  // v0.1
            pos += 1
            return make(lexVersion(start))
        }
        if Lexer.isIdentStart(b) {
            while pos < end && Lexer.isIdentChar(bytes[pos]) { pos += 1 }
            return make(.identifier(String(decoding: bytes[start..<pos], as: UTF8.self), quoted: false))
        }
        if Lexer.isDigit(b) { return make(lexNumber(start)) }
        switch b {
        case 96:  // backquote
            return make(lexQuotedName(start))
        case 34:  // "
            if peek(1) == 34 && peek(2) == 34 { return make(lexTripleString(start)) }
            return make(lexString(start))
        case 39:  // '
            return make(lexSQLString(start))
        default:
            break
        }
        // Bytes, not strings: every punctuation token of a big script passes here.
        let two: String? =
            switch (b, peek(1)) {
            case (45, 62): "->"
            case (61, 61): "=="
            case (33, 61): "!="
            case (60, 61): "<="
            case (62, 61): ">="
            default: nil
            }
        if let two {
            pos += 2
            return make(.punct(two))
        }
        if let one = Lexer.punctuation[Int(b)] {
            pos += 1
            return make(.punct(one))
        }
        // Anything else: one whole character, reported, then skipped.
        pos += 1
        while pos < end && (bytes[pos] & 0xC0) == 0x80 { pos += 1 }
        let ch = String(decoding: bytes[start..<pos], as: UTF8.self)
        error("unexpected character '\(ch)'", start, pos)
        return next()
    }

    private mutating func lexVersion(_ start: Int) -> TokenKind {
        var parts: [Int] = []
        while true {
            let numStart = pos
            var value: Int? = 0
            while pos < end && Lexer.isDigit(bytes[pos]) {
                if let v = value {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int(bytes[pos] - 48))
                    value = o1 || o2 ? nil : a
                }
                pos += 1
            }
            guard let n = value else {
                error("version part too large", numStart, pos)
                return .version(Version(parts.isEmpty ? [0] : parts))
            }
            parts.append(n)
            if peek() == 46, Lexer.isDigit(peek(1)) {
                pos += 1
            } else {
                break
            }
        }
        if pos < end && Lexer.isIdentChar(bytes[pos]) {
            let s = pos
            while pos < end && Lexer.isIdentChar(bytes[pos]) { pos += 1 }
            error("malformed version", start, pos, hint: "versions look like v0.1 or v1.10.2")
            _ = s
        }
        return .version(Version(parts))
    }

    private mutating func lexNumber(_ start: Int) -> TokenKind {
        // The integer part's value as it is read (nil once it overflows); a
        // decimal's text is taken from the source afterwards, `_` left out.
        var value: Int? = 0
        func readDigits(_ counting: Bool) {
            while pos < end && (Lexer.isDigit(bytes[pos]) || (bytes[pos] == 95 && Lexer.isDigit(peek(1)))) {
                if counting, bytes[pos] != 95, let v = value {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int(bytes[pos] - 48))
                    value = o1 || o2 ? nil : a
                }
                pos += 1
            }
        }
        readDigits(true)
        var isDecimal = false
        if peek() == 46, Lexer.isDigit(peek(1)) {
            isDecimal = true
            pos += 1
            readDigits(false)
        }
        // Durations: 30s 5m 2h 7d.
        if !isDecimal, [115, 109, 104, 100].contains(peek()), !Lexer.isIdentChar(peek(1)) {
            let unit = peek()
            pos += 1
            let mult = unit == 115 ? 1 : unit == 109 ? 60 : unit == 104 ? 3600 : 86400
            guard let n = value, n <= Int.max / mult else {
                error("duration too large", start, pos)
                return .duration(0)
            }
            return .duration(n * mult)
        }
        if pos < end && Lexer.isIdentChar(bytes[pos]) {
            let s = pos
            while pos < end && Lexer.isIdentChar(bytes[pos]) { pos += 1 }
            error(
                "malformed number", start, pos,
                hint: "durations are 30s, 5m, 2h or 7d")
            _ = s
            return .integer(0)
        }
        if isDecimal {
            let digits = String(decoding: bytes[start..<pos].filter { $0 != 95 }, as: UTF8.self)
            return .decimal(Double(digits) ?? 0)
        }
        guard let n = value else {
            error("number too large", start, pos, hint: "integers go up to \(Int.max)")
            return .integer(0)
        }
        return .integer(n)
    }

    private mutating func lexQuotedName(_ start: Int) -> TokenKind {
        pos += 1
        var name = [UInt8]()
        while pos < end && bytes[pos] != 96 && bytes[pos] != 10 {
            name.append(bytes[pos])
            pos += 1
        }
        if pos < end && bytes[pos] == 96 {
            pos += 1
        } else {
            error(
                "unterminated quoted name", start, pos, hint: "close it with a backquote",
                atEnd: pos >= end)
        }
        let text = String(decoding: name, as: UTF8.self)
        if text.isEmpty { error("empty quoted name", start, pos) }
        return .identifier(text, quoted: true)
    }

    private mutating func lexSQLString(_ start: Int) -> TokenKind {
        pos += 1
        while pos < end && bytes[pos] != 39 {
            if bytes[pos] == 92 { pos += 1 }
            pos += 1
        }
        if pos < end {
            pos += 1
        } else {
            pos = end
            error("unterminated string", start, pos, hint: "close it with '", atEnd: true)
        }
        return .sqlString(String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    /// `"…"` on one line, with escapes and `\(expr)`.
    private mutating func lexString(_ start: Int) -> TokenKind {
        pos += 1
        let pieces = lexStringBody(start, triple: false)
        return .string(pieces)
    }

    /// `"""…"""`: multi-line text; a first newline and the common indentation are removed.
    private mutating func lexTripleString(_ start: Int) -> TokenKind {
        pos += 3
        let pieces = lexStringBody(start, triple: true)
        return .string(dedent(pieces))
    }

    private mutating func lexStringBody(_ start: Int, triple: Bool) -> [StringPiece] {
        var pieces: [StringPiece] = []
        var text = [UInt8]()
        func flush() {
            if !text.isEmpty {
                pieces.append(.text(String(decoding: text, as: UTF8.self)))
                text.removeAll()
            }
        }
        while true {
            guard pos < end else {
                error(
                    "unterminated string", start, pos,
                    hint: triple ? "close it with \"\"\"" : "close it with \"", atEnd: true)
                break
            }
            let b = bytes[pos]
            if b == 34 {
                if !triple {
                    pos += 1
                    break
                }
                if peek(1) == 34 && peek(2) == 34 {
                    pos += 3
                    break
                }
                text.append(b)
                pos += 1
                continue
            }
            if b == 10 && !triple {
                error("unterminated string", start, pos, hint: "use \"\"\" for text over several lines")
                break
            }
            if b == 92 {  // backslash
                let e = peek(1)
                switch e {
                case 110: text.append(10); pos += 2
                case 116: text.append(9); pos += 2
                case 92: text.append(92); pos += 2
                case 34: text.append(34); pos += 2
                case 40:  // \(
                    flush()
                    pos += 2
                    let exprStart = pos
                    var depth = 1
                    while pos < end && depth > 0 {
                        let c = bytes[pos]
                        if c == 40 { depth += 1 }
                        if c == 41 { depth -= 1 }
                        if c == 34 || c == 39 || c == 96 {  // skip nested quotes
                            pos += 1
                            while pos < end && bytes[pos] != c && bytes[pos] != 10 {
                                if bytes[pos] == 92 { pos += 1 }
                                pos += 1
                            }
                        }
                        if c == 10 && !triple { break }
                        if depth > 0 { pos += 1 }
                    }
                    if depth > 0 {
                        error(
                            // A backslash just before the end skips one past it.
                            "unterminated interpolation", exprStart - 2, min(pos, end),
                            hint: "close it with ')'", atEnd: pos >= end)
                        return pieces
                    }
                    pieces.append(.interpolation(SourceRange(exprStart, pos)))
                    pos += 1
                default:
                    error(
                        "unknown escape sequence", pos, min(pos + 2, end),
                        hint: "known escapes: \\n \\t \\\\ \\\" \\(expr)")
                    pos += e == 0 ? 1 : 2
                }
                continue
            }
            text.append(b)
            pos += 1
        }
        flush()
        return pieces
    }

    /// Drops the newline after `"""`, a last blank line, and the smallest indentation.
    private func dedent(_ pieces: [StringPiece]) -> [StringPiece] {
        // Work on the text pieces only; interpolations stay in place.
        var pieces = pieces
        if case .text(let t)? = pieces.first, t.hasPrefix("\n") {
            pieces[0] = .text(String(t.dropFirst()))
        }
        if case .text(let t)? = pieces.last {
            if let nl = t.lastIndex(of: "\n"), t[t.index(after: nl)...].allSatisfy({ $0 == " " || $0 == "\t" }) {
                pieces[pieces.count - 1] = .text(String(t[..<nl]))
            }
        }
        // Indentation: of lines that start in a text piece.
        var minIndent = Int.max
        var atLineStart = true
        for piece in pieces {
            switch piece {
            case .text(let t):
                var i = 0
                var counting = atLineStart
                var ind = 0
                for ch in t {
                    if ch == "\n" {
                        counting = true
                        ind = 0
                    } else if counting && (ch == " " || ch == "\t") {
                        ind += 1
                    } else if counting {
                        minIndent = min(minIndent, ind)
                        counting = false
                    }
                    i += 1
                }
                atLineStart = counting
                if counting { /* trailing blanks before an interpolation */
                    minIndent = min(minIndent, ind)
                    _ = i
                }
            case .interpolation:
                atLineStart = false
            }
        }
        guard minIndent != Int.max, minIndent > 0 else { return pieces }
        var out: [StringPiece] = []
        atLineStart = true
        for piece in pieces {
            switch piece {
            case .text(let t):
                var s = ""
                var skip = atLineStart ? minIndent : 0
                for ch in t {
                    if ch == "\n" {
                        s.append(ch)
                        skip = minIndent
                    } else if skip > 0 && (ch == " " || ch == "\t") {
                        skip -= 1
                    } else {
                        skip = 0
                        s.append(ch)
                    }
                }
                atLineStart = (t.last == "\n") || (atLineStart && s.isEmpty)
                out.append(.text(s))
            case .interpolation:
                atLineStart = false
                out.append(piece)
            }
        }
        return out
    }
}
