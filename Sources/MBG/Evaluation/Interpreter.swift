import Foundation

/// How the interpreter reaches (or does not reach) ClickHouse.
public enum ServerMode: Sendable {
    /// Statements go to the transport; the catalog is read live.
    case live
    /// Nothing reaches a server: SQL is printed; the server is taken to hold
    /// exactly the source versions of the script's migrations.
    case dryRun
    /// Parse and check only: actions are skipped.
    case checkOnly
}

public struct InterpreterOptions {
    public var mode: ServerMode
    public var transport: (any Transport)?
    /// Reads the live catalog (the CLI passes the HTTP catalog reader).
    public var catalogLoader: ((any Transport, String?) throws -> Catalog)?
    /// A catalog read from a file (`--catalog`): planning uses it instead of a server.
    public var fixedCatalog: Catalog?
    public var database: String?
    /// Folders searched by `import "name"`.
    public var stdlibPaths: [String]
    /// Destructive actions (cutover, rollback, finish) run without asking.
    public var assumeYes: Bool
    /// Asks the user; nil when there is no terminal.
    public var confirm: ((String) -> Bool)?
    /// Makes the engine that plans and runs migrations; the default is the real one
    /// (`RunnerEngine`, over `transport`). Nil leaves migrations unplannable.
    public var makeMigrationEngine: ((MigrationEngineContext) -> any MigrationEngine)?
    public var reporter: any ProgressReporter
    /// Stop at the first failing statement (scripts) or go on.
    public var continueOnError: Bool
    /// Planning a pipeline: statements that change the server (`apply`, `cutover`,
    /// `rollback`, `finish`, `sql`) and `plan` itself are skipped; the caller plans once at the end.
    public var planOnly: Bool = false

    public init(
        mode: ServerMode = .checkOnly, transport: (any Transport)? = nil,
        catalogLoader: ((any Transport, String?) throws -> Catalog)? = nil,
        fixedCatalog: Catalog? = nil, database: String? = nil, stdlibPaths: [String] = [],
        assumeYes: Bool = false, confirm: ((String) -> Bool)? = nil,
        makeMigrationEngine: ((MigrationEngineContext) -> any MigrationEngine)? = { RunnerEngine($0) },
        reporter: any ProgressReporter = CollectingReporter(), continueOnError: Bool = false
    ) {
        self.mode = mode
        self.transport = transport
        self.catalogLoader = catalogLoader
        self.fixedCatalog = fixedCatalog
        self.database = database
        self.stdlibPaths = stdlibPaths
        self.assumeYes = assumeYes
        self.confirm = confirm
        self.makeMigrationEngine = makeMigrationEngine
        self.reporter = reporter
        self.continueOnError = continueOnError
    }
}

/// What a script declared so far: the session. Indexed by name so that
/// declaring and looking up stay constant-time however long the script.
public struct Session {
    /// Tables in declaration order.
    public private(set) var tables: [TableDef] = []
    public private(set) var views: [ViewDef] = []
    /// Migrations in declaration order; a redeclared name replaces the old one in place.
    public private(set) var migrations: [MigrationDef] = []
    private var tablesByName: [String: [Int]] = [:]
    private var viewsByName: [String: Int] = [:]
    private var migrationsByName: [String: Int] = [:]
    private var migrationTargets: Set<String> = []
    private var bridges: Set<String> = []

    mutating func add(_ t: TableDef) {
        tablesByName[t.name, default: []].append(tables.count)
        tables.append(t)
    }

    mutating func add(_ v: ViewDef) {
        viewsByName[v.name] = views.count
        views.append(v)
    }

    mutating func add(_ m: MigrationDef) {
        if let i = migrationsByName[m.name] {
            migrations[i] = m
        } else {
            migrationsByName[m.name] = migrations.count
            migrations.append(m)
        }
        migrationTargets.insert(m.to.qualifiedName)
        bridges.insert(m.bridge)
    }

