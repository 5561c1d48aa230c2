import Foundation

/// Turning `table`, `view` and `migrate` declarations into model values, with
/// the checks that need no server.
extension Interpreter {
    func sqlString(_ expr: Expr, _ env: Environment, _ file: SourceFile, _ what: String) throws -> String {
        let v = try eval(expr, env, file)
        guard case .string(let s) = v else {
            throw Diagnostic(.check, "\(what) must be a string, got a \(v.typeName)", at: loc(file, expr.range))
        }
        return s
    }

    func keySQL(_ item: KeyItem, _ env: Environment, _ file: SourceFile) throws -> String {
        switch item {
        case .column(let name): return quoteIdentifier(name.text)
        case .sql(let e): return try sqlString(e, env, file, "a key expression")
        }
    }

    /// The version a derived declaration builds on: the highest lower version
    /// declared in the session, else the table as it exists in ClickHouse.
    func baseVersion(of logical: String, below version: Version?, at location: SourceLocation) throws -> TableDef? {
        let declared = session.versions(of: logical).filter { t in
            guard let version else { return false }
            guard let v = t.version else { return true }
            return v < version
        }
        if let base = declared.last { return base }
        guard options.mode != .checkOnly || options.fixedCatalog != nil else { return nil }
        if options.mode == .dryRun && options.fixedCatalog == nil { return nil }
        let catalog = try currentCatalog(at: location)
        let live = catalog.versions(of: logical, database: nil).filter { t in
            guard let version else { return false }
            guard let v = t.definition.version else { return true }
            return v < version
        }
        return live.last?.definition
    }

