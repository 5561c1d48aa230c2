/// Rewrites a script in the one canonical layout described in docs/language.md
/// ("Formatting"). It prints the syntax tree, puts back the comments the lexer
/// skipped, and copies literal text (strings, numbers, types, engines, names)
/// as written, so the result parses to the same tree.
package enum Formatter {
    /// The formatted text; throws the syntax errors of a script that does not parse.
    package static func format(_ file: SourceFile) throws -> String {
        let (program, diagnostics) = Parser.parse(file)
        guard diagnostics.isEmpty else { throw DiagnosticList(diagnostics) }
        var lexer = Lexer(file: file)
        let tokens = lexer.tokenize()
        let printer = FormatPrinter(file: file, tokens: tokens, comments: lexer.comments)
        printer.statements(program.statements, closeAt: file.bytes.count)
        return printer.out
    }

    package static func format(_ text: String, name: String = "<input>") throws -> String {
        try format(SourceFile(name: name, text: text))
    }
}

/// The state of one formatting run: the text so far and which comments are placed.
final class FormatPrinter {
    let file: SourceFile
    let bytes: [UInt8]
    let tokens: [Token]
    let comments: [SourceRange]
    var used: [Bool]
    var out = ""
    var indent = 0
    /// No blank line right after `{` or at the top of the file.
    var atBlockStart = true
    /// Lists, records, arguments and clauses longer than this go one item per line.
    static let inlineLimit = 80
    /// A table's clauses stay on the line of its `}` up to this length.
    static let lineLimit = 100

    /// Words a column modifier starts with: a column named so needs a `,` before it.
    static let columnModifiers: Set<String> = ["key", "default", "codec", "materialized", "alias", "ephemeral", "comment", "ttl"]

    /// Words that continue a table, view or migration declaration on the next line.
    static let continuationWords = Parser.clauseWords.union(Parser.migrateWords)
        .union(["database", "cluster", "granularity", "lateness"])

    init(file: SourceFile, tokens: [Token], comments: [SourceRange]) {
        self.file = file
        self.bytes = Array(file.text.utf8)
        self.tokens = tokens
        self.comments = comments
        self.used = Array(repeating: false, count: comments.count)
    }

    var pad: String { String(repeating: " ", count: indent * 4) }

    func slice(_ r: SourceRange) -> String { file.slice(r) }

    // MARK: - tokens and comments

