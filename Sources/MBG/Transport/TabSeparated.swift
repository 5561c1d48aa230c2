import Foundation

/// A body that is not valid TabSeparated text.
package struct TabSeparatedError: Error, Equatable, Sendable, CustomStringConvertible {
    package var reason: String
    package init(reason: String) { self.reason = reason }
    package var description: String { "malformed TabSeparated answer: \(reason)" }
}

/// ClickHouse's TabSeparated text: rows end with `\n`, fields with `\t`, and
/// inside a field `\t \n \\ \' \0 \b \f \r` are escaped; a field that is exactly
/// `\N` is NULL. Escaped text holds no raw tab or newline, so rows and fields
/// are found first and unescaped after.
///
/// Arrays, tuples and maps are the exception: the server writes them in their
/// quoted SQL form (`['a\tb','c\'d']`) without escaping them again, so those
/// fields are kept as they are, as literals ClickHouse reads back.
package enum TabSeparated {
    /// Every row of a body, each field unescaped; nil for NULL.
    /// `raw(column)` says which columns hold quoted values to keep as they are.
    package static func decodeRows(
        _ body: Data, raw: (Int) -> Bool = { _ in false }
    ) throws(TabSeparatedError) -> [[String?]] {
        var rows: [[String?]] = []
        let bytes = [UInt8](body)
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            var row: [String?] = []
            var fieldStart = lineStart
            var column = 0
            while true {
                var fieldEnd = fieldStart
                while fieldEnd < lineEnd && bytes[fieldEnd] != UInt8(ascii: "\t") { fieldEnd += 1 }
                let field = bytes[fieldStart..<fieldEnd]
                if raw(column) {
                    row.append(String(decoding: field, as: UTF8.self))
                } else {
                    row.append(try unescape(field, row: rows.count + 1))
                }
                column += 1
                if fieldEnd >= lineEnd { break }
                fieldStart = fieldEnd + 1
            }
            rows.append(row)
            lineStart = lineEnd + 1
        }
        return rows
    }

    /// Types whose text form is a quoted SQL literal, kept raw in a field.
    package static func isQuotedType(_ type: String) -> Bool {
        var t = Substring(type)
        for wrapper in ["LowCardinality(", "Nullable("] where t.hasPrefix(wrapper) {
            t = t.dropFirst(wrapper.count)
        }
        return t.hasPrefix("Array(") || t.hasPrefix("Tuple(") || t.hasPrefix("Map(")
            || t.hasPrefix("Nested(")
    }

    /// One field's text; nil when it is `\N`.
    static func unescape(_ field: ArraySlice<UInt8>, row: Int) throws(TabSeparatedError) -> String? {
        if field.count == 2 && field.first == UInt8(ascii: "\\") && field.last == UInt8(ascii: "N") {
            return nil
        }
        guard field.contains(UInt8(ascii: "\\")) else { return String(decoding: field, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var escaped = false
        for byte in field {
            if escaped {
                escaped = false
                switch byte {
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "0"): out.append(0)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "a"): out.append(0x07)
                case UInt8(ascii: "v"): out.append(0x0B)
                case UInt8(ascii: "e"): out.append(0x1B)
                default: out.append(byte)  // `\\`, `\'` and anything else stand for themselves
                }
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        if escaped { throw TabSeparatedError(reason: "field ends inside an escape in row \(row)") }
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes a value for a TabSeparated field (the inverse of decoding).
    package static func escape(_ value: String?) -> String {
        guard let value else { return "\\N" }
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\0": out += "\\0"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