    /// Versions of a logical table, lowest first (unversioned counts lowest).
    public func versions(of logical: String) -> [TableDef] {
        (tablesByName[logical] ?? []).map { tables[$0] }.sorted {
            ($0.version ?? Version([-1])) < ($1.version ?? Version([-1]))
        }
    }
    public func table(_ logical: String, _ version: Version?) -> TableDef? {
        (tablesByName[logical] ?? []).lazy.map { tables[$0] }.first { $0.version == version }
    }
    public func latest(_ logical: String) -> TableDef? { versions(of: logical).last }
    public func migration(_ name: String) -> MigrationDef? { migrationsByName[name].map { migrations[$0] } }
    public func view(_ name: String) -> ViewDef? { viewsByName[name].map { views[$0] } }
    public func isMigrationTarget(_ t: TableDef) -> Bool { migrationTargets.contains(t.qualifiedName) }
    public func isBridge(_ v: ViewDef) -> Bool { bridges.contains(v.name) }

    /// Every name the session knows, for completion.
    public var names: [String] {
        Array(Set(tables.map(\.name) + tables.map(\.physicalName) + views.map(\.name) + migrations.map(\.name))).sorted()
    }
}

struct ReturnSignal: Error {
    let value: Value
}

/// Evaluates programs. One interpreter is one session: declarations accumulate
/// across `evaluate` calls (the REPL feeds it statement by statement).
public final class Interpreter {
    public var options: InterpreterOptions
    public let output: any OutputSink
    public let globals = Environment()
    public internal(set) var session = Session()
    var cachedCatalog: Catalog?
    var loadedModules: [String: Bool] = [:]  // path -> finished
    var callDepth = 0
    /// The `sql` statement now running, so another thread (Ctrl-C) can cancel it.
    public let runningQuery = RunningQuery()
    /// Where each declared table came from, for error messages.
    var declarationSites: [String: SourceLocation] = [:]

    public init(options: InterpreterOptions, output: any OutputSink) {
        self.options = options
        self.output = output
        Builtins.install(into: self)
        installDeclarationBuiltins()
    }

    /// Makes a Swift closure callable from scripts.
    public func register(
        _ name: String, arity: Int?, _ body: @escaping ([Value], CallContext) throws -> Value
    ) {
        globals.define(name, .function(FunctionValue(name: name, body: .native(arity: arity, body))))
    }

    /// Parses and evaluates a source text. Throws a `DiagnosticList` with every
    /// syntax error, or the diagnostics of failing statements.
    @discardableResult
    public func evaluate(source: String, name: String = "<input>") throws -> Value {
        try evaluate(file: SourceFile(name: name, text: source))
    }

    @discardableResult
    public func evaluate(file: SourceFile) throws -> Value {
        let (program, syntaxErrors) = Parser.parse(file)
        if !syntaxErrors.isEmpty { throw DiagnosticList(syntaxErrors) }
        var last: Value = .null
        var failures: [Diagnostic] = []
        for statement in program.statements {
            do {
                last = try execute(statement, in: globals, file: file)
            } catch let d as Diagnostic {
                failures.append(d)
                if !options.continueOnError { break }
            } catch let list as DiagnosticList {
                failures += list.diagnostics
                if !options.continueOnError { break }
            } catch is ReturnSignal {
                failures.append(Diagnostic(.check, "'return' outside a function", at: SourceLocation(file: file, range: statement.range)))
                if !options.continueOnError { break }
            }
        }
        if !failures.isEmpty { throw DiagnosticList(failures) }
        return last
    }

