/// A value of the language.
public indirect enum Value: Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    /// Fields keep the order they were written in.
    case record([(key: String, value: Value)])
    case table(TableDef)
    case view(ViewDef)
    case migration(MigrationDef)
    case function(FunctionValue)
    case result(QueryResult)
    case plan(Plan)

    /// The text, or null when there is none.
    static func optional(_ s: String?) -> Value { s.map { .string($0) } ?? .null }
    /// The number, or null when there is none.
    static func optional(_ n: Int?) -> Value { n.map { .int($0) } ?? .null }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .double: "number"
        case .string: "string"
        case .list: "list"
        case .record: "record"
        case .table: "table"
        case .view: "view"
        case .migration: "migration"
        case .function: "function"
        case .result: "result"
        case .plan: "plan"
        }
    }

    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .int(let n): n != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .list(let l): !l.isEmpty
        default: true
        }
    }

    /// How `print` and interpolation show the value. A table renders as its quoted
    /// physical name, so `"SELECT * FROM \(events v0.0)"` is valid SQL.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let n): return String(n)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(d)
        case .string(let s): return s
        case .list(let items): return "[" + items.map(\.literal).joined(separator: ", ") + "]"
        case .record(let fields): return "{" + fields.map { "\($0.key): \($0.value.literal)" }.joined(separator: ", ") + "}"
        case .table(let t): return t.qualifiedName
        case .view(let v): return v.qualifiedName
        case .migration(let m): return "migration \(m.name) (\(m.from.physicalName) -> \(m.to.physicalName))"
        case .function(let f): return "fn \(f.name)"
        case .result(let r): return "result (\(r.rows.count) rows)"
        case .plan(let p): return p.render()
        }
    }

    /// As written in source: strings quoted.
    public var literal: String {
        if case .string(let s) = self {
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return description
    }

    public func field(_ key: String) -> Value? {
        if case .record(let fields) = self { return fields.first { $0.key == key }?.value }
        return nil
    }
}

import Foundation

/// A function: written in the language, or provided by mbg or a host program.
public final class FunctionValue: @unchecked Sendable {
    enum Body {
        case user(params: [String], body: [Stmt], closure: Closure, file: SourceFile)
        /// Arity nil accepts any number of arguments.
        case native(arity: Int?, (_ args: [Value], _ context: CallContext) throws -> Value)
    }

    /// The scope a user function closes over. The scope that defines a function
    /// holds it, so that copy holds the scope weakly; a copy read out of a scope
    /// holds it strongly and keeps it alive wherever it goes. So a scope and its
    /// functions never keep each other alive (no reference cycle).
    enum Closure {
        case strong(Environment)
        case weak(WeakEnvironment)

        var environment: Environment? {
            switch self {
            case .strong(let e): e
            case .weak(let w): w.environment
            }
        }
    }

    public let name: String
    let body: Body

    init(name: String, body: Body) {
        self.name = name
        self.body = body
    }

    /// A function implemented by the host; `arity` nil accepts any number of arguments.
    public convenience init(
        name: String, arity: Int?, _ body: @escaping (_ args: [Value], _ context: CallContext) throws -> Value
    ) {
        self.init(name: name, body: .native(arity: arity, body))
    }

    /// This function as stored in `env`: weak when it closes over `env` itself.
    func stored(in env: Environment) -> FunctionValue {
        guard case .user(let params, let body, .strong(let closure), let file) = self.body, closure === env else { return self }
        return FunctionValue(name: name, body: .user(params: params, body: body, closure: .weak(WeakEnvironment(closure)), file: file))
    }

    /// This function as read out of a scope: holding its closure strongly.
    func loaded() -> FunctionValue {
        guard case .user(let params, let body, .weak(let w), let file) = self.body, let env = w.environment else { return self }
        return FunctionValue(name: name, body: .user(params: params, body: body, closure: .strong(env), file: file))
    }
}

final class WeakEnvironment: @unchecked Sendable {
    weak var environment: Environment?
    init(_ environment: Environment) { self.environment = environment }
}

/// What a native function can use: where it was called from, for errors.
public struct CallContext {
    public let location: SourceLocation
    public let interpreter: Interpreter

    /// An error pointing at the call.
    public func error(_ message: String, hint: String? = nil) -> Diagnostic {
        Diagnostic(.runtime, message, at: location, hint: hint)
    }

    /// A declaration that does not make sense (as `table`/`migrate` statements report it): exit 65.
    func checkError(_ message: String, hint: String? = nil) -> Diagnostic {
        Diagnostic(.check, message, at: location, hint: hint)
    }
}

/// Variables of one scope, with a link to the enclosing one.
public final class Environment: @unchecked Sendable {
    private var values: [String: Value] = [:]
    public let parent: Environment?

    public init(parent: Environment? = nil) {
        self.parent = parent
        Self.counter.add(1)
    }

    deinit { Self.counter.add(-1) }

    /// Environments alive now: tests show that closures do not keep scopes alive.
    static var liveCount: Int { counter.value }
    private static let counter = LiveCounter()

    public func define(_ name: String, _ value: Value) { values[name] = stored(value) }

    public func lookup(_ name: String) -> Value? {
        if let v = values[name] {
            if case .function(let f) = v { return .function(f.loaded()) }
            return v
        }
        return parent?.lookup(name)
    }

    /// Rebinds the variable in the scope that defines it; false if none does.
    public func assign(_ name: String, _ value: Value) -> Bool {
        if values[name] != nil {
            values[name] = stored(value)
            return true
        }
        return parent?.assign(name, value) ?? false
    }

    /// A function closing over this scope is kept here without keeping the scope alive.
    private func stored(_ value: Value) -> Value {
        if case .function(let f) = value { return .function(f.stored(in: self)) }
        return value
    }

    public var names: [String] { Array(values.keys) + (parent?.names ?? []) }
}

final class LiveCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) {
        lock.lock()
        count += n
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
