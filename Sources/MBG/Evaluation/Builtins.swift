import Foundation

/// Functions every script can call.
enum Builtins {
    static func install(into interp: Interpreter) {
        interp.register("env", arity: 1) { args, ctx in
            guard case .string(let name) = args[0] else { throw ctx.error("env takes a variable name (a string)") }
            // Secrets stay out of scripts: the password variable is never readable.
            if name == "MBG_PASSWORD" { throw ctx.error("MBG_PASSWORD cannot be read from a script") }
            return .optional(ProcessInfo.processInfo.environment[name])
        }
        interp.register("now", arity: 0) { _, _ in
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyy-MM-dd HH:mm:ss"
            return .string(f.string(from: Date()))
        }
        interp.register("len", arity: 1) { args, ctx in
            switch args[0] {
            case .string(let s): return .int(s.count)
            case .list(let l): return .int(l.count)
            case .record(let r): return .int(r.count)
            case .result(let r): return .int(r.rows.count)
            default: throw ctx.error("len takes a string, list, record or result, got a \(args[0].typeName)")
            }
        }
        interp.register("str", arity: 1) { args, _ in .string(args[0].description) }
        interp.register("int", arity: 1) { args, ctx in
            switch args[0] {
            case .int: return args[0]
            case .double(let d) where d.isFinite && abs(d) < 9e18: return .int(Int(d))
            case .string(let s): if let n = Int(s.trimmingCharacters(in: .whitespaces)) { return .int(n) }
            case .bool(let b): return .int(b ? 1 : 0)
            default: break
            }
            throw ctx.error("cannot convert \(args[0].literal) to an int")
        }
        interp.register("range", arity: 1) { args, ctx in
            guard case .int(let n) = args[0], n >= 0, n <= 1_000_000 else { throw ctx.error("range takes an int from 0 to 1000000") }
            return .list((0..<n).map { .int($0) })
        }
        interp.register("keys", arity: 1) { args, ctx in
            guard case .record(let fields) = args[0] else { throw ctx.error("keys takes a record") }
            return .list(fields.map { .string($0.key) })
        }
        interp.register("join", arity: 2) { args, ctx in
            guard case .list(let items) = args[0], case .string(let sep) = args[1] else {
                throw ctx.error("join takes a list and a separator string")
            }
            return .string(items.map(\.description).joined(separator: sep))
        }
        interp.register("quote", arity: 1) { args, _ in .string(quoteString(args[0].description)) }
        interp.register("ident", arity: 1) { args, _ in .string(quoteIdentifier(args[0].description)) }
        interp.register("fail", arity: 1) { args, ctx in throw ctx.error(args[0].description) }
        interp.register("tables", arity: 0) { _, ctx in
            let catalog = try ctx.interpreter.currentCatalog(at: ctx.location)
            return .list(catalog.tables.filter { $0.database == catalog.database }.map { .string($0.name) })
        }
        interp.register("columns", arity: 1) { args, ctx in
            switch args[0] {
            case .table(let t): return columnList(t)
            case .string(let name):
                if let t = ctx.interpreter.session.latest(name) { return columnList(t) }
                let catalog = try ctx.interpreter.currentCatalog(at: ctx.location)
                guard let t = catalog.table(name) else { throw ctx.error("no table '\(name)' on the server") }
                return columnList(t.definition)
            default: throw ctx.error("columns takes a table or a table name")
            }
        }
        interp.register("exists", arity: 1) { args, ctx in
            let name: String
            switch args[0] {
            case .table(let t): name = t.physicalName
            case .string(let s): name = s
            default: throw ctx.error("exists takes a table or a name")
            }
            return .bool(try ctx.interpreter.currentCatalog(at: ctx.location).table(name) != nil)
        }
    }

    static func columnList(_ t: TableDef) -> Value {
        .list(t.columns.map { .record([("name", .string($0.name)), ("type", .string($0.type)), ("key", .bool($0.isKey))]) })
    }

    /// Rows of a result as records, with cells typed by their ClickHouse type.
    static func rows(of r: QueryResult) -> [Value] {
        r.rows.map { row in
            .record(zip(r.columns, row).map { col, cell in (col.name, typed(cell, col.type)) })
        }
    }

    static func typed(_ cell: String?, _ type: String) -> Value {
        guard let cell else { return .null }
        var t = type
        if t.hasPrefix("Nullable(") { t = String(t.dropFirst(9).dropLast()) }
        if t.hasPrefix("LowCardinality(") { t = String(t.dropFirst(15).dropLast()) }
        if t.hasPrefix("Int") || t.hasPrefix("UInt") {
            return Int(cell).map { .int($0) } ?? .string(cell)  // past Int64: kept exact as text
        }
        if t.hasPrefix("Float") || t.hasPrefix("Decimal") { return Double(cell).map { .double($0) } ?? .string(cell) }
        if t == "Bool" { return .bool(cell == "true" || cell == "1") }
        return .string(cell)
    }
}
