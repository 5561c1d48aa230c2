import Foundation

/// Expressions: values, operators, calls, member access and indexing.
extension Interpreter {
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
            if op == .not { return .bool(!v.isTruthy) }
            switch v {
            case .int(let n):
                let (r, o) = (0).subtractingReportingOverflow(n)
                if o { throw Diagnostic(.runtime, "integer overflow", at: loc(file, expr.range)) }
                return .int(r)
            case .double(let d): return .double(-d)
            default: throw Diagnostic(.check, "cannot negate a \(v.typeName)", at: loc(file, expr.range))
            }
        case .binary(let op, let l, let r):
            if op == .and {
                let left = try eval(l, env, file)
                return left.isTruthy ? try eval(r, env, file) : left
            }
            if op == .or {
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
        case .user(let params, let body, let closureRef, let file):
            guard let closure = closureRef.environment else {
                throw Diagnostic(.runtime, "\(fn.name): the scope it was defined in is gone", at: location)
            }
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

    func binary(_ op: BinaryOperator, _ a: Value, _ b: Value, _ location: SourceLocation) throws -> Value {
        switch op {
        case .equal: return .bool(equal(a, b))
        case .notEqual: return .bool(!equal(a, b))
        default: break
        }
        switch (a, b) {
        case (.int(let x), .int(let y)):
            switch op {
            case .add, .subtract, .multiply:
                let (r, o) =
                    op == .add ? x.addingReportingOverflow(y)
                    : op == .subtract ? x.subtractingReportingOverflow(y) : x.multipliedReportingOverflow(by: y)
                if o { throw Diagnostic(.runtime, "integer overflow in '\(op.rawValue)'", at: location) }
                return .int(r)
            case .divide, .remainder:
                if y == 0 { throw Diagnostic(.runtime, "division by zero", at: location) }
                if x == Int.min && y == -1 { throw Diagnostic(.runtime, "integer overflow in '\(op.rawValue)'", at: location) }
                return .int(op == .divide ? x / y : x % y)
            case .less, .lessOrEqual, .greater, .greaterOrEqual: return .bool(compare(op, x, y))
            default: break
            }
        case (.int, .double), (.double, .int), (.double, .double):
            let x = a.asDouble!, y = b.asDouble!
            switch op {
            case .add: return .double(x + y)
            case .subtract: return .double(x - y)
            case .multiply: return .double(x * y)
            case .divide: return .double(x / y)
            case .remainder: return .double(x.truncatingRemainder(dividingBy: y))
            case .less, .lessOrEqual, .greater, .greaterOrEqual: return .bool(compare(op, x, y))
            default: break
            }
        case (.string(let x), _) where op == .add:
            return .string(x + b.description)
        case (.string(let x), .string(let y)):
            switch op {
            case .less, .lessOrEqual, .greater, .greaterOrEqual: return .bool(compare(op, x, y))
            default: break
            }
        case (.list(let x), .list(let y)) where op == .add:
            return .list(x + y)
        default: break
        }
        throw Diagnostic(.check, "cannot apply '\(op.rawValue)' to a \(a.typeName) and a \(b.typeName)", at: location)
    }

    func compare<T: Comparable>(_ op: BinaryOperator, _ x: T, _ y: T) -> Bool {
        switch op {
        case .less: x < y
        case .lessOrEqual: x <= y
        case .greater: x > y
        default: x >= y
        }
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
        switch (base, name) {
        case (.record, _): if let v = base.field(name) { return v }
        case (.table(let t), "name"): return .string(t.name)
        case (.table(let t), "physical_name"): return .string(t.physicalName)
        case (.table(let t), "version"): return .optional(t.version?.description)
        case (.table(let t), "engine"): return .string(t.engine)
        case (.table(let t), "database"): return .optional(t.database)
        case (.table(let t), "order_by"): return .list(t.effectiveOrderBy.map { .string($0) })
        case (.table(let t), "partition_by"): return .optional(t.partitionBy)
        case (.table(let t), "columns"): return Builtins.columnList(t)
        case (.migration(let m), "name"): return .string(m.name)
        case (.migration(let m), "from"): return .table(m.from)
        case (.migration(let m), "to"): return .table(m.to)
        case (.migration(let m), "bridge"): return .string(m.bridge)
        case (.migration(let m), "strategy"): return .string(m.strategy?.rawValue ?? "auto")
        case (.migration(let m), "cutover"): return .string(m.cutover.rawValue)
        case (.migration(let m), "transform"): return .optional(m.transform)
        case (.migration(let m), "cutoff"): return .optional(m.cutoffColumn)
        case (.migration(let m), "lateness"): return .int(m.lateness)
        case (.migration(let m), "batch"): return .optional(m.batch)
        case (.migration(let m), "throttle"): return .optional(m.throttle)
        case (.migration(let m), "parallel"): return .optional(m.parallel)
        case (.view(let v), "name"): return .string(v.name)
        case (.view(let v), "target"): return .string(v.target)
        case (.view(let v), "select"): return .string(v.select)
        case (.result(let r), "rows"): return .list(Builtins.rows(of: r))
        case (.result(let r), "count"): return .int(r.rows.count)
        case (.result(let r), "columns"): return .list(r.columns.map { .string($0.name) })
        case (.plan(let p), "changes"): return .bool(p.hasChanges)
        case (.plan(let p), "steps"):
            return .list(p.steps.map { .record([("action", .string($0.kind.rawValue)), ("target", .string($0.target)), ("summary", .string($0.summary)), ("status", .string($0.status.rawValue))]) })
        case (.list(let l), "count"): return .int(l.count)
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
