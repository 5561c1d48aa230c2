/// Hand-written recursive descent over the tokens of one file. Each grammar
/// function opens with its rule. On an error the parser records it, skips to the
/// next statement and goes on, so one run reports several errors.
package struct Parser {
    let file: SourceFile
    var tokens: [Token]
    var index = 0
    package private(set) var diagnostics: [Diagnostic] = []
    /// Guards against runaway recursion on hostile input (`((((((…`).
    var depth = 0
    static let maxDepth = 200

    struct Failure: Error {}

    static let statementWords: Set<String> = [
        "table", "view", "migrate", "plan", "apply", "verify", "status", "cutover", "rollback",
        "finish", "let", "fn", "return", "if", "for", "print", "assert", "import",
    ]
    static let clauseWords: Set<String> = [
        "order_by", "primary_key", "partition_by", "engine", "ttl", "settings", "database",
        "cluster", "sample_by", "index", "projection", "comment", "distributed",
    ]
    static let migrateWords: Set<String> = [
        "via", "cutoff", "batch", "throttle", "parallel", "transform", "strategy", "cutover", "name",
    ]
    /// Words that can never name a variable.
    static let reserved: Set<String> = [
        "let", "fn", "return", "if", "else", "for", "in", "print", "assert", "import", "and",
        "or", "not", "true", "false", "null", "table", "view", "migrate",
    ]

    package init(file: SourceFile, range: SourceRange? = nil) {
        self.file = file
        var lexer = Lexer(file: file, range: range)
        self.tokens = lexer.tokenize()
        self.diagnostics = lexer.diagnostics
    }

    /// Parses a whole file (or range).
    package static func parse(_ file: SourceFile) -> (Program, [Diagnostic]) {
        var parser = Parser(file: file)
        let statements = parser.parseProgram()
        return (Program(file: file, statements: statements), parser.diagnostics)
    }

    /// Whether more input could complete this text (for the REPL's continuation prompt).
    package enum Completeness: Sendable { case complete, incomplete, invalid }

    package static func completeness(of text: String) -> Completeness {
        let file = SourceFile(name: "<input>", text: text)
        let (_, diagnostics) = parse(file)
        if diagnostics.isEmpty { return .complete }
        if diagnostics.contains(where: { !$0.atEndOfInput }) { return .invalid }
        return .incomplete
    }

    // MARK: - helpers

    var current: Token { tokens[index] }
    func peekToken(_ k: Int = 1) -> Token { tokens[min(index + k, tokens.count - 1)] }

    @discardableResult
    mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func check(_ p: String) -> Bool { current.isPunct(p) }
    func checkWord(_ w: String) -> Bool { current.word == w }

    mutating func match(_ p: String) -> Bool {
        if check(p) {
            advance()
            return true
        }
        return false
    }

    mutating func matchWord(_ w: String) -> Bool {
        if checkWord(w) {
            advance()
            return true
        }
        return false
    }

    var previousEnd: Int { index > 0 ? tokens[index - 1].range.end : 0 }

    mutating func fail(_ message: String, hint: String? = nil, at token: Token? = nil) -> Failure {
        let t = token ?? current
        diagnostics.append(
            Diagnostic(
                .syntax, message, at: SourceLocation(file: file, range: t.range), hint: hint,
                atEndOfInput: t.isEOF))
        return Failure()
    }

    mutating func expect(_ p: String, _ what: String, hint: String? = nil) throws -> Token {
        if check(p) { return advance() }
        throw fail("expected \(what), found \(current.display)", hint: hint)
    }

    /// A name: a bare identifier (not reserved) or a backquoted one.
    mutating func expectName(_ what: String, allowReserved: Bool = false) throws -> Name {
        if case .identifier(let text, let quoted) = current.kind,
            quoted || allowReserved || !Parser.reserved.contains(text)
        {
            let t = advance()
            return Name(text: text, range: t.range)
        }
        throw fail("expected \(what), found \(current.display)")
    }

    /// One level deeper into nested syntax; fails past `maxDepth`. The caller
    /// undoes it with `defer { depth -= 1 }`.
    mutating func descend(_ what: String) throws {
        guard depth < Parser.maxDepth else { throw fail("\(what) nested too deeply") }
        depth += 1
    }

    /// Skips to the start of the next statement after an error.
    mutating func synchronize(from start: Int) {
        var braces = 0
        // The token that failed may itself start the next statement.
        if index > start, current.newlineBefore, let w = current.word, Parser.statementWords.contains(w) { return }
        advance()
        while !current.isEOF {
            if check("{") { braces += 1 }
            if check("}") {
                if braces == 0 { return }
                braces -= 1
            }
            if braces == 0, current.newlineBefore, let w = current.word,
                Parser.statementWords.contains(w)
            {
                return
            }
            if braces == 0, check(";") {
                advance()
                return
            }
            advance()
        }
    }

    // MARK: - statements

    /// program -> statement* EOF
    mutating func parseProgram() -> [Stmt] {
        var statements: [Stmt] = []
        while !current.isEOF {
            if match(";") { continue }
            if check("}") {
                _ = fail("unexpected '}'", hint: "no block is open here")
                advance()
                continue
            }
            let before = index
            do {
                statements.append(try statement())
            } catch {
                synchronize(from: before)
                if index == before { advance() }
            }
        }
        return statements
    }

    /// block -> '{' statement* '}'
    mutating func block() throws -> [Stmt] {
        _ = try expect("{", "'{'")
        var statements: [Stmt] = []
        while !check("}") {
            if current.isEOF { throw fail("expected '}' to close the block") }
            if match(";") { continue }
            statements.append(try statement())
        }
        advance()
        return statements
    }

    /// statement -> table | view | migrate | action | let | fn | return | if | for
    ///            | print | assert | import | expression
    mutating func statement() throws -> Stmt {
        try descend("statements")
        defer { depth -= 1 }
        let start = current.range.start
        if case .identifier(let text, let quoted) = current.kind, quoted || !Parser.reserved.contains(text),
            peekToken().isPunct("=")
        {
            let name = Name(text: text, range: advance().range)
            advance()
            let value = try expression()
            return .assignment(name: name, value: value, range: SourceRange(start, previousEnd))
        }
        guard let word = current.word else { return .expression(try expression()) }
        switch word {
        case "table": return .table(try tableDecl())
        case "view": return .view(try viewDecl())
        case "migrate": return .migrate(try migrateDecl())
        case "plan", "apply", "verify", "status", "cutover", "rollback", "finish":
            return .action(try action())
        case "let":
            advance()
            let name = try expectName("a name after 'let'")
            _ = try expect("=", "'=' after the name")
            let value = try expression()
            return .letBinding(name: name, value: value, range: SourceRange(start, previousEnd))
        case "fn":
            advance()
            let name = try expectName("a function name")
            _ = try expect("(", "'(' after the function name")
            var params: [Name] = []
            if !check(")") {
                repeat { params.append(try expectName("a parameter name")) } while match(",")
            }
            _ = try expect(")", "')' after the parameters")
            let body = try block()
            return .function(name: name, params: params, body: body, range: SourceRange(start, previousEnd))
        case "return":
            let t = advance()
            var value: Expr?
            if !check("}") && !current.isEOF && !current.newlineBefore && !check(";") {
                value = try expression()
            }
            return .returnStmt(value, range: SourceRange(t.range.start, previousEnd))
        case "if": return try ifStmt()
        case "for":
            advance()
            let variable = try expectName("a loop variable after 'for'")
            guard matchWord("in") else { throw fail("expected 'in' after the loop variable") }
            let sequence = try expression()
            let body = try block()
            return .forStmt(variable: variable, sequence: sequence, body: body, range: SourceRange(start, previousEnd))
        case "print":
            advance()
            var values = [try expression()]
            while match(",") { values.append(try expression()) }
            return .printStmt(values, range: SourceRange(start, previousEnd))
        case "assert":
            advance()
            let condition = try expression()
            var message: Expr?
            if match(",") { message = try expression() }
            return .assertStmt(condition, message: message, range: SourceRange(start, previousEnd))
        case "import":
            advance()
            guard case .string(let pieces) = current.kind else {
                throw fail("expected a module name in quotes after 'import'", hint: "e.g. import \"bluegreen\"")
            }
            let path = pieces.compactMap { piece -> String? in
                if case .text(let t) = piece { return t }
                return nil
            }.joined()
            if pieces.contains(where: { if case .interpolation = $0 { return true } else { return false } }) {
                throw fail("an import path cannot be interpolated")
            }
            advance()
            return .importStmt(path: path, range: SourceRange(start, previousEnd))
        default:
            return .expression(try expression())
        }
    }

    /// if -> 'if' expression block ('else' (if | block))?
    mutating func ifStmt() throws -> Stmt {
        let start = advance().range.start
        let condition = try expression()
        let then = try block()
        var otherwise: [Stmt]?
        if matchWord("else") {
            if checkWord("if") {
                otherwise = [try ifStmt()]
            } else {
                otherwise = try block()
            }
        }
        return .ifStmt(condition: condition, then: then, otherwise: otherwise, range: SourceRange(start, previousEnd))
    }

    /// action -> ('plan'|'apply'|'verify'|'status'|'cutover'|'rollback'|'finish') name? flag*
    mutating func action() throws -> ActionStmt {
        let t = advance()
        let kind = ActionKind(rawValue: t.word!)!
        var target: Name?
        var flags: [Name] = []
        while !current.newlineBefore, case .identifier(let text, let quoted) = current.kind {
            if !quoted && Parser.statementWords.contains(text) && text != "cutover" { break }
            let n = advance()
            let name = Name(text: text, range: n.range)
            let isFlag =
                !quoted
                && ((kind == .finish && text == "keep") || (kind == .apply && (text == "cutover" || text == "force")))
            if target == nil && !isFlag {
                target = name
            } else {
                flags.append(name)
            }
        }
        let allowed: Set<String> =
            switch kind {
            case .finish: ["keep"]
            case .apply: ["cutover", "force"]
            default: []
            }
        for flag in flags where !allowed.contains(flag.text) {
            let list = allowed.sorted().map { "'\($0)'" }.joined(separator: ", ")
            diagnostics.append(
                Diagnostic(
                    .syntax, "unexpected '\(flag.text)' after '\(kind.rawValue)'",
                    at: SourceLocation(file: file, range: flag.range),
                    hint: allowed.isEmpty ? "'\(kind.rawValue)' takes at most a name" : "allowed here: \(list)"))
        }
        if kind == .verify || kind == .cutover || kind == .rollback || kind == .finish, target == nil {
            throw fail("expected the name of a migration after '\(kind.rawValue)'", hint: "e.g. \(kind.rawValue) events")
        }
        return ActionStmt(kind: kind, target: target, flags: flags, range: SourceRange(t.range.start, previousEnd))
    }

    /// table -> 'table' name version? ('{' column* '}')? clause*
    mutating func tableDecl() throws -> TableDecl {
        let start = advance().range.start
        let name = try expectName("a table name after 'table'", allowReserved: true)
        var version: Version?
        var versionRange: SourceRange?
        if case .version(let v) = current.kind {
            version = v
            versionRange = advance().range
        } else if case .integer = current.kind {
            throw fail("expected a version after '\(name.text)'", hint: "versions look like v0.1")
        } else if case .decimal = current.kind {
            throw fail("expected a version after '\(name.text)'", hint: "versions look like v0.1")
        }
        var columns: [ColumnSyntax]?
        if check("{") {
            advance()
            var list: [ColumnSyntax] = []
            while !check("}") {
                if current.isEOF { throw fail("expected '}' to close the columns of '\(name.text)'") }
                if match(",") || match(";") { continue }
                list.append(try column())
            }
            advance()
            columns = list
        }
        var clauses: [(clause: TableClause, range: SourceRange)] = []
        while let w = current.word, Parser.clauseWords.contains(w) {
            // The newer clause words are common names: `index = 2` on the next line is a statement.
            if ["index", "projection", "comment"].contains(w), !clauseFollows(w) { break }
            let cstart = current.range.start
            let clause = try tableClause()
            clauses.append((clause, SourceRange(cstart, previousEnd)))
        }
        if version == nil && columns == nil && clauses.isEmpty {
            throw fail(
                "expected a version, '{' or a clause after 'table \(name.text)'",
                hint: "e.g. table \(name.text) v0.1 order_by id")
        }
        return TableDecl(
            name: name, version: version, versionRange: versionRange, columns: columns, clauses: clauses,
            range: SourceRange(start, previousEnd))
    }

    /// Whether the token after `index`, `projection` or `comment` continues that clause.
    func clauseFollows(_ word: String) -> Bool {
        let next = peekToken()
        switch (word, next.kind) {
        case ("comment", .string), ("comment", .identifier("none", false)): return true
        case ("comment", _): return false
        case (_, .identifier(_, _)): return true
        default: return false
        }
    }

    /// column -> name type ('key' | 'default' string | 'materialized' string | 'alias' string
    ///           | 'ephemeral' string? | 'codec' string | 'comment' string | 'ttl' string)*
    mutating func column() throws -> ColumnSyntax {
        let name = try expectName("a column name", allowReserved: true)
        guard case .identifier = current.kind else {
            throw fail("expected a type for column '\(name.text)'", hint: "e.g. \(name.text) String")
        }
        let typeStart = current.range.start
        advance()
        if check("(") && !current.newlineBefore { try skipBalanced() }
        let typeRange = SourceRange(typeStart, previousEnd)
        var isKey = false
        var defaultSQL: Expr?
        var codec: Expr?
        var valueKind = ColumnKind.ordinary
        var comment: Expr?
        var ttl: Expr?
        func nextIsString(_ parser: Parser) -> Bool {
            if case .string = parser.peekToken().kind { return true }
            return false
        }
        while true {
            if checkWord("key") {
                advance()
                isKey = true
            } else if checkWord("default") {
                advance()
                defaultSQL = try sqlText("a SQL expression in quotes after 'default'")
                valueKind = .defaulted
            } else if checkWord("codec") {
                advance()
                codec = try sqlText("a codec in quotes after 'codec'")
            } else if let w = current.word, ["materialized", "alias"].contains(w),
                nextIsString(self) || !current.newlineBefore
            {
                // Without a string on the same line these words name the next column.
                advance()
                defaultSQL = try sqlText("a SQL expression in quotes after '\(w)'")
                valueKind = w == "alias" ? .alias : .materialized
            } else if checkWord("ephemeral"), nextIsString(self) || !current.newlineBefore {
                advance()
                valueKind = .ephemeral
                defaultSQL = nil
                if case .string = current.kind { defaultSQL = try primary() }
            } else if let w = current.word, ["comment", "ttl"].contains(w), nextIsString(self) || !current.newlineBefore {
                advance()
                if w == "comment" {
                    comment = try sqlText("the comment in quotes after 'comment'")
                } else {
                    ttl = try sqlText("a TTL expression in quotes after 'ttl'")
                }
            } else {
                break
            }
        }
        return ColumnSyntax(
            name: name, type: file.slice(typeRange), typeRange: typeRange, isKey: isKey,
            defaultSQL: defaultSQL, codec: codec, range: SourceRange(name.range.start, previousEnd),
            valueKind: valueKind, comment: comment, ttl: ttl)
    }

    /// Skips `( … )` with nested parentheses.
    mutating func skipBalanced() throws {
        let open = advance()
        var depth = 1
        while depth > 0 {
            if current.isEOF { throw fail("expected ')' to close the '(' here", at: current) }
            if check("(") { depth += 1 }
            if check(")") { depth -= 1 }
            advance()
        }
        _ = open
    }

    /// A string whose text is SQL.
    mutating func sqlText(_ what: String) throws -> Expr {
        guard case .string = current.kind else { throw fail("expected \(what)") }
        return try primary()
    }

    /// key-item -> name | name '(' … ')' | string
    mutating func keyItem() throws -> KeyItem {
        if case .string = current.kind { return .sql(try primary()) }
        if case .identifier(let text, let quoted) = current.kind {
            let t = advance()
            if !quoted, check("("), !current.newlineBefore {
                try skipBalanced()
                let range = SourceRange(t.range.start, previousEnd)
                return .sql(Expr(.string([.text(file.slice(range))]), range))
            }
            return .column(Name(text: text, range: t.range))
        }
        throw fail("expected a column name or a SQL expression in quotes, found \(current.display)")
    }

    mutating func keyList() throws -> [KeyItem] {
        var items = [try keyItem()]
        while match(",") { items.append(try keyItem()) }
        return items
    }

    /// clause -> 'order_by' keys | 'primary_key' keys | 'partition_by' key | 'engine' engine
    ///         | 'ttl' string | 'settings' setting (',' setting)* | 'database' name | 'cluster' name
    mutating func tableClause() throws -> TableClause {
        let word = advance().word!
        switch word {
        case "order_by": return .orderBy(try keyList())
        case "primary_key": return .primaryKey(try keyList())
        case "partition_by": return .partitionBy(try keyItem())
        case "engine":
            if case .string = current.kind { return .engine(.sql(try primary())) }
            guard case .identifier(_, _) = current.kind else {
                throw fail("expected an engine after 'engine'", hint: "e.g. engine MergeTree or engine ReplacingMergeTree(ver)")
            }
            let start = advance().range.start
            if check("(") && !current.newlineBefore { try skipBalanced() }
            return .engine(.text(file.slice(SourceRange(start, previousEnd))))
        case "ttl": return .ttl(try sqlText("a TTL expression in quotes after 'ttl'"))
        case "settings":
            var settings: [(name: Name, value: String)] = []
            repeat {
                let name = try expectName("a setting name", allowReserved: true)
                _ = try expect("=", "'=' after the setting name")
                let value: String
                switch current.kind {
                case .integer(let n): value = String(n)
                case .decimal(let d): value = String(d)
                case .sqlString(let s): value = s
                case .identifier(let w, _): value = w
                case .string(let pieces):
                    value = quoteString(pieces.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined())
                default: throw fail("expected a value for setting '\(name.text)'")
                }
                advance()
                settings.append((name, value))
            } while match(",")
            return .settings(settings)
        case "database": return .database(try expectName("a database name", allowReserved: true))
        case "cluster": return .cluster(try expectName("a cluster name", allowReserved: true))
        case "sample_by":
            if matchWord("none") { return .sampleBy(nil) }
            return .sampleBy(try keyItem())
        case "comment":
            if matchWord("none") { return .comment(nil) }
            return .comment(try sqlText("the table's comment in quotes after 'comment'"))
        case "projection":
            let name = try expectName("a projection name after 'projection'", allowReserved: true)
            if matchWord("none") { return .projection(name: name, query: nil) }
            return .projection(
                name: name, query: try sqlText("the projection's SELECT in quotes, e.g. projection \(name.text) \"SELECT …\""))
        case "index":
            let name = try expectName("an index name after 'index'", allowReserved: true)
            if matchWord("none") { return .index(name: name, definition: nil) }
            let expression = try keyItem()
            guard matchWord("type") else {
                throw fail("expected 'type' and the index type", hint: "e.g. index \(name.text) ts type minmax granularity 1")
            }
            let type: EngineSyntax
            if case .string = current.kind {
                type = .sql(try primary())
            } else if case .identifier = current.kind {
                let start = advance().range.start
                if check("(") && !current.newlineBefore { try skipBalanced() }
                type = .text(file.slice(SourceRange(start, previousEnd)))
            } else {
                throw fail("expected an index type after 'type'", hint: "e.g. minmax, set(100), bloom_filter(0.01)")
            }
            var granularity: Int?
            if matchWord("granularity") {
                guard case .integer(let n) = current.kind, n > 0 else {
                    throw fail("expected a positive granularity after 'granularity'", hint: "e.g. granularity 4")
                }
                advance()
                granularity = n
            }
            return .index(name: name, definition: IndexSyntax(expression: expression, type: type, granularity: granularity))
        case "distributed":
            // `distributed` alone shards by rand(); `distributed by "expr"` by the expression.
            guard matchWord("by") else { return .distributed(nil) }
            return .distributed(try sqlText("a sharding expression in quotes after 'distributed by'"))
        default: throw fail("unknown clause '\(word)'")
        }
    }

    /// table-ref -> name version?
    mutating func tableRef(_ what: String) throws -> TableRefSyntax {
        let name = try expectName(what, allowReserved: true)
        var version: Version?
        if case .version(let v) = current.kind, !current.newlineBefore {
            version = v
            advance()
        }
        return TableRefSyntax(name: name, version: version, range: SourceRange(name.range.start, previousEnd))
    }

    /// view -> 'view' name 'to' table-ref 'as' string ('database' name | 'cluster' name)*
    mutating func viewDecl() throws -> ViewDecl {
        let start = advance().range.start
        let name = try expectName("a view name after 'view'", allowReserved: true)
        guard matchWord("to") else {
            throw fail("expected 'to' and a target table after the view name", hint: "e.g. view \(name.text) to events v0.1 as \"SELECT …\"")
        }
        let target = try tableRef("a target table after 'to'")
        guard matchWord("as") else { throw fail("expected 'as' and the view's SELECT in quotes") }
        guard case .string = current.kind else { throw fail("expected the view's SELECT in quotes after 'as'") }
        let select = try primary()
        var database: Name?
        var cluster: Name?
        while true {
            if matchWord("database") {
                database = try expectName("a database name", allowReserved: true)
            } else if matchWord("cluster") {
                cluster = try expectName("a cluster name", allowReserved: true)
            } else {
                break
            }
        }
        return ViewDecl(
            name: name, target: target, select: select, database: database, cluster: cluster,
            range: SourceRange(start, previousEnd))
    }

    /// migrate -> 'migrate' name version? '->' version option*
    mutating func migrateDecl() throws -> MigrateDecl {
        let start = advance().range.start
        let table = try expectName("a table name after 'migrate'", allowReserved: true)
        var from: Version?
        if case .version(let v) = current.kind {
            from = v
            advance()
        }
        _ = try expect("->", "'->' and the target version", hint: "e.g. migrate \(table.text) -> v0.1")
        guard case .version(let to) = current.kind else {
            throw fail("expected a version after '->', found \(current.display)", hint: "versions look like v0.1")
        }
        let toRange = advance().range
        var options: [(option: MigrateOption, range: SourceRange)] = []
        while let w = current.word, Parser.migrateWords.contains(w) {
            if w == "cutover", !["swap", "versioned"].contains(peekToken().word ?? "") { break }
            let ostart = advance().range.start
            let option: MigrateOption
            switch w {
            case "via": option = .via(try expectName("a bridge view name after 'via'", allowReserved: true))
            case "cutoff":
                let column = try expectName("a time column after 'cutoff'", allowReserved: true)
                var lateness: Int?
                if matchWord("lateness") {
                    switch current.kind {
                    case .duration(let s): lateness = s
                    case .integer(let n): lateness = n
                    default: throw fail("expected a duration after 'lateness'", hint: "e.g. lateness 5m")
                    }
                    advance()
                }
                option = .cutoff(column: column, lateness: lateness)
            case "batch": option = .batch(try expression())
            case "throttle": option = .throttle(try expression())
            case "parallel": option = .parallel(try expression())
            case "transform": option = .transform(try sqlText("the transform's SELECT in quotes"))
            case "strategy": option = .strategy(try expectName("'cutoff' or 'fence' after 'strategy'", allowReserved: true))
            case "cutover": option = .cutover(try expectName("'swap' or 'versioned'", allowReserved: true))
            default: option = .name(try expectName("a migration name after 'name'", allowReserved: true))
            }
            options.append((option, SourceRange(ostart, previousEnd)))
        }
        return MigrateDecl(
            table: table, from: from, to: to, toRange: toRange, options: options,
            range: SourceRange(start, previousEnd))
    }

    // MARK: - expressions

    mutating func expression() throws -> Expr {
        try descend("expression")
        defer { depth -= 1 }
        return try orExpr()
    }

    /// or -> and ('or' and)*
    mutating func orExpr() throws -> Expr {
        try infix(Self.orOperators, { try $0.andExpr() })
    }

    /// and -> not ('and' not)*
    mutating func andExpr() throws -> Expr {
        try infix(Self.andOperators, { try $0.notExpr() })
    }

    /// not -> 'not' not | comparison
    mutating func notExpr() throws -> Expr {
        try prefix(.not, checkWord("not"), { try $0.notExpr() }, otherwise: { try $0.comparison() })
    }

    /// comparison -> additive (('=='|'!='|'<'|'<='|'>'|'>=') additive)?
    mutating func comparison() throws -> Expr {
        try infix(Self.comparisonOperators, { try $0.additive() }, once: true)
    }

    /// additive -> multiplicative (('+'|'-') multiplicative)*; not across a line
    /// break, where `-x` starts the next statement.
    mutating func additive() throws -> Expr {
        try infix(Self.additiveOperators, { try $0.multiplicative() }, sameLine: true)
    }

    /// multiplicative -> unary (('*'|'/'|'%') unary)*
    mutating func multiplicative() throws -> Expr {
        try infix(Self.multiplicativeOperators, { try $0.unary() })
    }

    /// unary -> '-' unary | postfix
    mutating func unary() throws -> Expr {
        try prefix(.negate, check("-"), { try $0.unary() }, otherwise: { try $0.postfix() })
    }

    static let orOperators: [BinaryOperator] = [.or]
    static let andOperators: [BinaryOperator] = [.and]
    static let comparisonOperators: [BinaryOperator] = [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual]
    static let additiveOperators: [BinaryOperator] = [.add, .subtract]
    static let multiplicativeOperators: [BinaryOperator] = [.multiply, .divide, .remainder]

    /// One level of binary operators: `operand (op operand)*`, left-associative;
    /// `once`: at most one operator (comparisons do not chain); `sameLine`: the
    /// operator must not start a new line. Word operators (`or`, `and`) are
    /// written as their raw value.
    mutating func infix(
        _ operators: [BinaryOperator], _ operand: (inout Parser) throws -> Expr, once: Bool = false,
        sameLine: Bool = false
    ) throws -> Expr {
        var left = try operand(&self)
        while !(sameLine && current.newlineBefore),
            let op = operators.first(where: { current.isPunct($0.rawValue) || current.word == $0.rawValue })
        {
            advance()
            let right = try operand(&self)
            left = Expr(.binary(op: op, left, right), left.range.to(right.range))
            if once { break }
        }
        return left
    }

    /// `op operand` when `present` (the current token is the operator), else `otherwise`.
    mutating func prefix(
        _ op: UnaryOperator, _ present: Bool, _ operand: (inout Parser) throws -> Expr,
        otherwise: (inout Parser) throws -> Expr
    ) throws -> Expr {
        guard present else { return try otherwise(&self) }
        let t = advance()
        try descend("expression")
        defer { depth -= 1 }
        let x = try operand(&self)
        return Expr(.unary(op: op, x), t.range.to(x.range))
    }

    /// postfix -> primary ('(' args ')' | '.' name | '[' expression ']')*
    mutating func postfix() throws -> Expr {
        var expr = try primary()
        while true {
            if check("("), !current.newlineBefore {
                advance()
                var args: [Expr] = []
                if !check(")") {
                    repeat { args.append(try expression()) } while match(",")
                }
                _ = try expect(")", "')' after the arguments")
                expr = Expr(.call(expr, args), SourceRange(expr.range.start, previousEnd))
            } else if check(".") {
                advance()
                let name = try expectName("a field name after '.'", allowReserved: true)
                expr = Expr(.member(expr, name), SourceRange(expr.range.start, previousEnd))
            } else if check("["), !current.newlineBefore {
                advance()
                let key = try expression()
                _ = try expect("]", "']'")
                expr = Expr(.index(expr, key), SourceRange(expr.range.start, previousEnd))
            } else {
                return expr
            }
        }
    }

    /// primary -> number | duration | string | 'true' | 'false' | 'null' | name version?
    ///          | '[' list ']' | '{' record '}' | '(' expression ')' | 'sql' expression | migrate
    mutating func primary() throws -> Expr {
        let t = current
        switch t.kind {
        case .integer(let n):
            advance()
            return Expr(.integer(n), t.range)
        case .decimal(let d):
            advance()
            return Expr(.decimal(d), t.range)
        case .duration(let s):
            advance()
            return Expr(.duration(s), t.range)
        case .string(let pieces):
            advance()
            var segments: [StringSegment] = []
            for piece in pieces {
                switch piece {
                case .text(let text): segments.append(.text(text))
                case .interpolation(let range):
                    var sub = Parser(file: file, range: range)
                    sub.depth = depth
                    if sub.current.isEOF {
                        diagnostics.append(
                            Diagnostic(.syntax, "empty interpolation", at: SourceLocation(file: file, range: SourceRange(range.start - 2, range.end + 1)), hint: "put an expression inside \\( )"))
                        throw Failure()
                    }
                    let inner: Expr
                    do {
                        inner = try sub.interpolated()
                    } catch {
                        diagnostics += sub.diagnostics.map { d in
                            var d = d
                            d.atEndOfInput = false
                            return d
                        }
                        throw Failure()
                    }
                    diagnostics += sub.diagnostics
                    segments.append(.expr(inner))
                }
            }
            return Expr(.string(segments), t.range)
        case .sqlString:
            throw fail("single quotes are for SQL inside types; use \"…\" for strings")
        case .version:
            throw fail("a version needs a table name before it", hint: "e.g. events \(t.display)")
        case .identifier(let text, let quoted):
            if !quoted {
                switch text {
                case "true", "false":
                    advance()
                    return Expr(.bool(text == "true"), t.range)
                case "null":
                    advance()
                    return Expr(.null, t.range)
                case "sql":
                    if case .string = peekToken().kind {
                        advance()
                        let body = try primary()
                        return Expr(.sql(body), t.range.to(body.range))
                    }
                case "migrate":
                    let decl = try migrateDecl()
                    return Expr(.migrate(decl), decl.range)
                case "view":
                    let decl = try viewDecl()
                    return Expr(.view(decl), decl.range)
                case "table":
                    let decl = try tableDecl()
                    return Expr(.table(decl), decl.range)
                default:
                    if Parser.reserved.contains(text) {
                        throw fail("expected an expression, found '\(text)'")
                    }
                }
            }
            advance()
            if case .version(let v) = current.kind, !current.newlineBefore {
                let vt = advance()
                let ref = TableRefSyntax(name: Name(text: text, range: t.range), version: v, range: t.range.to(vt.range))
                return Expr(.tableRef(ref), ref.range)
            }
            return Expr(.variable(text), t.range)
        case .punct("("):
            advance()
            let inner = try expression()
            _ = try expect(")", "')'")
            return Expr(inner.kind, SourceRange(t.range.start, previousEnd))
        case .punct("["):
            advance()
            var items: [Expr] = []
            while !check("]") {
                items.append(try expression())
                if !match(",") { break }
            }
            _ = try expect("]", "']' to close the list")
            return Expr(.list(items), SourceRange(t.range.start, previousEnd))
        case .punct("{"):
            advance()
            var fields: [(key: String, computed: Expr?, value: Expr)] = []
            while !check("}") {
                let key: String
                var computed: Expr?
                if check("(") {
                    advance()
                    computed = try expression()
                    _ = try expect(")", "')' after the computed key")
                    key = ""
                } else if case .string(let pieces) = current.kind {
                    key = pieces.compactMap { if case .text(let s) = $0 { s } else { nil } }.joined()
                    advance()
                } else {
                    key = try expectName("a field name", allowReserved: true).text
                }
                _ = try expect(":", "':' after the field name")
                fields.append((key, computed, try expression()))
                if !match(",") { break }
            }
            _ = try expect("}", "'}' to close the record")
            return Expr(.record(fields), SourceRange(t.range.start, previousEnd))
        case .eof:
            throw fail("expected an expression, found end of input")
        default:
            throw fail("expected an expression, found \(t.display)")
        }
    }

    /// The expression inside `\( … )`: one expression and nothing after it.
    mutating func interpolated() throws -> Expr {
        let e = try expression()
        if !current.isEOF { throw fail("unexpected \(current.display) in interpolation") }
        return e
    }
}