    func declareTable(_ decl: TableDecl, env: Environment, file: SourceFile) throws -> TableDef {
        let location = loc(file, decl.name.range)
        let previous = decl.version.flatMap { session.table(decl.name.text, $0) }
        if let version = decl.version, previous != nil, decl.columns == nil {
            throw Diagnostic(
                .check, "table \(decl.name.text) v\(version) is already declared",
                at: loc(file, decl.versionRange ?? decl.range), hint: "declare a higher version to change it")
        }
        var table: TableDef
        // A body needs no server: only a declaration without one reads the live table.
        let base =
            decl.version == nil
            ? nil
            : decl.columns != nil
                ? session.versions(of: decl.name.text).filter { $0.version.map { $0 < decl.version! } ?? true }.last
                : try baseVersion(of: decl.name.text, below: decl.version, at: location)
        if let base {
            table = base
            table.version = decl.version
        } else {
            table = TableDef(name: decl.name.text, version: decl.version)
        }
        var unknownBase = false
        if let columns = decl.columns {
            var seen = Set<String>()
            table.columns = []
            for c in columns {
                if !seen.insert(c.name.text).inserted {
                    throw Diagnostic(.check, "duplicate column '\(c.name.text)' in table \(decl.name.text)", at: loc(file, c.name.range))
                }
                var column = ColumnDef(
                    name: c.name.text, type: c.type, isKey: c.isKey,
                    defaultExpression: try c.defaultSQL.map { try sqlString($0, env, file, "a default") },
                    codec: try c.codec.map { try sqlString($0, env, file, "a codec") },
                    comment: try c.comment.map { try sqlString($0, env, file, "a comment") },
                    ttl: try c.ttl.map { try sqlString($0, env, file, "a TTL") })
                column.kind = c.valueKind
                table.columns.append(column)
            }
            if columns.isEmpty {
                throw Diagnostic(.check, "table \(decl.name.text) has no columns", at: loc(file, decl.range), hint: "declare at least one column: name Type")
            }
            // Key columns order a new body unless order_by says otherwise.
            if base != nil, table.columns.contains(where: \.isKey) { table.orderBy = nil }
        } else if base == nil {
            if options.mode == .checkOnly && options.fixedCatalog == nil {
                unknownBase = true  // columns come from the server, which `check` does not read
            } else {
                let why = options.mode == .dryRun ? " (dry-run reads no server)" : ""
                throw Diagnostic(
                    .check, "table \(decl.name.text)\(decl.version.map { " v\($0)" } ?? "") has no columns and no earlier version to derive from\(why)",
                    at: location, hint: "declare its columns in { } or declare a lower version first")
            }
        }
        var setPrimaryKey = false
        for (clause, range) in decl.clauses {
            switch clause {
            case .orderBy(let items):
                table.orderBy = try items.map { try keySQL($0, env, file) }
                try checkColumns(items, table, file, unknownBase)
            case .primaryKey(let items):
                table.primaryKey = try items.map { try keySQL($0, env, file) }
                setPrimaryKey = true
                try checkColumns(items, table, file, unknownBase)
            case .partitionBy(let item):
                table.partitionBy = try keySQL(item, env, file)
                try checkColumns([item], table, file, unknownBase)
            case .engine(let e):
                switch e {
                case .text(let t): table.engine = t
                case .sql(let x): table.engine = try sqlString(x, env, file, "an engine")
                }
            case .ttl(let e): table.ttl = try sqlString(e, env, file, "a TTL")
            case .settings(let list): table.settings = list.map { SettingDef(name: $0.name.text, value: $0.value) }
            case .database(let n): table.database = n.text
            case .cluster(let n): table.cluster = n.text
            case .sampleBy(let item):
                table.sampleBy = try item.map { try keySQL($0, env, file) }
                if let item { try checkColumns([item], table, file, unknownBase) }
            case .comment(let e): table.comment = try e.map { try sqlString($0, env, file, "a comment") }
            case .index(let name, let definition):
                table.indexes.removeAll { $0.name == name.text }
                guard let d = definition else {
                    if base?.indexes.contains(where: { $0.name == name.text }) != true, !unknownBase {
                        throw Diagnostic(.check, "table \(decl.name.text) has no index \(name.text) to drop", at: loc(file, range))
                    }
                    continue
                }
                let type: String
                switch d.type {
                case .text(let t): type = t
                case .sql(let x): type = try sqlString(x, env, file, "an index type")
                }
                table.indexes.append(
                    IndexDef(name: name.text, expression: try keySQL(d.expression, env, file), type: type, granularity: d.granularity))
                try checkColumns([d.expression], table, file, unknownBase)
            case .projection(let name, let query):
                table.projections.removeAll { $0.name == name.text }
                guard let query else {
                    if base?.projections.contains(where: { $0.name == name.text }) != true, !unknownBase {
                        throw Diagnostic(.check, "table \(decl.name.text) has no projection \(name.text) to drop", at: loc(file, range))
                    }
                    continue
                }
                table.projections.append(ProjectionDef(name: name.text, query: try sqlString(query, env, file, "a projection")))
            }
        }
        // A derived version that changes the sorting key keeps the old primary key
        // only if it is still a prefix of the new order.
        if !setPrimaryKey, base != nil, let pk = table.primaryKey, !table.effectiveOrderBy.starts(with: pk) {
            table.primaryKey = nil
        }
        if let pk = table.primaryKey, setPrimaryKey, !table.effectiveOrderBy.starts(with: pk) {
            throw Diagnostic(.check, "the primary key must be a prefix of order_by (\(table.effectiveOrderBy.joined(separator: ", ")))", at: location)
        }
        if !unknownBase, let problem = featureProblems(table, base: base).first {
            // Point at the clause that states the feature, else at the one that broke it.
            let stated = decl.clauses.first { c in
                switch (c.clause, problem.feature) {
                case (.sampleBy, .sampleBy): return true
                case (.index(let n, _), .index(let m)), (.projection(let n, _), .projection(let m)): return n.text == m
                default: return false
                }
            }
            let cause = decl.clauses.first { c in
                switch c.clause {
                case .orderBy, .primaryKey: return true
                default: return false
                }
            }
            let range = stated?.range ?? (problem.feature == .sampleBy ? cause?.range : nil) ?? decl.name.range
            throw Diagnostic(.check, problem.message, at: loc(file, range), hint: problem.hint)
        }
        if let previous {
            // Declaring the same version again is fine (scripts that share a
            // prelude); declaring it differently is not.
            guard previous == table else {
                throw Diagnostic(
                    .check, "table \(decl.name.text) v\(decl.version!) is already declared differently",
                    at: loc(file, decl.versionRange ?? decl.range), hint: "declare a higher version to change it")
            }
            return previous
        }
        session.add(table)
        declarationSites[table.physicalName] = location
        return table
    }

    func checkColumns(_ items: [KeyItem], _ table: TableDef, _ file: SourceFile, _ unknownBase: Bool) throws {
        if unknownBase { return }
        for case .column(let name) in items where table.column(named: name.text) == nil {
            var hint = "columns of \(table.name): " + table.columns.map(\.name).joined(separator: ", ")
            if let near = nearest(name.text, among: table.columns.map(\.name)) { hint = "did you mean '\(near)'?" }
            throw Diagnostic(.check, "unknown column '\(name.text)' in table \(table.name)", at: loc(file, name.range), hint: hint)
        }
    }

