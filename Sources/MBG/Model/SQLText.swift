/// Just enough of ClickHouse SQL's lexical structure to look at SQL text the
/// server gives back (`engine_full`, `sorting_key`, …) and at statements before
/// they are sent: where words, strings, quoted names and brackets are.

/// One token of SQL text. Whitespace and comments are not tokens.
struct SQLToken: Equatable {
    enum Kind: Equatable {
        /// A bare word: keyword, identifier or number.
        case word
        /// `` `name` `` or `"name"`; `text` is the name without quotes or escapes.
        case quotedIdentifier
        /// `'text'`; `text` is the raw literal, quotes included.
        case string
        /// Any other character: `(`, `)`, `,`, `;`, operators.
        case symbol
    }
    var kind: Kind
    var text: String
    /// Where the token is in the source, in characters.
    var range: Range<String.Index>
    /// Bracket depth at the token (an opening bracket counts outside itself).
    var depth: Int

    func isWord(_ upper: String) -> Bool { kind == .word && text.uppercased() == upper }
}

/// Splits SQL into tokens, skipping whitespace and `--`, `#!`/`# ` and `/* */` comments.
/// Never fails: an unterminated string or comment runs to the end.
func sqlTokens(_ sql: String) -> [SQLToken] {
    var tokens: [SQLToken] = []
    var depth = 0
    var i = sql.startIndex
    let end = sql.endIndex

    func peek(_ offset: Int) -> Character? {
        var j = i
        for _ in 0..<offset {
            guard j < end else { return nil }
            j = sql.index(after: j)
        }
        return j < end ? sql[j] : nil
    }

    while i < end {
        let c = sql[i]
        if c.isWhitespace {
            i = sql.index(after: i)
            continue
        }
        if c == "-" && peek(1) == "-" {
            while i < end && sql[i] != "\n" { i = sql.index(after: i) }
            continue
        }
        if c == "/" && peek(1) == "*" {
            i = sql.index(i, offsetBy: 2)
            var nesting = 1
            while i < end && nesting > 0 {
                if sql[i] == "*" && peek(1) == "/" {
                    nesting -= 1
                    i = sql.index(i, offsetBy: 2)
                } else if sql[i] == "/" && peek(1) == "*" {
                    nesting += 1
                    i = sql.index(i, offsetBy: 2)
                } else {
                    i = sql.index(after: i)
                }
            }
            continue
        }
        let start = i
        if c == "'" || c == "`" || c == "\"" {
            // Quoted: backslash escapes and doubled quotes both continue the token.
            var text = ""
            i = sql.index(after: i)
            while i < end {
                let d = sql[i]
                if d == "\\" {
                    i = sql.index(after: i)
                    if i < end {
                        text.append(unescapeSQLChar(sql[i]))
                        i = sql.index(after: i)
                    }
                } else if d == c {
                    if peek(1) == c {
                        text.append(c)
                        i = sql.index(i, offsetBy: 2)
                    } else {
                        i = sql.index(after: i)
                        break
                    }
                } else {
                    text.append(d)
                    i = sql.index(after: i)
                }
            }
            if c == "'" {
                tokens.append(SQLToken(kind: .string, text: String(sql[start..<i]), range: start..<i, depth: depth))
            } else {
                tokens.append(SQLToken(kind: .quotedIdentifier, text: text, range: start..<i, depth: depth))
            }
            continue
        }
        if isWordChar(c) {
            while i < end && isWordChar(sql[i]) { i = sql.index(after: i) }
            tokens.append(SQLToken(kind: .word, text: String(sql[start..<i]), range: start..<i, depth: depth))
            continue
        }
        i = sql.index(after: i)
        if c == ")" || c == "]" || c == "}" { depth = max(0, depth - 1) }
        tokens.append(SQLToken(kind: .symbol, text: String(c), range: start..<i, depth: depth))
        if c == "(" || c == "[" || c == "{" { depth += 1 }
    }
    return tokens
}

private func isWordChar(_ c: Character) -> Bool {
    c == "_" || c == "$" || c.isLetter || c.isNumber
}

private func unescapeSQLChar(_ c: Character) -> Character {
    switch c {
    case "n": return "\n"
    case "t": return "\t"
    case "r": return "\r"
    case "0": return "\0"
    case "b": return "\u{8}"
    case "f": return "\u{C}"
    default: return c
    }
}