    /// Index of the first token starting at or after `offset`.
    func tokenIndex(atOrAfter offset: Int) -> Int {
        var lo = 0
        var hi = tokens.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if tokens[mid].range.start < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Start of the first `p` token at or after `offset`.
    func punct(_ p: String, after offset: Int) -> Int {
        var i = tokenIndex(atOrAfter: offset)
        while i < tokens.count - 1 && !tokens[i].isPunct(p) { i += 1 }
        return tokens[i].range.start
    }

    /// The text of a one-token expression, without the parentheses it may be wrapped in.
    func leaf(_ e: Expr) -> String {
        var i = tokenIndex(atOrAfter: e.range.start)
        while i < tokens.count - 1 && tokens[i].isPunct("(") { i += 1 }
        return slice(tokens[i].range)
    }

    func commentText(_ i: Int) -> String {
        var text = slice(comments[i])
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }

    /// Text copied as written keeps its comments (inside a type's parentheses): they are placed.
    func verbatim(_ r: SourceRange) -> String {
        for i in comments.indices where comments[i].start >= r.start && comments[i].start < r.end { used[i] = true }
        return slice(r)
    }

    func firstUnused() -> Int? {
        used.firstIndex(of: false)
    }

    func hasComment(in range: SourceRange) -> Bool {
        comments.indices.contains { !used[$0] && comments[$0].start > range.start && comments[$0].start < range.end }
    }

    /// Whether the source has a blank line right before `offset`.
    func hadBlank(_ offset: Int) -> Bool {
        var i = min(offset, bytes.count) - 1
        var newlines = 0
        while i >= 0, [9, 10, 13, 32].contains(bytes[i]) {
            if bytes[i] == 10 { newlines += 1 }
            i -= 1
        }
        return i >= 0 && newlines >= 2
    }

    /// A comment on the same source line, after `end`, goes at the end of the printed line.
    func trailing(_ end: Int?) -> String {
        // Only the next comment in order: one left inside the code before it goes first.
        guard let end, let i = firstUnused(), comments[i].start >= end else { return "" }
        let gap = bytes[min(end, bytes.count)..<comments[i].start]
        guard !gap.contains(10) else { return "" }
        // Only separators may stand between: a comment after more code belongs to that code.
        var t = tokenIndex(atOrAfter: end)
        while t < tokens.count - 1 && tokens[t].range.start < comments[i].start {
            guard tokens[t].isPunct(",") || tokens[t].isPunct(";") else { return "" }
            t += 1
        }
        used[i] = true
        return "  " + commentText(i)
    }

    /// The comments not yet placed that start before `offset`, one per line.
    func pendingComments(before offset: Int, blankLines: Bool) -> String {
        var s = ""
        while let i = firstUnused(), comments[i].start < offset {
            if blankLines && !atBlockStart && hadBlank(comments[i].start) { s += "\n" }
            s += pad + commentText(i) + "\n"
            used[i] = true
            atBlockStart = false
        }
        return s
    }

    /// One printed line (or several, when an expression is broken), with its trailing comment.
    func write(_ text: String, end: Int?) {
        out += pad + text + trailing(end) + "\n"
        atBlockStart = false
    }

    // MARK: - statements

    func statements(_ list: [Stmt], closeAt: Int) {
        for (i, s) in list.enumerated() {
            out += pendingComments(before: s.range.start, blankLines: true)
            if !atBlockStart && hadBlank(s.range.start) { out += "\n" }
            let next = i + 1 < list.count ? list[i + 1] : nil
            statement(s, next: next)
            // Comments inside the statement that found no place go right after it.
            out += pendingComments(before: s.range.end, blankLines: false)
        }
        out += pendingComments(before: closeAt, blankLines: true)
    }

    /// `;` where a newline alone would let the next statement continue this one.
    func separator(_ s: Stmt, _ rendered: String, next: Stmt?) -> String {
        guard let next else { return "" }
        var endsWithDeclaration = false
        switch s {
        case .table, .view, .migrate: endsWithDeclaration = true
        case .letBinding(_, let v, _), .assignment(_, let v, _): endsWithDeclaration = isDeclaration(v)
        case .returnStmt(let v?, _): endsWithDeclaration = isDeclaration(v)
        default: break
        }
        if endsWithDeclaration {
            // The next statement's first word (past any parentheses) could be read as a clause or option.
            var i = tokenIndex(atOrAfter: next.range.start)
            while i < tokens.count - 1 && tokens[i].isPunct("(") { i += 1 }
            if let word = tokens[i].word, FormatPrinter.continuationWords.contains(word) { return ";" }
            // `table t v1` then a record on the next line would read it as the columns.
            if tokens[i].isPunct("{") { return ";" }
        }
        // `sql` then a string on the next line would read as `sql "…"`.
        if rendered.hasSuffix("sql"), case .expression(let e) = next, case .string = e.kind { return ";" }
        if rendered.hasSuffix("sql"), case .expression(let e) = next, startsWithString(e) { return ";" }
        return ""
    }

    func startsWithString(_ e: Expr) -> Bool {
        switch e.kind {
        case .string: return true
        case .binary(_, let l, _): return startsWithString(l)
        case .call(let f, _), .member(let f, _), .index(let f, _): return startsWithString(f)
        default: return false
        }
    }

    func isDeclaration(_ e: Expr) -> Bool {
        switch e.kind {
        case .migrate, .view, .table: return true
        default: return false
        }
    }

    func statement(_ s: Stmt, next: Stmt?) {
        switch s {
        case .table(let d):
            table(d, prefix: "", next: next, stmt: s)
        case .view(let v):
            let text = view(v)
            write(text + separator(s, text, next: next), end: v.range.end)
        case .migrate(let m):
            migrate(m, prefix: "", next: next, stmt: s)
        case .action(let a):
            var text = a.kind.rawValue
            if let t = a.target { text += " " + slice(t.range) }
            for f in a.flags { text += " " + slice(f.range) }
            write(text + separator(s, text, next: next), end: a.range.end)
        case .letBinding(let name, let value, let range):
            valueStatement("let \(slice(name.range)) = ", value, range, s, next)
        case .assignment(let name, let value, let range):
            valueStatement("\(slice(name.range)) = ", value, range, s, next)
        case .returnStmt(let value, let range):
            if let value {
                valueStatement("return ", value, range, s, next)
            } else {
                write("return", end: range.end)
            }
        case .function(let name, let params, let body, let range):
            let open = punct("{", after: (params.last?.range.end ?? name.range.end))
            let head = "fn \(slice(name.range))(\(params.map { slice($0.range) }.joined(separator: ", ")))"
            block(head, open: open, body: body, tail: "", end: range.end)
        case .ifStmt(let condition, let then, let otherwise, _):
            ifChain("if ", condition, then, otherwise)
        case .forStmt(let variable, let sequence, let body, let range):
            let open = punct("{", after: sequence.range.end)
            block("for \(slice(variable.range)) in \(expr(sequence, 1))", open: open, body: body, tail: "", end: range.end)
        case .printStmt(let values, let range):
            let text = "print " + values.map { expr($0, 1) }.joined(separator: ", ")
            write(text + separator(s, text, next: next), end: range.end)
        case .assertStmt(let condition, let message, let range):
            var text = "assert " + expr(condition, 1)
            if let message { text += ", " + expr(message, 1) }
            write(text + separator(s, text, next: next), end: range.end)
        case .importStmt(_, let range):
            let last = tokenIndex(atOrAfter: range.end) - 1
            write("import " + slice(tokens[max(0, last)].range), end: range.end)
        case .expression(let e):
            // A declaration in parentheses stays an expression.
            let text = expr(e, 1)
            write(text + separator(s, text, next: next), end: e.range.end)
        }
    }

    /// `let x = …`, `x = …`, `return …`: a declaration value keeps its statement layout.
    func valueStatement(_ prefix: String, _ value: Expr, _ range: SourceRange, _ s: Stmt, _ next: Stmt?) {
        switch value.kind {
        case .migrate(let m): migrate(m, prefix: prefix, next: next, stmt: s)
        case .table(let d): table(d, prefix: prefix, next: next, stmt: s)
        default:
            let text = prefix + expr(value, 0)
            write(text + separator(s, text, next: next), end: range.end)
        }
    }

    /// `head {` body `}tail`.
    func block(_ head: String, open: Int, body: [Stmt], tail: String, end: Int) {
        let close = punct("}", after: body.last?.range.end ?? open + 1)
        if body.isEmpty && !hasComment(in: SourceRange(open, close)) {
            write(head + " {}" + tail, end: end)
            return
        }
        write(head + " {", end: open + 1)
        indent += 1
        atBlockStart = true
        statements(body, closeAt: close)
        indent -= 1
        write("}" + tail, end: close + 1)
    }

    func ifChain(_ head: String, _ condition: Expr, _ then: [Stmt], _ otherwise: [Stmt]?) {
        let open = punct("{", after: condition.range.end)
        let close = punct("}", after: then.last?.range.end ?? open + 1)
        let line = head + expr(condition, 1) + " {"
        write(line, end: open + 1)
        indent += 1
        atBlockStart = true
        statements(then, closeAt: close)
        indent -= 1
        guard let otherwise else {
            write("}", end: close + 1)
            return
        }
        if otherwise.count == 1, case .ifStmt(let c2, let t2, let o2, let r2) = otherwise[0],
            !hasComment(in: SourceRange(close, r2.start))
        {
            out += pendingComments(before: close, blankLines: false)
            ifChain("} else if ", c2, t2, o2)
            return
        }
        let open2 = punct("{", after: close + 1)
        let close2 = punct("}", after: otherwise.last?.range.end ?? open2 + 1)
        write("} else {", end: open2 + 1)
        indent += 1
        atBlockStart = true
        statements(otherwise, closeAt: close2)
        indent -= 1
        write("}", end: close2 + 1)
    }

    // MARK: - declarations

    func tableHead(_ d: TableDecl) -> String {
        var text = "table " + slice(d.name.range)
        if let v = d.version { text += " v\(v)" }
        return text
    }

    func column(_ c: ColumnSyntax) -> (name: String, type: String, modifiers: [String]) {
        var mods: [String] = []
        if c.isKey { mods.append("key") }
        switch c.valueKind {
        case .ordinary: break
        case .defaulted: if let e = c.defaultSQL { mods.append("default " + leaf(e)) }
        case .materialized: if let e = c.defaultSQL { mods.append("materialized " + leaf(e)) }
        case .alias: if let e = c.defaultSQL { mods.append("alias " + leaf(e)) }
        case .ephemeral: mods.append("ephemeral" + (c.defaultSQL.map { " " + leaf($0) } ?? ""))
        }
        if let e = c.codec { mods.append("codec " + leaf(e)) }
        if let e = c.comment { mods.append("comment " + leaf(e)) }
        if let e = c.ttl { mods.append("ttl " + leaf(e)) }
        _ = verbatim(c.typeRange)
        return (slice(c.name.range), c.type, mods)
    }

    func needsComma(before c: ColumnSyntax) -> Bool {
        let name = slice(c.name.range)
        return FormatPrinter.columnModifiers.contains(name)
    }

    func keyItem(_ k: KeyItem) -> String {
        switch k {
        case .column(let n): return slice(n.range)
        case .sql(let e): return verbatim(e.range)
        }
    }

    func engine(_ e: EngineSyntax) -> String {
        switch e {
        case .text(let t): return t
        case .sql(let x): return leaf(x)
        }
    }

    func clause(_ c: TableClause, _ range: SourceRange) -> String {
        switch c {
        case .orderBy(let items): return "order_by " + items.map(keyItem).joined(separator: ", ")
        case .primaryKey(let items): return "primary_key " + items.map(keyItem).joined(separator: ", ")
        case .partitionBy(let item): return "partition_by " + keyItem(item)
        case .engine(let e):
            if case .text = e { _ = verbatim(SourceRange(tokens[tokenIndex(atOrAfter: range.start) + 1].range.start, range.end)) }
            return "engine " + engine(e)
        case .ttl(let e): return "ttl " + leaf(e)
        case .settings:
            // name = value, copied token by token (values keep their spelling).
            var parts: [String] = []
            var i = tokenIndex(atOrAfter: range.start) + 1
            while i + 2 < tokens.count, tokens[i].range.start < range.end {
                parts.append("\(slice(tokens[i].range)) = \(slice(tokens[i + 2].range))")
                i += 4
            }
            return "settings " + parts.joined(separator: ", ")
        case .database(let n): return "database " + slice(n.range)
        case .cluster(let n): return "cluster " + slice(n.range)
        case .sampleBy(let item): return "sample_by " + (item.map(keyItem) ?? "none")
        case .index(let name, let def):
            guard let def else { return "index \(slice(name.range)) none" }
            if case .text = def.type {
                // From the type's first word to `granularity` or the end of the clause.
                var i = tokenIndex(atOrAfter: name.range.end)
                while i < tokens.count - 1 && tokens[i].word != "type" { i += 1 }
                var stop = i + 1
                while stop < tokens.count - 1 && tokens[stop].range.start < range.end && tokens[stop].word != "granularity" { stop += 1 }
                if i + 1 < tokens.count { _ = verbatim(SourceRange(tokens[i + 1].range.start, tokens[stop - 1].range.end)) }
            }
            var text = "index \(slice(name.range)) \(keyItem(def.expression)) type \(engine(def.type))"
            if let g = def.granularity { text += " granularity \(g)" }
            return text
        case .projection(let name, let query):
            return "projection \(slice(name.range)) " + (query.map(leaf) ?? "none")
        case .comment(let e): return "comment " + (e.map(leaf) ?? "none")
        case .distributed(let e): return "distributed" + (e.map { " by " + leaf($0) } ?? "")
        }
    }

    /// A table declaration as a statement (or the value of one): columns one per
    /// line and aligned, clauses after `}` on one line unless too long or commented.
    func table(_ d: TableDecl, prefix: String, next: Stmt?, stmt: Stmt) {
        var line = prefix + tableHead(d)
        var lineEnd = d.versionRange?.end ?? d.name.range.end
        if let columns = d.columns {
            let open = punct("{", after: lineEnd)
            let close = punct("}", after: columns.last?.range.end ?? open + 1)
            if columns.isEmpty && !hasComment(in: SourceRange(open, close)) {
                line += " {}"
            } else {
                write(line + " {", end: open + 1)
                indent += 1
                atBlockStart = true
                let rows = columns.map(column)
                let nameWidth = rows.map(\.name.count).max() ?? 0
                let typeWidth = rows.filter { !$0.modifiers.isEmpty && !$0.type.contains("\n") }.map(\.type.count).max() ?? 0
                for (i, c) in columns.enumerated() {
                    out += pendingComments(before: c.range.start, blankLines: true)
                    if !atBlockStart && hadBlank(c.range.start) { out += "\n" }
                    let row = rows[i]
                    var text = row.name.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0) + row.type
                    if !row.modifiers.isEmpty {
                        if !row.type.contains("\n") {
                            text += String(repeating: " ", count: max(0, typeWidth - row.type.count))
                        }
                        text += "  " + row.modifiers.joined(separator: " ")
                    }
                    if i + 1 < columns.count && needsComma(before: columns[i + 1]) { text += "," }
                    write(text, end: c.range.end)
                    out += pendingComments(before: c.range.end, blankLines: false)
                }
                out += pendingComments(before: close, blankLines: true)
                indent -= 1
                line = "}"
            }
            lineEnd = close + 1
        }
        let clauses = d.clauses.map { clause($0.clause, $0.range) }
        let suffixFor: (String) -> String = { self.separator(stmt, $0, next: next) }
        let inline = clauses.isEmpty ? line : line + " " + clauses.joined(separator: " ")
        // A comment before a clause breaks them, one per line; one inside the last clause
        // finds no place either way and goes after the statement.
        let commented = d.clauses.contains { hasComment(in: SourceRange(lineEnd, $0.range.start)) }
        if clauses.isEmpty || (!commented && inline.count <= FormatPrinter.lineLimit && !inline.contains("\n")) {
            write(inline + suffixFor(inline), end: d.range.end)
            return
        }
        write(line, end: lineEnd)
        indent += 1
        for (i, c) in d.clauses.enumerated() {
            out += pendingComments(before: c.range.start, blankLines: false)
            let text = clauses[i]
            write(text + (i == clauses.count - 1 ? suffixFor(text) : ""), end: c.range.end)
        }
        indent -= 1
    }