    /// `events` (latest declared) or `events v0.0` (declared, else on the server).
    func resolveTable(_ ref: TableRefSyntax, file: SourceFile) throws -> TableDef {
        let location = loc(file, ref.range)
        if let v = ref.version {
            if let t = session.table(ref.name.text, v) { return t }
            if options.mode == .live || options.fixedCatalog != nil,
                let live = try? currentCatalog(at: location).table(physicalName(ref.name.text, v))
            {
                return live.definition
            }
            let known = session.versions(of: ref.name.text).compactMap(\.version).map { "v\($0)" }
            throw Diagnostic(
                .check, "table \(ref.name.text) v\(v) is not declared", at: location,
                hint: known.isEmpty ? "declare it with: table \(ref.name.text) v\(v) { … }" : "declared versions: \(known.joined(separator: ", "))")
        }
        if let t = session.latest(ref.name.text) { return t }
        throw Diagnostic(.check, "unknown table '\(ref.name.text)'", at: location)
    }

    func declareView(_ decl: ViewDecl, env: Environment, file: SourceFile) throws -> ViewDef {
        let select = try sqlString(decl.select, env, file, "a view's SELECT")
        // The view's sources are the tables interpolated into its SELECT.
        var sources: [String] = []
        collectTables(decl.select, env, file, into: &sources)
        let target: TableDef
        if decl.target.version == nil, session.latest(decl.target.name.text) == nil {
            // `to` a plain name targets an unversioned table of that name, which must be declared.
            throw Diagnostic(
                .check, "the target table '\(decl.target.name.text)' of view \(decl.name.text) is not declared",
                at: loc(file, decl.target.range), hint: "declare it with table \(decl.target.name.text) { … }")
        } else if decl.target.version == nil {
            guard let t = session.table(decl.target.name.text, nil) ?? session.latest(decl.target.name.text) else {
                throw Diagnostic(.check, "unknown table '\(decl.target.name.text)'", at: loc(file, decl.target.range))
            }
            target = t
        } else {
            target = try resolveTable(decl.target, file: file)
        }
        let view = ViewDef(
            name: decl.name.text, database: decl.database?.text ?? target.database, target: target.physicalName,
            targetDatabase: target.database, select: select, sources: sources, cluster: decl.cluster?.text ?? target.cluster)
        if session.view(view.name) != nil {
            throw Diagnostic(.check, "view \(view.name) is already declared", at: loc(file, decl.name.range))
        }
        session.add(view)
        return view
    }

    /// Physical names of table values interpolated into a string expression.
    func collectTables(_ expr: Expr, _ env: Environment, _ file: SourceFile, into names: inout [String]) {
        guard case .string(let segments) = expr.kind else { return }
        for case .expr(let e) in segments {
            if let v = try? eval(e, env, file), case .table(let t) = v, !names.contains(t.physicalName) {
                names.append(t.physicalName)
            }
        }
    }

