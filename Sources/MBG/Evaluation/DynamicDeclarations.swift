/// `derive` and `migration`: the declarations as functions, so stdlib snippets
/// can declare versions and migrations for tables they receive as arguments.
/// They build the same changes the `table` and `migrate` statements build and
/// declare through the same functions (Declaring.swift).
extension Interpreter {
    func installDeclarationBuiltins() {
        // derive(table, "v0.1", {order_by: [...], partition_by: "...", engine: "...", ...})
        register("derive", arity: 3) { args, ctx in
            let interp = ctx.interpreter
            guard case .table(let base) = args[0] else { throw ctx.checkError("derive takes a table first, got a \(args[0].typeName)") }
            guard case .string(let vtext) = args[1], let version = Version(parsing: vtext) else {
                throw ctx.checkError("derive takes a version like \"v0.1\" second", hint: "e.g. derive(events, \"v0.1\", {order_by: [\"id\"]})")
            }
            guard case .record(let fields) = args[2] else { throw ctx.checkError("derive takes a record of changes third") }
            if let bv = base.version, version <= bv {
                throw ctx.checkError("derive: v\(version) is not higher than \(base.physicalName)'s v\(bv)")
            }
            if interp.session.table(base.name, version) != nil {
                throw ctx.checkError("table \(base.name) v\(version) is already declared")
            }
            let changes = try fields.flatMap { try interp.tableChanges($0.key, $0.value, base: base, ctx) }
            do {
                let t = try declareVersion(
                    name: base.name, version: version, base: base, columns: nil, changes: changes, dropSampling: "sample_by: null")
                interp.session.add(t)
                return .table(t)
            } catch let error as DeclarationError {
                throw ctx.checkError(error.message, hint: error.hint)
            }
        }

        // migration(from, to, {via: "…", cutoff: "ts", lateness: 60, batch: …, throttle: …,
        //                      transform: "SELECT …", strategy: "fence", cutover: "swap", name: "…"})
        register("migration", arity: 3) { args, ctx in
            let interp = ctx.interpreter
            guard case .table(let from) = args[0], case .table(let to) = args[1] else {
                throw ctx.checkError("migration takes the old and the new table")
            }
            guard case .record(let options) = args[2] else { throw ctx.checkError("migration takes a record of options third") }
            var changes: [MigrationChange] = []
            for (key, value) in options {
                switch (key, value) {
                case ("via", .string(let s)): changes.append(.via(s))
                case ("cutoff", .string(let s)): changes.append(.cutoff(column: s, lateness: nil))
                case ("lateness", .int(let n)): changes.append(.lateness(n))
                case ("batch", .int(let n)): changes.append(.batch(n))
                case ("throttle", .int(let n)): changes.append(.throttle(n))
                case ("parallel", .int(let n)): changes.append(.parallel(n))
                case ("transform", .string(let s)): changes.append(.transform(s))
                case ("strategy", .string(let s)): changes.append(.strategy(s))
                case ("cutover", .string(let s)): changes.append(.cutover(s))
                case ("name", .string(let s)): changes.append(.name(s))
                default:
                    throw ctx.checkError("migration: bad option \(key): \(value.literal)", hint: "options: via, cutoff, lateness, batch, throttle, parallel, transform, strategy, cutover, name")
                }
            }
            do {
                let m = try MBG.declareMigration(from: from, to: to, changes: changes, bridgeView: { interp.session.view($0) })
                interp.session.add(m)
                return .migration(m)
            } catch let error as DeclarationError {
                throw ctx.checkError(error.message, hint: error.hint)
            }
        }
    }

    /// The changes one field of derive's record makes.
    func tableChanges(_ key: String, _ value: Value, base: TableDef, _ ctx: CallContext) throws -> [TableChange] {
        func strings(_ v: Value) throws -> [String] {
            switch v {
            case .string(let s): return [s]
            case .list(let items):
                return try items.map {
                    guard case .string(let s) = $0 else { throw ctx.checkError("\(key) takes strings") }
                    return s
                }
            default: throw ctx.checkError("\(key) takes a string or a list of strings")
            }
        }
        // A column of the base by name, else SQL text.
        func keys(_ v: Value) throws -> [KeyExpr] {
            try strings(v).map { base.column(named: $0) != nil ? .column($0) : .sql($0) }
        }
        func records(_ what: String) throws -> [(key: String, value: String)] {
            guard case .record(let fields) = value else { throw ctx.checkError(what) }
            return try fields.map { field in
                guard case .string(let s) = field.value else { throw ctx.checkError(what) }
                return (field.key, s)
            }
        }
        switch key {
        case "order_by": return [.orderBy(try keys(value))]
        case "primary_key": return [.primaryKey(try keys(value))]
        case "partition_by": return try keys(value).first.map { [.partitionBy($0)] } ?? []
        case "engine": return try strings(value).first.map { [.engine($0)] } ?? []
        case "ttl": return try strings(value).first.map { [.ttl($0)] } ?? []
        case "database": return try strings(value).first.map { [.database($0)] } ?? []
        case "cluster": return try strings(value).first.map { [.cluster($0)] } ?? []
        case "sample_by":
            if case .null = value { return [.sampleBy(nil)] }
            return try keys(value).first.map { [.sampleBy($0)] } ?? []
        case "comment":
            if case .null = value { return [.comment(nil)] }
            return try strings(value).first.map { [.comment($0)] } ?? []
        case "index":
            // {name: {expression: "…", type: "minmax", granularity: 1}}; null drops the index.
            guard case .record(let fields) = value else { throw ctx.checkError("index takes a record {name: {expression: …, type: …}}") }
            return try fields.map { name, spec in
                if case .null = spec { return .dropIndex(name) }
                guard case .string(let expression)? = spec.field("expression"), case .string(let type)? = spec.field("type") else {
                    throw ctx.checkError("index \(name) needs {expression: \"…\", type: \"…\"}")
                }
                var granularity: Int?
                if case .int(let g)? = spec.field("granularity") { granularity = g }
                let column: KeyExpr = base.column(named: expression) != nil ? .column(expression) : .sql(expression)
                return .index(name: name, expression: column, type: type, granularity: granularity)
            }
        case "projection":
            // {name: "SELECT …"}; null drops the projection.
            guard case .record(let fields) = value else { throw ctx.checkError("projection takes a record {name: \"SELECT …\"}") }
            return try fields.map { name, query in
                if case .null = query { return .projection(name: name, nil) }
                guard case .string(let q) = query else { throw ctx.checkError("projection \(name) takes a SELECT string") }
                return .projection(name: name, ProjectionDef(name: name, query: q))
            }
        case "settings":
            return [.settings(try records("settings takes a record {name: \"value\"}").map { SettingDef(name: $0.key, value: $0.value) })]
        case "distributed": return try strings(value).first.map { [.distributed($0)] } ?? []
        case "retype":
            return try records("retype takes a record {column: \"Type\"}").map { .retype(column: $0.key, type: $0.value) }
        case "rename":
            return try records("rename takes a record {old: \"new\"}").map { .rename(column: $0.key, to: $0.value) }
        default:
            throw ctx.checkError("derive: unknown change '\(key)'", hint: "known: order_by, primary_key, partition_by, sample_by, index, projection, engine, ttl, comment, settings, database, cluster, distributed, retype, rename")
        }
    }
}