    func view(_ v: ViewDecl) -> String {
        var text = "view \(slice(v.name.range)) to \(tableRef(v.target)) as \(leaf(v.select))"
        if let db = v.database { text += " database " + slice(db.range) }
        if let c = v.cluster { text += " cluster " + slice(c.range) }
        return text
    }

    func tableRef(_ r: TableRefSyntax) -> String {
        slice(r.name.range) + (r.version.map { " v\($0)" } ?? "")
    }

    func migrateHead(_ m: MigrateDecl) -> String {
        "migrate \(slice(m.table.range))\(m.from.map { " v\($0)" } ?? "") -> v\(m.to)"
    }

    static func duration(_ seconds: Int) -> String {
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] where seconds != 0 && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    func option(_ o: MigrateOption) -> String {
        switch o {
        case .via(let n): return "via " + slice(n.range)
        case .cutoff(let column, let lateness):
            return "cutoff " + slice(column.range) + (lateness.map { " lateness " + FormatPrinter.duration($0) } ?? "")
        case .batch(let e): return "batch " + expr(e, 1)
        case .throttle(let e): return "throttle " + expr(e, 1)
        case .parallel(let e): return "parallel " + expr(e, 1)
        case .transform(let e): return "transform " + leaf(e)
        case .strategy(let n): return "strategy " + slice(n.range)
        case .cutover(let n): return "cutover " + slice(n.range)
        case .name(let n): return "name " + slice(n.range)
        }
    }