    func declareMigration(_ decl: MigrateDecl, env: Environment, file: SourceFile) throws -> MigrationDef {
        let logical = decl.table.text
        let location = loc(file, decl.range)
        let toLocation = loc(file, decl.toRange)
        guard let to = session.table(logical, decl.to) else {
            throw Diagnostic(
                .check, "migrate \(logical): version v\(decl.to) is not declared", at: toLocation,
                hint: "declare it first, e.g. table \(logical) v\(decl.to) order_by …")
        }
        let from: TableDef
        if let v = decl.from {
            if v == decl.to {
                throw Diagnostic(.check, "migrate \(logical): both sides are v\(v)", at: toLocation, hint: "migrate to a different version")
            }
            if let t = session.table(logical, v) {
                from = t
            } else if options.mode == .live || options.fixedCatalog != nil,
                let live = try currentCatalog(at: location).table(physicalName(logical, v))
            {
                from = live.definition
            } else {
                throw Diagnostic(.check, "migrate \(logical): version v\(v) is not declared", at: location, hint: "declare table \(logical) v\(v) { … }")
            }
        } else {
            // From the version now live: on the server, else the highest lower declared one.
            var found: TableDef?
            if options.mode == .live || options.fixedCatalog != nil {
                let live = try currentCatalog(at: location).versions(of: logical).filter { $0.definition.version.map { $0 < decl.to } ?? true }
                if let t = live.last {
                    found = session.table(logical, t.definition.version) ?? t.definition
                }
            }
            if found == nil {
                found = session.versions(of: logical).filter { $0.version.map { $0 < decl.to } ?? true }.last
            }
            guard let f = found else {
                throw Diagnostic(.check, "migrate \(logical) -> v\(decl.to): no earlier version to migrate from", at: location, hint: "name it: migrate \(logical) v0.0 -> v\(decl.to)")
            }
            from = f
        }
        if from.physicalName == to.physicalName {
            throw Diagnostic(.check, "migrate \(logical): both sides are the same table", at: toLocation)
        }
        var m = MigrationDef(name: logical, from: from, to: to, bridge: "mv_\(logical)_to_\(decl.to.suffix)")
        for (option, range) in decl.options {
            let here = loc(file, range)
            switch option {
            case .via(let n): m.bridge = n.text
            case .cutoff(let column, let lateness):
                guard let c = from.column(named: column.text) ?? (from.columns.isEmpty ? ColumnDef(name: column.text, type: "DateTime") : nil) else {
                    throw Diagnostic(.check, "unknown column '\(column.text)' in \(from.physicalName)", at: loc(file, column.range), hint: "cutoff needs a time column of the old table")
                }
                let type = c.type.lowercased()
                guard type.contains("date") else {
                    throw Diagnostic(.check, "cutoff column '\(column.text)' is \(c.type), not a date or time", at: loc(file, column.range), hint: "use a DateTime column, or the fence strategy")
                }
                m.cutoffColumn = column.text
                m.lateness = lateness ?? 0
            case .batch(let e):
                m.batch = try positiveInt(e, env, file, "batch")
            case .throttle(let e):
                m.throttle = try positiveInt(e, env, file, "throttle")
            case .transform(let e):
                m.transform = try sqlString(e, env, file, "a transform")
            case .strategy(let n):
                guard let s = BackfillStrategy(rawValue: n.text) else {
                    throw Diagnostic(.check, "unknown strategy '\(n.text)'", at: here, hint: "strategies: cutoff, fence")
                }
                m.strategy = s
            case .cutover(let n):
                guard let c = CutoverMode(rawValue: n.text) else {
                    throw Diagnostic(.check, "unknown cut-over mode '\(n.text)'", at: here, hint: "modes: versioned, swap")
                }
                m.cutover = c
            case .name(let n): m.name = n.text
            }
        }
        if m.strategy == .cutoff && m.cutoffColumn == nil {
            throw Diagnostic(.check, "strategy cutoff needs a time column", at: location, hint: "add: cutoff created_at lateness 5m")
        }
        // A declared view with the bridge's name is the bridge: its SELECT feeds the new table.
        if let view = session.view(m.bridge) {
            guard view.target == to.physicalName else {
                throw Diagnostic(.check, "view \(view.name) targets \(view.target), but the migration writes \(to.physicalName)", at: location)
            }
            if m.transform == nil && !isPlainCopy(view.select, from: from) { m.transform = view.select }
        }
        session.add(m)
        return m
    }

    func positiveInt(_ e: Expr, _ env: Environment, _ file: SourceFile, _ what: String) throws -> Int {
        let v = try eval(e, env, file)
        guard case .int(let n) = v, n > 0 else {
            throw Diagnostic(.check, "\(what) must be a positive integer, got \(v.literal)", at: loc(file, e.range))
        }
        return n
    }

    /// `SELECT * FROM <old>`: no transform needed.
    func isPlainCopy(_ select: String, from: TableDef) -> Bool {
        let words = select.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        return words.count == 4 && words[0].uppercased() == "SELECT" && words[1] == "*" && words[2].uppercased() == "FROM"
            && (words[3] == from.qualifiedName || words[3] == quoteIdentifier(from.physicalName))
    }

    // MARK: - imports

    func importModule(_ path: String, from file: SourceFile, at location: SourceLocation) throws {
        let resolved: String
        if path.hasPrefix("./") || path.hasPrefix("../") || path.hasPrefix("/") {
            let base = URL(fileURLWithPath: file.name).deletingLastPathComponent()
            resolved = path.hasPrefix("/") ? path : base.appendingPathComponent(path).standardizedFileURL.path
        } else {
            let name = path.hasSuffix(".mbg") ? path : path + ".mbg"
            guard let found = options.stdlibPaths.map({ URL(fileURLWithPath: $0).appendingPathComponent(name).path }).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw Diagnostic(
                    .check, "no module '\(path)' in the standard library", at: location,
                    hint: options.stdlibPaths.isEmpty ? "no stdlib folder found; set MBG_STDLIB" : "searched: \(options.stdlibPaths.joined(separator: ", "))")
            }
            resolved = found
        }
        let canonical = URL(fileURLWithPath: resolved).standardizedFileURL.path
        switch loadedModules[canonical] {
        case true?: return  // each module is evaluated once
        case false?: throw Diagnostic(.check, "import cycle: '\(path)' is already being imported", at: location)
        case nil: break
        }
        guard let data = FileManager.default.contents(atPath: canonical) else {
            throw Diagnostic(.check, "cannot read module '\(path)' (\(canonical))", at: location)
        }
        loadedModules[canonical] = false
        defer { loadedModules[canonical] = true }
        try evaluate(file: SourceFile(name: resolved, text: String(decoding: data, as: UTF8.self)))
    }
}
