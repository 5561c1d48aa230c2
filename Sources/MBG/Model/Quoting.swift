/// SQL quoting for ClickHouse. Every name and string that reaches SQL goes through here.

private let reservedWords: Set<String> = [
    "all", "and", "any", "array", "as", "asc", "between", "by", "case", "cast", "create",
    "cross", "database", "default", "desc", "distinct", "drop", "else", "end", "exists",
    "false", "final", "format", "from", "full", "global", "group", "having", "if", "in",
    "inner", "insert", "interval", "into", "is", "join", "key", "left", "like", "limit",
    "not", "null", "offset", "on", "or", "order", "outer", "prewhere", "primary", "right",
    "sample", "select", "settings", "table", "then", "to", "true", "union", "using", "view",
    "when", "where", "with",
]

/// True for names that ClickHouse reads as an identifier without quotes.
package func isPlainIdentifier(_ name: String) -> Bool {
    // ASCII only, so bytes suffice (and are much cheaper than Unicode properties).
    func letter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
    guard let first = name.utf8.first, letter(first) else { return false }
    for b in name.utf8 {
        guard letter(b) || (b >= 0x30 && b <= 0x39) else { return false }
    }
    // No reserved word is longer than 8 letters: skip the lookup for longer names.
    return name.utf8.count > 8 || !reservedWords.contains(name.lowercased())
}

/// `events` stays `events`; anything else is backquoted with `\` escapes, so no
/// name can end the identifier early.
package func quoteIdentifier(_ name: String) -> String {
    if isPlainIdentifier(name) { return name }
    return "`" + escapeForQuotes(name, quote: "`") + "`"
}

/// A string literal: `'it\'s'`.
package func quoteString(_ text: String) -> String {
    "'" + escapeForQuotes(text, quote: "'") + "'"
}

private func escapeForQuotes(_ text: String, quote: Character) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count + 2)
    for ch in text {
        switch ch {
        case "\\": out += "\\\\"
        case quote: out += "\\" + String(quote)
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\0": out += "\\0"
        default: out.append(ch)
        }
    }
    return out
}

/// `db.t` with each part quoted as needed; just `t` without a database.
package func qualified(_ database: String?, _ name: String) -> String {
    guard let database, !database.isEmpty else { return quoteIdentifier(name) }
    return quoteIdentifier(database) + "." + quoteIdentifier(name)
}