    /// A migration as a statement (or the value of one): one option per line.
    func migrate(_ m: MigrateDecl, prefix: String, next: Stmt?, stmt: Stmt) {
        let head = prefix + migrateHead(m)
        if m.options.isEmpty {
            write(head + separator(stmt, head, next: next), end: m.range.end)
            return
        }
        write(head, end: m.toRange.end)
        indent += 1
        for (i, o) in m.options.enumerated() {
            out += pendingComments(before: o.range.start, blankLines: false)
            let text = option(o.option)
            write(text + (i == m.options.count - 1 ? separator(stmt, text, next: next) : ""), end: o.range.end)
        }
        indent -= 1
    }

    // MARK: - expressions

    /// Binding strength, from `or` (1) to a primary (9); declarations bind loosest (0).
    func precedence(_ op: BinaryOperator) -> Int {
        switch op {
        case .or: 1
        case .and: 2
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: 4
        case .add, .subtract: 5
        case .multiply, .divide, .remainder: 6
        }
    }

    /// The expression, in parentheses when it binds looser than `context`.
    func expr(_ e: Expr, _ context: Int) -> String {
        let (text, strength) = exprBody(e)
        return strength < context ? "(\(text))" : text
    }

    func exprBody(_ e: Expr) -> (String, Int) {
        switch e.kind {
        case .integer, .decimal, .duration, .string, .variable: return (leaf(e), 9)
        case .bool(let b): return (b ? "true" : "false", 9)
        case .null: return ("null", 9)
        case .tableRef(let r): return (tableRef(r), 9)
        case .sql(let body): return ("sql " + leaf(body), 9)
        case .list(let items):
            let parts = items.map { item in (item.range, { self.expr(item, 1) }) }
            return (bracketed("[", "]", parts, e.range, trailingComma: true), 9)
        case .record(let fields):
            let parts = fields.map { f -> (SourceRange, () -> String) in
                let start = f.computed?.range.start ?? f.value.range.start
                return (SourceRange(start, f.value.range.end), {
                    let key = f.computed.map { "(\(self.expr($0, 0)))" } ?? FormatPrinter.recordKey(f.key)
                    return key + ": " + self.expr(f.value, 1)
                })
            }
            return (bracketed("{", "}", parts, e.range, trailingComma: true), 9)
        case .unary(let op, let operand):
            switch op {
            case .negate:
                let text = expr(operand, 7)
                return ((text.hasPrefix("-") ? "- " : "-") + text, 7)
            case .not: return ("not " + expr(operand, 3), 3)
            }
        case .binary(let op, let l, let r):
            let p = precedence(op)
            // Comparisons do not chain: both sides bind tighter.
            let left = expr(l, p == 4 ? 5 : p)
            let right = expr(r, p + 1)
            return ("\(left) \(op.rawValue) \(right)", p)
        case .call(let f, let args):
            let parts = args.map { a in (a.range, { self.expr(a, 1) }) }
            let callee = expr(f, 8)
            return (callee + bracketed("(", ")", parts, SourceRange(f.range.end, e.range.end), trailingComma: false), 8)
        case .member(let x, let name): return (expr(x, 8) + "." + slice(name.range), 8)
        case .index(let x, let key): return (expr(x, 8) + "[" + expr(key, 0) + "]", 8)
        case .migrate(let m):
            return (([migrateHead(m)] + m.options.map { option($0.option) }).joined(separator: " "), 0)
        case .view(let v): return (view(v), 0)
        case .table(let d): return (inlineTable(d), 0)
        }
    }

