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
    // This runs for every name put in SQL: one pass over contiguous bytes.
    func letter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
    var name = name
    return name.withUTF8 { b in
        guard let first = b.first, letter(first) else { return false }
        // The name lowercased, packed into 8 bytes (no reserved word is longer).
        var packed: UInt64 = 0
        for (i, c) in b.enumerated() {
            guard letter(c) || (c >= 0x30 && c <= 0x39) else { return false }
            if i < 8 { packed |= UInt64(c >= 0x41 && c <= 0x5A ? c | 0x20 : c) << (8 * UInt64(i)) }
        }
        // Longer names are no reserved word; the others are looked up without
        // a lowercased copy or hashing.
        return b.count > 8 || !isReservedPacked(packed)
    }
}

/// `reservedWords`, each packed as `isPlainIdentifier` packs a name, sorted.
private let reservedPacked: [UInt64] = reservedWords.map { w in
    w.utf8.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}.sorted()

private func isReservedPacked(_ packed: UInt64) -> Bool {
    var lo = 0
    var hi = reservedPacked.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if reservedPacked[mid] < packed { lo = mid + 1 } else { hi = mid }
    }
    return lo < reservedPacked.count && reservedPacked[lo] == packed
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
    // Most text has nothing to escape: then it is returned as it is, without
    // walking its characters.
    let q = quote.asciiValue ?? 0
    if !text.utf8.contains(where: { $0 == 0x5C || $0 == q || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0 }) {
        return text
    }
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

extension String {
    /// Whether `needle` (ASCII) occurs in the text: as Foundation's `contains`
    /// finds it, but for ASCII text a plain byte search (engine names, SQL
    /// keywords; this runs per table and step of big plans).
    func containsText(_ needle: String) -> Bool {
        let found: Bool?? = utf8.withContiguousStorageIfAvailable { hay -> Bool? in
            guard !hay.contains(where: { $0 >= 0x80 }) else { return nil }
            let n = Array(needle.utf8)
            guard !n.isEmpty else { return false }
            guard hay.count >= n.count else { return false }
            for i in 0...(hay.count - n.count) where hay[i] == n[0] {
                var j = 1
                while j < n.count && hay[i + j] == n[j] { j += 1 }
                if j == n.count { return true }
            }
            return false
        }
        if let found = found ?? nil { return found }
        return contains(needle)
    }
}
