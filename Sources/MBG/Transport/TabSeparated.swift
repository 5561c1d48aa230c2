import Foundation

/// A body that is not valid TabSeparated text.
public struct TabSeparatedError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "malformed TabSeparated answer: \(reason)" }
}

/// ClickHouse's TabSeparated text: rows end with `\n`, fields with `\t`, and
/// inside a field `\t \n \\ \' \0 \b \f \r` are escaped; a field that is exactly
/// `\N` is NULL.
public enum TabSeparated {
    /// Every row of a body, each field unescaped; nil for NULL.
    public static func decodeRows(_ body: Data) throws(TabSeparatedError) -> [[String?]] {
        var rows: [[String?]] = []
        var row: [String?] = []
        var field: [UInt8] = []
        var fieldIsNull = false
        var fieldWasEscaped = false
        let tab = UInt8(ascii: "\t")
        let newline = UInt8(ascii: "\n")
        let backslash = UInt8(ascii: "\\")

        func endField() {
            if fieldIsNull && field.isEmpty {
                row.append(nil)
            } else {
                row.append(String(decoding: field, as: UTF8.self))
            }
            field.removeAll(keepingCapacity: true)
            fieldIsNull = false
            fieldWasEscaped = false
        }

        var escaped = false
        for byte in body {
            if escaped {
                escaped = false
                switch byte {
                case UInt8(ascii: "N") where field.isEmpty && !fieldWasEscaped:
                    // `\N` alone is NULL; followed by more text it was never valid.
                    fieldIsNull = true
                case UInt8(ascii: "t"): field.append(tab)
                case UInt8(ascii: "n"): field.append(newline)
                case UInt8(ascii: "r"): field.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "0"): field.append(0)
                case UInt8(ascii: "b"): field.append(0x08)
                case UInt8(ascii: "f"): field.append(0x0C)
                case UInt8(ascii: "a"): field.append(0x07)
                case UInt8(ascii: "v"): field.append(0x0B)
                case UInt8(ascii: "e"): field.append(0x1B)
                default: field.append(byte)  // `\\`, `\'`, and anything else stands for itself
                }
                fieldWasEscaped = true
                continue
            }
            switch byte {
            case backslash:
                if fieldIsNull {
                    throw TabSeparatedError(reason: "text after \\N in row \(rows.count + 1)")
                }
                escaped = true
            case tab:
                endField()
            case newline:
                endField()
                rows.append(row)
                row.removeAll(keepingCapacity: true)
            default:
                if fieldIsNull {
                    throw TabSeparatedError(reason: "text after \\N in row \(rows.count + 1)")
                }
                field.append(byte)
            }
        }
        if escaped { throw TabSeparatedError(reason: "body ends inside an escape") }
        // A last row without its newline still counts.
        if !field.isEmpty || fieldIsNull || !row.isEmpty {
            endField()
            rows.append(row)
        }
        return rows
    }

    /// Escapes a value for a TabSeparated field (the inverse of decoding).
    public static func escape(_ value: String?) -> String {
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