    func inlineTable(_ d: TableDecl) -> String {
        var text = tableHead(d)
        if let columns = d.columns {
            let cols = columns.map { c -> String in
                let row = column(c)
                return ([row.name, row.type] + row.modifiers).joined(separator: " ")
            }
            text += cols.isEmpty ? " {}" : " {" + cols.joined(separator: ", ") + "}"
        }
        for c in d.clauses { text += " " + clause(c.clause, c.range) }
        return text
    }

    /// A record key: bare when it lexes as a name, else in quotes.
    static func recordKey(_ key: String) -> String {
        let b = Array(key.utf8)
        let bare =
            !b.isEmpty && Lexer.isIdentStart(b[0]) && b.allSatisfy(Lexer.isIdentChar)
            && !(b[0] == 118 && b.count > 1 && Lexer.isDigit(b[1]))
        if bare { return key }
        var s = "\""
        for ch in key {
            switch ch {
            case "\\": s += "\\\\"
            case "\"": s += "\\\""
            case "\n": s += "\\n"
            case "\t": s += "\\t"
            default: s.append(ch)
            }
        }
        return s + "\""
    }

    /// `[a, b]` on one line, or one item per line when it holds comments or is long.
    func bracketed(
        _ open: String, _ close: String, _ items: [(SourceRange, () -> String)], _ range: SourceRange,
        trailingComma: Bool
    ) -> String {
        if items.isEmpty && !hasComment(in: range) { return open + close }
        indent += 1
        defer { indent -= 1 }
        // Items are rendered once, at the indentation of the broken form: one-line
        // items read the same either way (and nesting stays linear).
        if !hasComment(in: range) {
            let rendered = items.map { $0.1() }
            let inline = open + rendered.joined(separator: ", ") + close
            if inline.count <= FormatPrinter.inlineLimit && !inline.contains("\n") { return inline }
            var s = open + "\n"
            for (i, text) in rendered.enumerated() {
                s += pad + text + (i < items.count - 1 || trailingComma ? "," : "") + "\n"
            }
            return s + String(repeating: " ", count: (indent - 1) * 4) + close
        }
        var s = open + "\n"
        for (i, item) in items.enumerated() {
            s += pendingComments(before: item.0.start, blankLines: false)
            let comma = i < items.count - 1 || trailingComma ? "," : ""
            s += pad + item.1() + comma
            s += trailing(item.0.end) + "\n"
        }
        s += pendingComments(before: range.end - 1, blankLines: false)
        return s + String(repeating: " ", count: (indent - 1) * 4) + close
    }
}
