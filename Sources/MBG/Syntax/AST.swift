/// The syntax tree. Every node carries its source range.

package struct Name: Sendable, Hashable {
    package var text: String
    package var range: SourceRange
}

/// `events` or `events v0.1`.
package struct TableRefSyntax: Sendable, Hashable {
    package var name: Name
    package var version: Version?
    package var range: SourceRange
}

/// An item of `order_by`/`primary_key`/`partition_by`: a column name or SQL text.
package enum KeyItem: Sendable, Hashable {
    case column(Name)
    case sql(Expr)
}

package struct ColumnSyntax: Sendable, Hashable {
    package var name: Name
    /// ClickHouse type text exactly as written.
    package var type: String
    package var typeRange: SourceRange
    package var isKey: Bool
    /// The expression of DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL (see `valueKind`).
    package var defaultSQL: Expr?
    package var codec: Expr?
    package var range: SourceRange
    /// Which modifier gave `defaultSQL`; `.ephemeral` may come without one.
    package var valueKind: ColumnKind = .ordinary
    package var comment: Expr? = nil
    package var ttl: Expr? = nil
}

package enum TableClause: Sendable, Hashable {
    case orderBy([KeyItem])
    case primaryKey([KeyItem])
    case partitionBy(KeyItem)
    /// Engine text (`ReplacingMergeTree(ver)`) or a SQL string expression.
    case engine(EngineSyntax)
    case ttl(Expr)
    case settings([(name: Name, value: String)])
    case database(Name)
    case cluster(Name)
    /// `sample_by ITEM`; nil for `sample_by none`.
    case sampleBy(KeyItem?)
    /// `index NAME ITEM type TYPE [granularity N]`; `index NAME none` drops an inherited one.
    case index(name: Name, definition: IndexSyntax?)
    /// `projection NAME "SELECT …"`; `projection NAME none` drops an inherited one.
    case projection(name: Name, query: Expr?)
    /// `comment "text"`; nil for `comment none`.
    case comment(Expr?)
    /// `distributed [by "expr"]`: nil shards by `rand()`.
    case distributed(Expr?)

    package static func == (a: TableClause, b: TableClause) -> Bool {
        String(describing: a) == String(describing: b)
    }
    package func hash(into h: inout Hasher) { h.combine(String(describing: self)) }
}

package enum EngineSyntax: Sendable, Hashable {
    case text(String)
    case sql(Expr)
}

/// The body of an `index` clause.
package struct IndexSyntax: Sendable, Hashable {
    package var expression: KeyItem
    /// `minmax`, `bloom_filter(0.01)` as written, or SQL in quotes.
    package var type: EngineSyntax
    package var granularity: Int?
}

package struct TableDecl: Sendable, Hashable {
    package var name: Name
    package var version: Version?
    package var versionRange: SourceRange?
    /// nil when the declaration has no body (a derived version).
    package var columns: [ColumnSyntax]?
    package var clauses: [(clause: TableClause, range: SourceRange)]
    package var range: SourceRange

    package static func == (a: TableDecl, b: TableDecl) -> Bool { a.range == b.range && a.name == b.name }
    package func hash(into h: inout Hasher) { h.combine(range) }
}

package struct ViewDecl: Sendable, Hashable {
    package var name: Name
    package var target: TableRefSyntax
    package var select: Expr
    package var database: Name?
    package var cluster: Name?
    package var range: SourceRange
}

package enum MigrateOption: Sendable, Hashable {
    case via(Name)
    case cutoff(column: Name, lateness: Int?)
    case batch(Expr)
    case throttle(Expr)
    /// How many backfill slices run at once.
    case parallel(Expr)
    case transform(Expr)
    case strategy(Name)
    case cutover(Name)
    case name(Name)
}

