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
    public enum Body {
        case user(params: [String], body: [Stmt], closure: Environment, file: SourceFile)
        /// Arity nil accepts any number of arguments.
        case native(arity: Int?, (_ args: [Value], _ context: CallContext) throws -> Value)
    }
    public let name: String
    public let body: Body
    public init(name: String, body: Body) {
        self.name = name
        self.body = body
    }
}

/// What a native function can use: where it was called from, for errors.
public struct CallContext {
    public let location: SourceLocation
    public let interpreter: Interpreter

    /// An error pointing at the call.
    public func error(_ message: String, hint: String? = nil) -> Diagnostic {
        Diagnostic(.runtime, message, at: location, hint: hint)
    }
}

/// Variables of one scope, with a link to the enclosing one.
public final class Environment: @unchecked Sendable {
    private var values: [String: Value] = [:]
    public let parent: Environment?

    public init(parent: Environment? = nil) { self.parent = parent }

    public func define(_ name: String, _ value: Value) { values[name] = value }

    public func lookup(_ name: String) -> Value? {
        if let v = values[name] { return v }
        return parent?.lookup(name)
    }

    /// Rebinds the variable in the scope that defines it; false if none does.
    public func assign(_ name: String, _ value: Value) -> Bool {
        if values[name] != nil {
            values[name] = value
            return true
        }
        return parent?.assign(name, value) ?? false
    }

    public var names: [String] { Array(values.keys) + (parent?.names ?? []) }
}
