/// `derive` and `migration`: the declarations as functions, so stdlib snippets
/// can declare versions and migrations for tables they receive as arguments.
extension Interpreter {
    func installDeclarationBuiltins() {
        // derive(table, "v0.1", {order_by: [...], partition_by: "...", engine: "...", ...})
        register("derive", arity: 3) { args, ctx in
            guard case .table(let base) = args[0] else { throw ctx.error("derive takes a table first, got a \(args[0].typeName)") }
            guard case .string(let vtext) = args[1], let version = Version(parsing: vtext) else {
                throw ctx.error("derive takes a version like \"v0.1\" second", hint: "e.g. derive(events, \"v0.1\", {order_by: [\"id\"]})")
            }
            guard case .record(let changes) = args[2] else { throw ctx.error("derive takes a record of changes third") }
            let interp = ctx.interpreter
            if let bv = base.version, version <= bv {
                throw ctx.error("derive: v\(version) is not higher than \(base.physicalName)'s v\(bv)")
            }
            if interp.session.table(base.name, version) != nil {
                throw ctx.error("table \(base.name) v\(version) is already declared")
            }
            var t = base
            t.version = version
            func strings(_ v: Value, _ what: String) throws -> [String] {
                switch v {
                case .string(let s): return [s]
                case .list(let items):
                    return try items.map {
                        guard case .string(let s) = $0 else { throw ctx.error("\(what) takes strings") }
                        return s
                    }
                default: throw ctx.error("\(what) takes a string or a list of strings")
                }
            }
            func keyExpressions(_ v: Value, _ what: String) throws -> [String] {
                try strings(v, what).map { t.column(named: $0) != nil ? quoteIdentifier($0) : $0 }
            }
            for (key, value) in changes {
                switch key {
                case "order_by": t.orderBy = try keyExpressions(value, key)
                case "primary_key": t.primaryKey = try keyExpressions(value, key)
                case "partition_by": t.partitionBy = try keyExpressions(value, key).first
                case "engine": t.engine = try strings(value, key).first ?? t.engine
                case "ttl": t.ttl = try strings(value, key).first
                case "sample_by":
                    if case .null = value { t.sampleBy = nil } else { t.sampleBy = try keyExpressions(value, key).first }
                case "comment":
                    if case .null = value { t.comment = nil } else { t.comment = try strings(value, key).first }
                case "database": t.database = try strings(value, key).first
                case "cluster": t.cluster = try strings(value, key).first
                case "retype":
                    guard case .record(let types) = value else { throw ctx.error("retype takes a record {column: \"Type\"}") }
                    for (column, type) in types {
                        guard let i = t.columns.firstIndex(where: { $0.name == column }) else {
                            throw ctx.error("retype: no column '\(column)' in \(base.physicalName)")
                        }
                        guard case .string(let ty) = type else { throw ctx.error("retype: the type of '\(column)' must be a string") }
                        t.columns[i].type = ty
                    }
                case "rename":
                    guard case .record(let names) = value else { throw ctx.error("rename takes a record {old: \"new\"}") }
                    for (old, new) in names {
                        guard let i = t.columns.firstIndex(where: { $0.name == old }), case .string(let n) = new else {
                            throw ctx.error("rename: no column '\(old)' in \(base.physicalName)")
                        }
                        t.columns[i].name = n
                        let q = quoteIdentifier(old)
                        t.orderBy = t.orderBy?.map { $0 == q ? quoteIdentifier(n) : $0 }
                        t.primaryKey = t.primaryKey?.map { $0 == q ? quoteIdentifier(n) : $0 }
                        if t.partitionBy == q { t.partitionBy = quoteIdentifier(n) }
                        if t.sampleBy == q { t.sampleBy = quoteIdentifier(n) }
                    }
                default:
                    throw ctx.error("derive: unknown change '\(key)'", hint: "known: order_by, primary_key, partition_by, sample_by, engine, ttl, comment, database, cluster, retype, rename")
                }
            }
            if let pk = t.primaryKey, !t.effectiveOrderBy.starts(with: pk) {
                if changes.contains(where: { $0.key == "primary_key" }) {
                    throw ctx.error("the primary key must be a prefix of order_by")
                }
                t.primaryKey = nil
            }
            if let problem = featureProblems(t, base: base, dropSampling: "sample_by: null").first {
                throw ctx.error(problem.message, hint: problem.hint)
            }
            interp.session.add(t)
            return .table(t)
        }

        // migration(from, to, {via: "…", cutoff: "ts", lateness: 60, batch: …, throttle: …,
        //                      transform: "SELECT …", strategy: "fence", cutover: "swap", name: "…"})
        register("migration", arity: 3) { args, ctx in
            guard case .table(let from) = args[0], case .table(let to) = args[1] else {
                throw ctx.error("migration takes the old and the new table")
            }
            guard case .record(let options) = args[2] else { throw ctx.error("migration takes a record of options third") }
            if from.physicalName == to.physicalName { throw ctx.error("migration: both sides are \(from.physicalName)") }
            var m = MigrationDef(name: to.name, from: from, to: to, bridge: "mv_\(to.name)_to_\(to.version?.suffix ?? to.physicalName)")
            for (key, value) in options {
                switch (key, value) {
                case ("via", .string(let s)): m.bridge = s
                case ("cutoff", .string(let s)):
                    guard let c = from.column(named: s), c.type.lowercased().contains("date") else {
                        throw ctx.error("cutoff column '\(s)' is not a date or time column of \(from.physicalName)")
                    }
                    m.cutoffColumn = s
                case ("lateness", .int(let n)) where n >= 0: m.lateness = n
                case ("batch", .int(let n)) where n > 0: m.batch = n
                case ("throttle", .int(let n)) where n > 0: m.throttle = n
                case ("transform", .string(let s)): m.transform = s
                case ("strategy", .string(let s)):
                    guard let v = BackfillStrategy(rawValue: s) else { throw ctx.error("unknown strategy '\(s)'", hint: "strategies: cutoff, fence") }
                    m.strategy = v
                case ("cutover", .string(let s)):
                    guard let v = CutoverMode(rawValue: s) else { throw ctx.error("unknown cut-over mode '\(s)'", hint: "modes: versioned, swap") }
                    m.cutover = v
                case ("name", .string(let s)): m.name = s
                default:
                    throw ctx.error("migration: bad option \(key): \(value.literal)", hint: "options: via, cutoff, lateness, batch, throttle, transform, strategy, cutover, name")
                }
            }
            if m.strategy == .cutoff && m.cutoffColumn == nil { throw ctx.error("strategy cutoff needs a cutoff column") }
            ctx.interpreter.session.add(m)
            return .migration(m)
        }
    }
}