    /// Reads and evaluates a file from disk.
    @discardableResult
    public func run(path: String) throws -> Value {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DiagnosticList([Diagnostic(.check, "cannot read file '\(path)'", at: nil)])
        }
        let text = String(decoding: data, as: UTF8.self)
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        loadedModules[canonical] = false
        defer { loadedModules[canonical] = true }
        return try evaluate(file: SourceFile(name: path, text: text))
    }

    // MARK: - statements

    func loc(_ file: SourceFile, _ range: SourceRange) -> SourceLocation {
        SourceLocation(file: file, range: range)
    }

    func execute(_ stmt: Stmt, in env: Environment, file: SourceFile) throws -> Value {
        switch stmt {
        case .table(let decl):
            let t = try declareTable(decl, env: env, file: file)
            return .table(t)
        case .view(let decl):
            return .view(try declareView(decl, env: env, file: file))
        case .migrate(let decl):
            return .migration(try declareMigration(decl, env: env, file: file))
        case .action(let a):
            return try perform(a, file: file)
        case .letBinding(let name, let value, _):
            let v = try eval(value, env, file)
            env.define(name.text, v)
            return .null
        case .assignment(let name, let value, let range):
            let v = try eval(value, env, file)
            guard env.assign(name.text, v) else {
                throw Diagnostic(.check, "'\(name.text)' is not defined", at: loc(file, range), hint: "declare it first with let \(name.text) = …")
            }
            return .null
        case .function(let name, let params, let body, _):
            env.define(name.text, .function(FunctionValue(name: name.text, body: .user(params: params.map(\.text), body: body, closure: env, file: file))))
            return .null
        case .returnStmt(let value, _):
            throw ReturnSignal(value: try value.map { try eval($0, env, file) } ?? .null)
        case .ifStmt(let condition, let then, let otherwise, _):
            if try eval(condition, env, file).isTruthy {
                try executeBlock(then, Environment(parent: env), file)
            } else if let otherwise {
                try executeBlock(otherwise, Environment(parent: env), file)
            }
            return .null
        case .forStmt(let variable, let sequence, let body, _):
            let seq = try eval(sequence, env, file)
            let items: [Value]
            switch seq {
            case .list(let l): items = l
            case .result(let r): items = Builtins.rows(of: r)
            case .record(let fields): items = fields.map { .record([("key", .string($0.key)), ("value", $0.value)]) }
            case .string(let s): items = s.map { .string(String($0)) }
            default:
                throw Diagnostic(.check, "cannot loop over a \(seq.typeName)", at: loc(file, sequence.range), hint: "expected a list, a record or a sql result")
            }
            for item in items {
                let scope = Environment(parent: env)
                scope.define(variable.text, item)
                try executeBlock(body, scope, file)
            }
            return .null
        case .printStmt(let values, _):
            let parts = try values.map { try eval($0, env, file).description }
            output.line(parts.joined(separator: " "))
            return .null
        case .assertStmt(let condition, let message, let range):
            if !(try eval(condition, env, file).isTruthy) {
                let text = try message.map { try eval($0, env, file).description } ?? "assertion failed"
                throw Diagnostic(.runtime, text, at: loc(file, range))
            }
            return .null
        case .importStmt(let path, let range):
            try importModule(path, from: file, at: loc(file, range))
            return .null
        case .expression(let expr):
            let v = try eval(expr, env, file)
            // A `sql` statement shows its rows; other bare expressions show nothing in scripts.
            if case .sql = expr.kind, case .result(let r) = v, !r.columns.isEmpty {
                output.table(r)
            }
            return v
        }
    }

    func executeBlock(_ statements: [Stmt], _ env: Environment, _ file: SourceFile) throws {
        for s in statements { _ = try execute(s, in: env, file: file) }
    }

    // MARK: - expressions

    func eval(_ expr: Expr, _ env: Environment, _ file: SourceFile) throws -> Value {
        switch expr.kind {
        case .integer(let n): return .int(n)
        case .decimal(let d): return .double(d)
        case .duration(let s): return .int(s)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .string(let segments):
            var s = ""
            for seg in segments {
                switch seg {
                case .text(let t): s += t
                case .expr(let e): s += try eval(e, env, file).description
                }
            }
            return .string(s)
        case .variable(let name):
            if let v = env.lookup(name) { return v }
            if let t = session.latest(name) { return .table(t) }
            if let m = session.migration(name) { return .migration(m) }
            if let v = session.view(name) { return .view(v) }
            var hint: String?
            if let near = nearest(name, among: env.names + session.names) { hint = "did you mean '\(near)'?" }
            throw Diagnostic(.check, "unknown name '\(name)'", at: loc(file, expr.range), hint: hint)
        case .tableRef(let ref):
            return .table(try resolveTable(ref, file: file))
        case .list(let items):
            return .list(try items.map { try eval($0, env, file) })
        case .record(let fields):
            return .record(
                try fields.map { field in
                    var key = field.key
                    if let computed = field.computed {
                        let k = try eval(computed, env, file)
                        guard case .string(let s) = k else {
                            throw Diagnostic(.check, "a record key must be a string, got a \(k.typeName)", at: loc(file, computed.range))
                        }
                        key = s
                    }
                    return (key, try eval(field.value, env, file))
                })
        case .unary(let op, let operand):
            let v = try eval(operand, env, file)
            if op == "not" { return .bool(!v.isTruthy) }
            switch v {
            case .int(let n):
                let (r, o) = (0).subtractingReportingOverflow(n)
                if o { throw Diagnostic(.runtime, "integer overflow", at: loc(file, expr.range)) }
                return .int(r)
            case .double(let d): return .double(-d)
            default: throw Diagnostic(.check, "cannot negate a \(v.typeName)", at: loc(file, expr.range))
            }
        case .binary(let op, let l, let r):
            if op == "and" {
                let left = try eval(l, env, file)
                return left.isTruthy ? try eval(r, env, file) : left
            }
            if op == "or" {
                let left = try eval(l, env, file)
                return left.isTruthy ? left : try eval(r, env, file)
            }
            return try binary(op, try eval(l, env, file), try eval(r, env, file), loc(file, expr.range))
        case .call(let callee, let args):
            let f = try eval(callee, env, file)
            let values = try args.map { try eval($0, env, file) }
            return try call(f, values, at: loc(file, expr.range))
        case .member(let base, let name):
            return try member(try eval(base, env, file), name.text, loc(file, name.range))
        case .index(let base, let key):
            return try index(try eval(base, env, file), try eval(key, env, file), loc(file, expr.range))
        case .sql(let body):
            let text = try eval(body, env, file)
            guard case .string(let sql) = text else {
                throw Diagnostic(.check, "sql needs a string, got a \(text.typeName)", at: loc(file, body.range))
            }
            return .result(try runSQL(sql, at: loc(file, expr.range)))
        case .migrate(let decl):
            return .migration(try declareMigration(decl, env: env, file: file))
        case .view(let decl):
            return .view(try declareView(decl, env: env, file: file))
        case .table(let decl):
            return .table(try declareTable(decl, env: env, file: file))
        }
    }

    public func call(_ f: Value, _ args: [Value], at location: SourceLocation) throws -> Value {
        guard case .function(let fn) = f else {
            throw Diagnostic(.check, "a \(f.typeName) cannot be called", at: location)
        }
        callDepth += 1
        defer { callDepth -= 1 }
        if callDepth > 200 {
            throw Diagnostic(.runtime, "too many nested calls (is '\(fn.name)' recursing forever?)", at: location)
        }
        switch fn.body {
        case .native(let arity, let body):
            if let arity, arity != args.count {
                throw Diagnostic(.check, "\(fn.name) takes \(arity) argument\(arity == 1 ? "" : "s"), got \(args.count)", at: location)
            }
            return try body(args, CallContext(location: location, interpreter: self))
        case .user(let params, let body, let closure, let file):
            guard params.count == args.count else {
                throw Diagnostic(.check, "\(fn.name) takes \(params.count) argument\(params.count == 1 ? "" : "s"), got \(args.count)", at: location)
            }
            let scope = Environment(parent: closure)
            for (p, a) in zip(params, args) { scope.define(p, a) }
            do {
                try executeBlock(body, scope, file)
            } catch let r as ReturnSignal {
                return r.value
            }
            return .null
        }
    }

    func binary(_ op: String, _ a: Value, _ b: Value, _ location: SourceLocation) throws -> Value {
        switch op {
        case "==": return .bool(equal(a, b))
        case "!=": return .bool(!equal(a, b))
        default: break
        }
        switch (a, b) {
        case (.int(let x), .int(let y)):
            switch op {
            case "+", "-", "*":
                let (r, o) =
                    op == "+" ? x.addingReportingOverflow(y)
                    : op == "-" ? x.subtractingReportingOverflow(y) : x.multipliedReportingOverflow(by: y)
                if o { throw Diagnostic(.runtime, "integer overflow in '\(op)'", at: location) }
                return .int(r)
            case "/", "%":
                if y == 0 { throw Diagnostic(.runtime, "division by zero", at: location) }
                if x == Int.min && y == -1 { throw Diagnostic(.runtime, "integer overflow in '\(op)'", at: location) }
                return .int(op == "/" ? x / y : x % y)
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.int, .double), (.double, .int), (.double, .double):
            let x = a.asDouble!, y = b.asDouble!
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/": return .double(x / y)
            case "%": return .double(x.truncatingRemainder(dividingBy: y))
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.string(let x), _) where op == "+":
            return .string(x + b.description)
        case (.string(let x), .string(let y)):
            switch op {
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.list(let x), .list(let y)) where op == "+":
            return .list(x + y)
        default: break
        }
        throw Diagnostic(.check, "cannot apply '\(op)' to a \(a.typeName) and a \(b.typeName)", at: location)
    }

    func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.int, .double), (.double, .int), (.double, .double): return a.asDouble == b.asDouble
        case (.string(let x), .string(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.record(let x), .record(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && equal($0.value, $1.value) }
        case (.table(let x), .table(let y)): return x == y
        case (.migration(let x), .migration(let y)): return x == y
        default: return false
        }
    }

    func member(_ base: Value, _ name: String, _ location: SourceLocation) throws -> Value {
        switch base {
        case .record:
            if let v = base.field(name) { return v }
        case .table(let t):
            switch name {
            case "name": return .string(t.name)
            case "physical_name": return .string(t.physicalName)
            case "version": return t.version.map { .string($0.description) } ?? .null
            case "engine": return .string(t.engine)
            case "database": return t.database.map { .string($0) } ?? .null
            case "order_by": return .list(t.effectiveOrderBy.map { .string($0) })
            case "partition_by": return t.partitionBy.map { .string($0) } ?? .null
            case "columns": return Builtins.columnList(t)
            default: break
            }
        case .migration(let m):
            switch name {
            case "name": return .string(m.name)
            case "from": return .table(m.from)
            case "to": return .table(m.to)
            case "bridge": return .string(m.bridge)
            case "strategy": return m.strategy.map { .string($0.rawValue) } ?? .string("auto")
            case "cutover": return .string(m.cutover.rawValue)
            case "transform": return m.transform.map { .string($0) } ?? .null
            case "cutoff": return m.cutoffColumn.map { .string($0) } ?? .null
            case "lateness": return .int(m.lateness)
            case "batch": return m.batch.map { .int($0) } ?? .null
            case "throttle": return m.throttle.map { .int($0) } ?? .null
            default: break
            }
        case .view(let v):
            switch name {
            case "name": return .string(v.name)
            case "target": return .string(v.target)
            case "select": return .string(v.select)
            default: break
            }
        case .result(let r):
            switch name {
            case "rows": return .list(Builtins.rows(of: r))
            case "count": return .int(r.rows.count)
            case "columns": return .list(r.columns.map { .string($0.name) })
            default: break
            }
        case .plan(let p):
            switch name {
            case "changes": return .bool(p.hasChanges)
            case "steps": return .list(p.steps.map { .record([("action", .string($0.action)), ("target", .string($0.target)), ("summary", .string($0.summary)), ("status", .string($0.status.rawValue))]) })
            default: break
            }
        case .list(let l) where name == "count":
            return .int(l.count)
        default: break
        }
        throw Diagnostic(.check, "a \(base.typeName) has no field '\(name)'", at: location)
    }

    func index(_ base: Value, _ key: Value, _ location: SourceLocation) throws -> Value {
        switch (base, key) {
        case (.list(let l), .int(let i)):
            let j = i < 0 ? l.count + i : i
            guard j >= 0 && j < l.count else {
                throw Diagnostic(.runtime, "index \(i) out of range (list of \(l.count))", at: location)
            }
            return l[j]
        case (.record, .string(let k)):
            guard let v = base.field(k) else { throw Diagnostic(.runtime, "no field '\(k)'", at: location) }
            return v
        case (.result(let r), .int(let i)):
            return try index(.list(Builtins.rows(of: r)), .int(i), location)
        case (.string(let s), .int(let i)):
            let chars = Array(s)
            let j = i < 0 ? chars.count + i : i
            guard j >= 0 && j < chars.count else { throw Diagnostic(.runtime, "index \(i) out of range", at: location) }
            return .string(String(chars[j]))
        default:
            throw Diagnostic(.check, "cannot index a \(base.typeName) with a \(key.typeName)", at: location)
        }
    }
}

extension Value {
    var asDouble: Double? {
        switch self {
        case .int(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    }
}

/// The closest name by edit distance, for "did you mean".
func nearest(_ name: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let n = Array(name)
    guard n.count < 64 else { return nil }
    let scored = Set(candidates).filter { $0.count < 64 }.map { ($0, distance(n, Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }), best.1 <= max(1, (n.count + 2) / 3) else { return nil }
    return best.0
}

/// The query a session is running, for cancelling it from another thread.
public final class RunningQuery: @unchecked Sendable {
    private let lock = NSLockShim()
    private var current: (transport: any Transport, id: String)?

    func start(_ transport: any Transport, _ id: String) { lock.with { current = (transport, id) } }
    func finish() { lock.with { current = nil } }

    /// Asks the server to stop the running query; a no-op when none runs.
    public func cancel() {
        guard let (transport, id) = lock.with({ current }) else { return }
        try? transport.cancel(queryID: id)
    }
}
