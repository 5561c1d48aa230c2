import Foundation

struct ReturnSignal: Error {
    let value: Value
}

/// Evaluates programs. One interpreter is one session: declarations accumulate
/// across `evaluate` calls (the REPL feeds it statement by statement).
public final class Interpreter {
    public var options: InterpreterOptions
    public let output: any OutputSink
    public let globals = Environment()
    package internal(set) var session = Session()
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
        globals.define(name, .function(FunctionValue(name: name, arity: arity, body)))
    }

    /// Parses and evaluates a source text. Throws a `DiagnosticList` with every
    /// syntax error, or the diagnostics of failing statements.
    @discardableResult
    public func evaluate(source: String, name: String = "<input>") throws -> Value {
        try evaluate(file: SourceFile(name: name, text: source))
    }

    @discardableResult
    public func evaluate(file: SourceFile) throws -> Value {
        var statements: [Stmt]
        let syntaxErrors: [Diagnostic]
        (statements, syntaxErrors) = Parser.parseStatements(file)
        if !syntaxErrors.isEmpty { throw DiagnosticList(syntaxErrors) }
        var declaredTables = 0
        var declaredMigrations = 0
        for statement in statements {
            if case .table = statement { declaredTables += 1 }
            if case .migrate = statement { declaredMigrations += 1 }
        }
        session.reserve(tables: declaredTables, migrations: declaredMigrations)
        var last: Value = .null
        var failures: [Diagnostic] = []
        // Each statement's syntax is let go once it has run (popped from the
        // end of the reversed list): a big script's tree is not held to the end.
        statements.reverse()
        while let statement = statements.popLast() {
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
        // The bytes read go once they are text: a big script is not held three times.
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw DiagnosticList([Diagnostic(.check, "cannot read file '\(path)'", at: nil)])
        }
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
            env.define(name.text, .function(FunctionValue(name: name.text, body: .user(params: params.map(\.text), body: body, closure: .strong(env), file: file))))
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
}