/// Splits at commas outside brackets and strings: `a, f(b, c)` → `a`, `f(b, c)`.
func splitTopLevelCommas(_ sql: String) -> [String] {
    var pieces: [String] = []
    var first: String.Index?
    var last: String.Index?
    for t in sqlTokens(sql) {
        if t.kind == .symbol && t.text == "," && t.depth == 0 {
            if let first, let last { pieces.append(String(sql[first..<last])) }
            first = nil
            last = nil
        } else {
            if first == nil { first = t.range.lowerBound }
            last = t.range.upperBound
        }
    }
    if let first, let last { pieces.append(String(sql[first..<last])) }
    return pieces
}

/// A canonical spelling of an SQL expression or type, for comparing what a
/// script declares with what the server renders: no whitespace or comments, no
/// identifier quotes, keywords upper-case, `INTERVAL n UNIT` as `toIntervalUnit(n)`,
/// and one pair of outer parentheses removed.
func normalizedSQL(_ sql: String) -> String {
    var tokens = sqlTokens(sql)
    // Outer parentheses around the whole text say nothing.
    while tokens.count >= 2, tokens.first?.text == "(", tokens.first?.kind == .symbol,
        tokens.last?.text == ")", tokens.last?.kind == .symbol,
        closingIndex(tokens, 0) == tokens.count - 1
    {
        tokens = Array(tokens.dropFirst().dropLast())
    }
    var out: [String] = []
    var k = 0
    while k < tokens.count {
        let t = tokens[k]
        if t.isWord("INTERVAL"), k + 2 < tokens.count, tokens[k + 2].kind == .word,
            let unit = intervalUnit(tokens[k + 2].text)
        {
            out.append("toInterval\(unit)(\(tokens[k + 1].text))")
            k += 3
            continue
        }
        switch t.kind {
        case .quotedIdentifier:
            out.append(t.text)
        case .word:
            out.append(sqlKeywords.contains(t.text.uppercased()) ? t.text.uppercased() : t.text)
        case .string, .symbol:
            out.append(t.text)
        }
        k += 1
    }
    // Words next to each other keep one space so `a AND b` does not become `aANDb`.
    var result = ""
    for piece in out {
        if let l = result.last, let f = piece.first, isWordChar(l), isWordChar(f) { result += " " }
        result += piece
    }
    return result
}

private let sqlKeywords: Set<String> = [
    "AND", "OR", "NOT", "IN", "IS", "NULL", "AS", "CASE", "WHEN", "THEN", "ELSE", "END", "LIKE",
    "BETWEEN", "DELETE", "TO", "DISK", "VOLUME", "WHERE", "GROUP", "BY", "SET", "RECOMPRESS",
    "CODEC", "TRUE", "FALSE",
]

private func intervalUnit(_ word: String) -> String? {
    switch word.uppercased() {
    case "SECOND", "SECONDS": return "Second"
    case "MINUTE", "MINUTES": return "Minute"
    case "HOUR", "HOURS": return "Hour"
    case "DAY", "DAYS": return "Day"
    case "WEEK", "WEEKS": return "Week"
    case "MONTH", "MONTHS": return "Month"
    case "QUARTER", "QUARTERS": return "Quarter"
    case "YEAR", "YEARS": return "Year"
    default: return nil
    }
}

/// Index of the bracket that closes the one at `open`, if any.
func closingIndex(_ tokens: [SQLToken], _ open: Int) -> Int? {
    let depth = tokens[open].depth
    var k = open + 1
    while k < tokens.count {
        let t = tokens[k]
        if t.kind == .symbol && t.depth == depth && (t.text == ")" || t.text == "]" || t.text == "}") {
            return k
        }
        k += 1
    }
    return nil
}

/// The value of a string literal: `'it\'s'` → `it's`.
func sqlStringValue(_ literal: String) -> String {
    var body = Substring(literal)
    if body.first == "'" { body = body.dropFirst() }
    if body.last == "'" { body = body.dropLast() }
    var out = ""
    var escaped = false
    var previousQuote = false
    for c in body {
        if escaped {
            out.append(unescapeSQLChar(c))
            escaped = false
        } else if c == "\\" {
            escaped = true
        } else if c == "'" && previousQuote {
            previousQuote = false  // `''` is one quote, already appended
            continue
        } else {
            out.append(c)
        }
        previousQuote = (c == "'") && !previousQuote
    }
    return out
}

/// The strings of an array literal as the server prints it: `['a','b']`.
func sqlStringArray(_ text: String) -> [String] {
    sqlTokens(text).filter { $0.kind == .string }.map { sqlStringValue($0.text) }
}
