/// The syntax tree. Every node carries its source range.

public struct Name: Sendable, Hashable {
    public var text: String
    public var range: SourceRange
}

/// `events` or `events v0.1`.
public struct TableRefSyntax: Sendable, Hashable {
    public var name: Name
    public var version: Version?
    public var range: SourceRange
}

/// An item of `order_by`/`primary_key`/`partition_by`: a column name or SQL text.
public enum KeyItem: Sendable, Hashable {
    case column(Name)
    case sql(Expr)
}

public struct ColumnSyntax: Sendable, Hashable {
    public var name: Name
    /// ClickHouse type text exactly as written.
    public var type: String
    public var typeRange: SourceRange
    public var isKey: Bool
    /// The expression of DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL (see `valueKind`).
    public var defaultSQL: Expr?
    public var codec: Expr?
    public var range: SourceRange
    /// Which modifier gave `defaultSQL`; `.ephemeral` may come without one.
    public var valueKind: ColumnKind = .ordinary
    public var comment: Expr? = nil
    public var ttl: Expr? = nil
}

public enum TableClause: Sendable, Hashable {
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

    public static func == (a: TableClause, b: TableClause) -> Bool {
        String(describing: a) == String(describing: b)
    }
    public func hash(into h: inout Hasher) { h.combine(String(describing: self)) }
}

public enum EngineSyntax: Sendable, Hashable {
    case text(String)
    case sql(Expr)
}

/// The body of an `index` clause.
public struct IndexSyntax: Sendable, Hashable {
    public var expression: KeyItem
    /// `minmax`, `bloom_filter(0.01)` as written, or SQL in quotes.
    public var type: EngineSyntax
    public var granularity: Int?
}

public struct TableDecl: Sendable, Hashable {
    public var name: Name
    public var version: Version?
    public var versionRange: SourceRange?
    /// nil when the declaration has no body (a derived version).
    public var columns: [ColumnSyntax]?
    public var clauses: [(clause: TableClause, range: SourceRange)]
    public var range: SourceRange

    public static func == (a: TableDecl, b: TableDecl) -> Bool { a.range == b.range && a.name == b.name }
    public func hash(into h: inout Hasher) { h.combine(range) }
}

public struct ViewDecl: Sendable, Hashable {
    public var name: Name
    public var target: TableRefSyntax
    public var select: Expr
    public var database: Name?
    public var cluster: Name?
    public var range: SourceRange
}

public enum MigrateOption: Sendable, Hashable {
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

public struct MigrateDecl: Sendable, Hashable {
    public var table: Name
    public var from: Version?
    public var to: Version
    public var toRange: SourceRange
    public var options: [(option: MigrateOption, range: SourceRange)]
    public var range: SourceRange

    public static func == (a: MigrateDecl, b: MigrateDecl) -> Bool { a.range == b.range }
    public func hash(into h: inout Hasher) { h.combine(range) }
}

/// The statements that touch the server.
public enum ActionKind: String, Sendable, Hashable, CaseIterable {
    case plan, apply, verify, status, cutover, rollback, finish
}

public struct ActionStmt: Sendable, Hashable {
    public var kind: ActionKind
    public var target: Name?
    /// Trailing words: `keep` (finish), `cutover` (apply), `force` (take over a stale lock).
    public var flags: [Name]
    public var range: SourceRange
}

public indirect enum Stmt: Sendable, Hashable {
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

    public var range: SourceRange {
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

public enum StringSegment: Sendable, Hashable {
    case text(String)
    case expr(Expr)
}

public indirect enum ExprKind: Sendable, Hashable {
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

    public static func == (a: ExprKind, b: ExprKind) -> Bool {
        String(describing: a) == String(describing: b)
    }
    public func hash(into h: inout Hasher) { h.combine(String(describing: self)) }
}

public struct Expr: Sendable, Hashable {
    public var kind: ExprKind
    public var range: SourceRange
    public init(_ kind: ExprKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }
}

/// A parsed file.
public struct Program: Sendable {
    public var file: SourceFile
    public var statements: [Stmt]
}

/// `-x`, `not x`.
public enum UnaryOperator: String, Sendable, Hashable {
    case negate = "-"
    case not
}

/// Infix operators; the raw value is how they are written.
public enum BinaryOperator: String, Sendable, Hashable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-"
    case multiply = "*", divide = "/", remainder = "%"
}