package struct MigrateDecl: Sendable, Hashable {
    package var table: Name
    package var from: Version?
    package var to: Version
    package var toRange: SourceRange
    package var options: [(option: MigrateOption, range: SourceRange)]
    package var range: SourceRange

    package static func == (a: MigrateDecl, b: MigrateDecl) -> Bool { a.range == b.range }
    package func hash(into h: inout Hasher) { h.combine(range) }
}

/// The statements that touch the server.
package enum ActionKind: String, Sendable, Hashable, CaseIterable {
    case plan, apply, verify, status, cutover, rollback, finish
}

package struct ActionStmt: Sendable, Hashable {
    package var kind: ActionKind
    package var target: Name?
    /// Trailing words: `keep` (finish), `cutover` (apply), `force` (take over a stale lock).
    package var flags: [Name]
    package var range: SourceRange
}

package indirect enum Stmt: Sendable, Hashable {
    case table(TableDecl)
    case view(ViewDecl)
    case migrate(MigrateDecl)
    case action(ActionStmt)
    case letBinding(name: Name, value: Expr, range: SourceRange)
    /// `x = expr`: rebinds an existing variable where it was defined.
    case assignment(name: Name, value: Expr, range: SourceRange)
    case function(name: Name, params: [Name], body: [Stmt], range: SourceRange)
    case returnStmt(Expr?, range: SourceRange)
    case ifStmt(condition: Expr, then: [Stmt], otherwise: [Stmt]?, range: SourceRange)
    case forStmt(variable: Name, sequence: Expr, body: [Stmt], range: SourceRange)
    case printStmt([Expr], range: SourceRange)
    case assertStmt(Expr, message: Expr?, range: SourceRange)
    case importStmt(path: String, range: SourceRange)
    case expression(Expr)

    package var range: SourceRange {
        switch self {
        case .table(let d): return d.range
        case .view(let d): return d.range
        case .migrate(let d): return d.range
        case .action(let a): return a.range
        case .letBinding(_, _, let r), .assignment(_, _, let r), .function(_, _, _, let r), .returnStmt(_, let r),
            .ifStmt(_, _, _, let r), .forStmt(_, _, _, let r), .printStmt(_, let r),
            .assertStmt(_, _, let r), .importStmt(_, let r):
            return r
        case .expression(let e): return e.range
        }
    }
}

package enum StringSegment: Sendable, Hashable {
    case text(String)
    case expr(Expr)
}

package indirect enum ExprKind: Sendable, Hashable {
    case integer(Int)
    case decimal(Double)
    case duration(Int)
    case bool(Bool)
    case null
    case string([StringSegment])
    case variable(String)
    /// `events v0.1`
    case tableRef(TableRefSyntax)
    case list([Expr])
    /// Keys are names or strings; `(expr): value` computes the key.
    case record([(key: String, computed: Expr?, value: Expr)])
    case unary(op: UnaryOperator, Expr)
    case binary(op: BinaryOperator, Expr, Expr)
    case call(Expr, [Expr])
    case member(Expr, Name)
    case index(Expr, Expr)
    /// `sql "…"` used as a value.
    case sql(Expr)
    case migrate(MigrateDecl)
    case view(ViewDecl)
    case table(TableDecl)

    package static func == (a: ExprKind, b: ExprKind) -> Bool {
        String(describing: a) == String(describing: b)
    }
    package func hash(into h: inout Hasher) { h.combine(String(describing: self)) }
}

package struct Expr: Sendable, Hashable {
    package var kind: ExprKind
    package var range: SourceRange
    package init(_ kind: ExprKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }
}

/// A parsed file.
package struct Program: Sendable {
    package var file: SourceFile
    package var statements: [Stmt]
}

/// `-x`, `not x`.
package enum UnaryOperator: String, Sendable, Hashable {
    case negate = "-"
    case not
}

/// Infix operators; the raw value is how they are written.
package enum BinaryOperator: String, Sendable, Hashable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-"
    case multiply = "*", divide = "/", remainder = "%"
}
