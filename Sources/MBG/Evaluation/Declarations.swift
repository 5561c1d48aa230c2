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

    /// The version a derived declaration builds on: the highest lower version
    /// declared in the session, else the table as it exists in ClickHouse.
    func baseVersion(of logical: String, below version: Version?, at location: SourceLocation) throws -> TableDef? {
        let declared = session.versions(of: logical).filter { t in
            guard let version else { return false }
            guard let v = t.version else { return true }
            return v < version
        }
        if let base = declared.last { return base }
        guard options.readsCatalog else { return nil }
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
        // A body needs no server: only a declaration without one reads the live table.
        let base =
            decl.version == nil
            ? nil
            : decl.columns != nil
                ? session.versions(of: decl.name.text).filter { $0.version.map { $0 < decl.version! } ?? true }.last
                : try baseVersion(of: decl.name.text, below: decl.version, at: location)
        var columns: [ColumnDef]?
        var unknownBase = false
        if let body = decl.columns {
            var seen = Set<String>()
            var list: [ColumnDef] = []
            for c in body {
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
                list.append(column)
            }
            if body.isEmpty {
                throw Diagnostic(.check, "table \(decl.name.text) has no columns", at: loc(file, decl.range), hint: "declare at least one column: name Type")
            }
            columns = list
        } else if base == nil {
            if case .none = options.catalogSource {
                unknownBase = true  // columns come from the server, which `check` does not read
            } else {
                let why = options.readsCatalog ? "" : " (dry-run reads no server)"
                throw Diagnostic(
                    .check, "table \(decl.name.text)\(decl.version.map { " v\($0)" } ?? "") has no columns and no earlier version to derive from\(why)",
                    at: location, hint: "declare its columns in { } or declare a lower version first")
            }
        }
        let changes = try decl.clauses.map { try tableChange($0.clause, env, file) }
        let table: TableDef
        do {
            table = try declareVersion(
                name: decl.name.text, version: decl.version, base: base, columns: columns, changes: changes,
                columnsKnown: !unknownBase)
        } catch {
            throw diagnostic(error, file, fallback: location) { change, item in
                keyItemRange(decl.clauses[change].clause, item) ?? decl.clauses[change].range
            }
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

    /// A clause, evaluated into the change it makes.
    func tableChange(_ clause: TableClause, _ env: Environment, _ file: SourceFile) throws -> TableChange {
        func key(_ item: KeyItem) throws -> KeyExpr {
            switch item {
            case .column(let name): return .column(name.text)
            case .sql(let e): return .sql(try sqlString(e, env, file, "a key expression"))
            }
        }
        switch clause {
        case .orderBy(let items): return .orderBy(try items.map(key))
        case .primaryKey(let items): return .primaryKey(try items.map(key))
        case .partitionBy(let item): return .partitionBy(try key(item))
        case .engine(.text(let t)): return .engine(t)
        case .engine(.sql(let x)): return .engine(try sqlString(x, env, file, "an engine"))
        case .ttl(let e): return .ttl(try sqlString(e, env, file, "a TTL"))
        case .settings(let list): return .settings(list.map { SettingDef(name: $0.name.text, value: $0.value) })
        case .database(let n): return .database(n.text)
        case .cluster(let n): return .cluster(n.text)
        case .sampleBy(let item): return .sampleBy(try item.map(key))
        case .comment(let e): return .comment(try e.map { try sqlString($0, env, file, "a comment") })
        case .index(let name, let definition):
            guard let d = definition else { return .dropIndex(name.text) }
            let type: String
            switch d.type {
            case .text(let t): type = t
            case .sql(let x): type = try sqlString(x, env, file, "an index type")
            }
            return .index(name: name.text, expression: try key(d.expression), type: type, granularity: d.granularity)
        case .projection(let name, let query):
            return .projection(name: name.text, try query.map { ProjectionDef(name: name.text, query: try sqlString($0, env, file, "a projection")) })
        case .distributed(let e): return .distributed(try e.map { try sqlString($0, env, file, "a sharding expression") } ?? defaultShardingKey)
        }
    }

    /// Where an unknown column of a key clause was written.
    func keyItemRange(_ clause: TableClause, _ item: Int?) -> SourceRange? {
        guard let item else { return nil }
        let items: [KeyItem]
        switch clause {
        case .orderBy(let list), .primaryKey(let list): items = list
        case .partitionBy(let one): items = [one]
        case .sampleBy(let one?): items = [one]
        case .index(_, let d?): items = [d.expression]
        default: return nil
        }
        guard item < items.count, case .column(let name) = items[item] else { return nil }
        return name.range
    }

    /// A declaration error as a diagnostic: at the change it names, else at `fallback`.
    func diagnostic(
        _ error: DeclarationError, _ file: SourceFile, fallback: SourceLocation, range: (Int, Int?) -> SourceRange
    ) -> Diagnostic {
        let at = error.change.map { loc(file, range($0, error.keyItem)) } ?? fallback
        return Diagnostic(.check, error.message, at: at, hint: error.hint)
    }

    /// `events` (latest declared) or `events v0.0` (declared, else on the server).
    func resolveTable(_ ref: TableRefSyntax, file: SourceFile) throws -> TableDef {
        let location = loc(file, ref.range)
        if let v = ref.version {
            if let t = session.table(ref.name.text, v) { return t }
            if options.readsCatalog,
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
            } else if options.readsCatalog,
                let live = try currentCatalog(at: location).table(physicalName(logical, v))
            {
                from = live.definition
            } else {
                throw Diagnostic(.check, "migrate \(logical): version v\(v) is not declared", at: location, hint: "declare table \(logical) v\(v) { … }")
            }
        } else {
            // From the version now live: on the server, else the highest lower declared one.
            var found: TableDef?
            if options.readsCatalog {
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
        var changes: [MigrationChange] = []
        for (option, _) in decl.options {
            switch option {
            case .via(let n): changes.append(.via(n.text))
            case .cutoff(let column, let lateness): changes.append(.cutoff(column: column.text, lateness: lateness))
            case .batch(let e): changes.append(.batch(try positiveInt(e, env, file, "batch")))
            case .throttle(let e): changes.append(.throttle(try positiveInt(e, env, file, "throttle")))
            case .parallel(let e): changes.append(.parallel(try positiveInt(e, env, file, "parallel")))
            case .transform(let e): changes.append(.transform(try sqlString(e, env, file, "a transform")))
            case .strategy(let n): changes.append(.strategy(n.text))
            case .cutover(let n): changes.append(.cutover(n.text))
            case .name(let n): changes.append(.name(n.text))
            }
        }
        let m: MigrationDef
        do {
            m = try MBG.declareMigration(from: from, to: to, changes: changes, bridgeView: { session.view($0) })
        } catch {
            let fallback = error.message.contains(": both sides are") ? toLocation : location
            throw diagnostic(error, file, fallback: fallback) { change, _ in
                if case .cutoff(let column, _) = decl.options[change].option { return column.range }
                return decl.options[change].range
            }
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
