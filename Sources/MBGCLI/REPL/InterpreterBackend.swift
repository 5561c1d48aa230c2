import Foundation
import MBG

/// The REPL's view of the interpreter: one session that lives as long as the REPL.
final class InterpreterBackend: ReplBackend {
    static let keywords = [
        "table", "view", "migrate", "plan", "apply", "verify", "status", "cutover", "rollback",
        "finish", "sql", "let", "fn", "return", "if", "else", "for", "in", "print", "assert",
        "import", "and", "or", "not", "true", "false", "null", "key", "default", "codec",
        "order_by", "primary_key", "partition_by", "engine", "ttl", "settings", "database",
        "cluster", "to", "as", "via", "cutoff", "lateness", "batch", "throttle", "parallel", "transform",
        "strategy", "keep", "force", "swap", "versioned", "fence", "MergeTree",
        "ReplacingMergeTree", "String", "DateTime", "DateTime64", "UInt64", "Int64",
        "LowCardinality", "Nullable",
    ]

    let interpreter: Interpreter
    var settings: RunSettings
    /// After the server failed once, completion stops asking until `.connect`.
    var catalogUnavailable = false

    init(interpreter: Interpreter, settings: RunSettings) {
        self.interpreter = interpreter
        self.settings = settings
    }

    func completeness(of source: String) -> InputCompleteness {
        switch Parser.completeness(of: source) {
        case .complete: .complete
        case .incomplete: .incomplete
        case .invalid: .invalid
        }
    }

    func evaluate(_ source: String) -> Bool {
        do {
            let value = try interpreter.evaluate(source: source, name: "<repl>")
            // A bare expression shows its value, as REPLs do.
            if case .null = value {} else if !source.hasPrefix("sql"), isBareExpression(source) {
                Console.out(value.description)
            }
            return true
        } catch {
            _ = report(error)
            return false
        }
    }

    func isBareExpression(_ source: String) -> Bool {
        let (program, _) = Parser.parse(SourceFile(name: "<repl>", text: source))
        guard let last = program.statements.last, case .expression(let e) = last else { return false }
        if case .sql = e.kind { return false }
        if case .call = e.kind { return false }
        return true
    }

    func catalog() -> Catalog? {
        guard !catalogUnavailable, interpreter.options.mode == .live || interpreter.options.fixedCatalog != nil else { return nil }
        do {
            return try interpreter.currentCatalog(at: nil)
        } catch {
            catalogUnavailable = true
            return nil
        }
    }

    func completions(prefix: String, line: String) -> [String] {
        var names = Self.keywords + interpreter.session.names + interpreter.globals.names
        if let catalog = catalog() {
            names += catalog.tables.map(\.name)
            // Columns of tables named in the statement so far.
            for t in catalog.tables where line.contains(t.name) {
                names += t.definition.columns.map(\.name)
            }
        }
        for t in interpreter.session.tables where line.contains(t.name) {
            names += t.columns.map(\.name)
        }
        return Array(Set(names.filter { $0.hasPrefix(prefix) })).sorted()
    }

    /// The server's tables, then the session's declared ones. When the server's
    /// cannot be read, the declared ones still show, after a warning saying why;
    /// with none declared, the reason is the error.
    func tableNames() throws -> [String] {
        let declared = interpreter.session.tables.map { "\($0.physicalName) (declared)" }
        guard interpreter.options.mode == .live || interpreter.options.fixedCatalog != nil else { return declared }
        do {
            // `.tables` asks again even after a failure, and a success revives completion.
            let catalog = try interpreter.currentCatalog(at: nil)
            catalogUnavailable = false
            return catalog.tables.filter { $0.database == catalog.database }.map(\.name) + declared
        } catch {
            catalogUnavailable = true
            let reason = Self.plainMessage(error)
            guard !declared.isEmpty else { throw BackendError(message: "cannot list the server's tables: \(reason)") }
            Console.err("warning: cannot list the server's tables: \(reason)")
            return declared
        }
    }

    /// An error's text without the "error:" and source excerpt of a diagnostic:
    /// the REPL prefixes "error:" itself, and a catalog read has no source to point at.
    static func plainMessage(_ error: any Error) -> String {
        switch error {
        case let d as Diagnostic:
            d.hint.map { "\(d.message) (\($0))" } ?? d.message
        case let list as DiagnosticList:
            list.diagnostics.map { plainMessage($0) }.joined(separator: "; ")
        default:
            "\(error)"
        }
    }

    func describe(_ name: String) throws -> String {
        if let t = interpreter.session.tables.last(where: { $0.physicalName == name || $0.name == name }) {
            return createTableSQL(t, ifNotExists: false)
        }
        if let v = interpreter.session.views.last(where: { $0.name == name }) {
            return createViewSQL(v, ifNotExists: false)
        }
        if let m = interpreter.session.migration(name) {
            return "migration \(m.name): \(m.from.physicalName) -> \(m.to.physicalName) via \(m.bridge), cut-over \(m.cutover.rawValue)"
        }
        if let t = catalog()?.table(name) {
            return t.createQuery
        }
        throw CLIError.usage("no table, view or migration named '\(name)'")
    }

    func load(path: String) -> Bool {
        do {
            try interpreter.run(path: path)
            return true
        } catch {
            _ = report(error)
            return false
        }
    }

    func connect(url: String) throws -> String {
        var common = settings.common
        common.url = url
        common.local = nil
        let next = RunSettings(common: common, mode: .live)
        let connection = try next.connection()
        let transport = try TransportRegistry.standard().make(connection)
        let version = try transport.execute(Query("SELECT version()")).scalar ?? "?"
        interpreter.options.transport = transport
        interpreter.options.mode = .live
        interpreter.options.database = connection.database
        interpreter.invalidateCatalog()
        settings = next
        catalogUnavailable = false
        return "connected to \(transport.displayURL) (ClickHouse \(version))"
    }

    var cancelRunning: @Sendable () -> Void {
        let running = interpreter.runningQuery
        return { running.cancel() }
    }
}

/// An error the REPL shows as "error: MESSAGE".
struct BackendError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
