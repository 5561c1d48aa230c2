/// Renders a query result as an aligned text table that fits a given width:
///
///      id | name | note
///     ----+------+------
///       1 | Ann  | NULL
///     (1 row)
///
/// Widths are display widths (a CJK character or an emoji takes two
/// columns). When the table is too wide, the widest columns shrink first and
/// their cells end in `…`. Columns whose values are all numbers align right.
public struct TableFormatter: Sendable {
    /// The widest line the table may take, in terminal columns.
    public var maxWidth: Int
    /// A column never shrinks below this, so every column stays readable.
    public var minColumnWidth = 3
    /// Whether to end with "(N rows)".
    public var showsRowCount = true

    public init(maxWidth: Int) {
        self.maxWidth = maxWidth
    }

    public func render(columns: [String], rows: [[String?]]) -> String {
        let header = columns.map(Self.printable)
        let cells = rows.map { row in
            columns.indices.map { index in
                index < row.count ? row[index].map(Self.printable) ?? "NULL" : ""
            }
        }
        let rightAligned = columns.indices.map { index in
            let values = rows.compactMap { index < $0.count ? $0[index] : nil }
            return !values.isEmpty && values.allSatisfy { Double($0) != nil }
        }
        let widths = fit(
            columns.indices.map { index in
                cells.reduce(Self.displayWidth(of: header[index])) { widest, row in
                    max(widest, Self.displayWidth(of: row[index]))
                }
            })

        func line(_ values: [String], aligningNumbers: Bool) -> String {
            let padded = values.indices.map { index in
                Self.pad(
                    Self.truncate(values[index], to: widths[index]), to: widths[index],
                    right: aligningNumbers && rightAligned[index])
            }
            return " " + padded.joined(separator: " | ")
        }

        var lines = [line(header, aligningNumbers: false)]
        lines.append(widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+"))
        lines += cells.map { line($0, aligningNumbers: true) }
        if showsRowCount {
            lines.append(rows.count == 1 ? "(1 row)" : "(\(rows.count) rows)")
        }
        return lines.map { $0.trimmingTrailingSpaces() }.joined(separator: "\n") + "\n"
    }

    /// Shrinks the widest column, one column at a time, until the table fits
    /// or nothing can shrink further.
    private func fit(_ natural: [Int]) -> [Int] {
        var widths = natural
        // One space at the start, " | " between columns, one at the end.
        let chrome = 2 + 3 * max(0, widths.count - 1)
        while chrome + widths.reduce(0, +) > maxWidth {
            guard let widest = widths.indices.max(by: { widths[$0] < widths[$1] }),
                widths[widest] > minColumnWidth
            else { break }
            widths[widest] -= 1
        }
        return widths
    }

    /// Control characters would break the layout: show them escaped.
    static func printable(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\n", "\r\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default: result.append(character)
            }
        }
        return result
    }

    static func truncate(_ text: String, to width: Int) -> String {
        guard displayWidth(of: text) > width else { return text }
        var result = ""
        var used = 0
        for character in text {
            let characterWidth = displayWidth(of: character)
            if used + characterWidth + 1 > width { break }
            result.append(character)
            used += characterWidth
        }
        return result + "…"
    }

    static func pad(_ text: String, to width: Int, right: Bool) -> String {
        let padding = String(repeating: " ", count: max(0, width - displayWidth(of: text)))
        return right ? padding + text : text + padding
    }

    /// Terminal columns `text` takes.
    public static func displayWidth(of text: String) -> Int {
        text.reduce(0) { $0 + displayWidth(of: $1) }
    }

    /// Terminal columns one grapheme takes: 0 for controls and lone combining
    /// marks, 2 for East Asian wide and emoji, else 1.
    public static func displayWidth(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if scalars.contains(where: { isWide($0) }) { return 2 }
        // An emoji shown as emoji by a variation selector.
        if scalars.contains("\u{FE0F}") && first.properties.isEmoji { return 2 }
        let allZeroWidth = scalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .format, .control: true
            default: false
            }
        }
        return allZeroWidth ? 0 : 1
    }

    private static func isWide(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isEmojiPresentation { return true }
        switch scalar.value {
        case 0x1100...0x115F,  // Hangul Jamo initials
            0x2E80...0x303E,  // CJK radicals, punctuation
            0x3041...0x33FF,  // kana, CJK symbols
            0x3400...0x4DBF,  // CJK extension A
            0x4E00...0x9FFF,  // CJK unified ideographs
            0xA000...0xA4CF,  // Yi
            0xAC00...0xD7A3,  // Hangul syllables
            0xF900...0xFAFF,  // CJK compatibility ideographs
            0xFE30...0xFE4F,  // CJK compatibility forms
            0xFF00...0xFF60,  // fullwidth forms
            0xFFE0...0xFFE6,
            0x20000...0x3FFFD:  // CJK extensions B and later
            return true
        default:
            return false
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }
}
