import Foundation

/// The statements that touch the server: plan, apply, verify, status, cutover,
/// rollback, finish, and `sql`.
extension Interpreter {
    /// Errors from transports and engines, as diagnostics at the statement.
    func wrap<T>(_ location: SourceLocation, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let d as Diagnostic {
            throw d
        } catch let d as DiagnosticList {
            throw d
        } catch let e as TransportError {
            throw Diagnostic(.server, e.description, at: location)
        } catch let e as any CategorizedError {
            throw Diagnostic(e.diagnosticKind, String(describing: e), at: location)
        } catch {
            throw Diagnostic(.runtime, String(describing: error), at: location)
        }
    }

    func requireTransport(_ location: SourceLocation) throws -> any Transport {
        guard let t = options.transport else {
            throw Diagnostic(.server, "not connected to ClickHouse", at: location, hint: "pass --url, or --dry-run to print the SQL instead")
        }
        return t
    }

    /// Forgets the cached catalog (after DDL, or a new connection).
    public func invalidateCatalog() { cachedCatalog = nil }

    public func runSQL(_ sql: String, at location: SourceLocation) throws -> QueryResult {
        if options.mode == .checkOnly || options.planOnly { return .empty }
        let transport = try requireTransport(location)
        let queryID = "mbg-" + UUID().uuidString.lowercased()
        runningQuery.start(transport, queryID)
        defer { runningQuery.finish() }
        let result = try wrap(location) { try transport.execute(Query(sql, queryID: queryID)) }
        cachedCatalog = nil  // any statement may have changed the catalog
        return result
    }

    /// The catalog planning reads: a file, the live server, or — in dry-run — the
    /// source versions of the session's migrations.
    public func currentCatalog(at location: SourceLocation?) throws -> Catalog {
        if let fixed = options.fixedCatalog { return fixed }
        if options.mode != .live { return dryRunCatalog() }
        if let cachedCatalog { return cachedCatalog }
        let transport = try requireTransport(location ?? SourceLocation(file: SourceFile(name: "<catalog>", text: ""), range: SourceRange(0, 0)))
        let loader = options.catalogLoader ?? readLiveCatalog
        let catalog = try wrap(location ?? SourceLocation(file: SourceFile(name: "<catalog>", text: ""), range: SourceRange(0, 0))) {
            var catalog = try loader(transport, options.database)
            // Tables declared in other databases: read those too.
            let others = Set(session.tables.compactMap(\.database) + session.views.compactMap(\.database))
                .subtracting([catalog.database])
            for db in others.sorted() {
                let exists = try transport.execute(Query("SELECT count() FROM system.databases WHERE name = \(quoteString(db))")).scalar
                if exists == "0" { continue }
                catalog.tables += try loader(transport, db).tables
            }
            return catalog
        }
        cachedCatalog = catalog
        return catalog
    }

    /// In dry-run the server holds exactly the tables migrations read from.
    func dryRunCatalog() -> Catalog {
        // No server: unqualified names resolve in whatever database the SQL is later run in.
        let database = options.database ?? ""
        var tables: [CatalogTable] = []
        var seen = Set<String>()
        for m in session.migrations where seen.insert(m.from.qualifiedName).inserted {
            tables.append(
                CatalogTable(
                    database: m.from.database ?? database, name: m.from.physicalName, engine: m.from.engine,
                    engineFull: m.from.engine, definition: m.from, createQuery: ""))
        }
        return Catalog(capabilities: .modern, database: database, tables: tables)
    }

    func migrationEngine(_ catalog: Catalog, _ location: SourceLocation) throws -> any MigrationEngine {
        let transport = try requireTransport(location)
        guard let make = options.makeMigrationEngine else {
            throw Diagnostic(.runtime, "this build has no migration engine", at: location)
        }
        return make(
            MigrationEngineContext(
                transport: transport, capabilities: catalog.capabilities, database: options.database ?? catalog.database,
                reporter: options.reporter))
    }

    func confirmDestructive(_ what: String, _ location: SourceLocation) throws {
        if options.assumeYes || options.mode == .dryRun { return }
        guard let confirm = options.confirm else {
            throw Diagnostic(.confirmation, "\(what) needs confirmation, and there is no terminal to ask on", at: location, hint: "pass --yes to run it without asking")
        }
        if !confirm("\(what)?") {
            throw Diagnostic(.confirmation, "\(what): not confirmed", at: location)
        }
    }

    func findMigration(_ name: Name?, _ file: SourceFile, _ kind: ActionKind) throws -> MigrationDef? {
        guard let name else { return nil }
        if let m = session.migration(name.text) { return m }
        if let v = globals.lookup(name.text), case .migration(let m) = v { return m }
        let known = session.migrations.map(\.name)
        var hint = known.isEmpty ? "declare one with: migrate \(name.text) -> v…" : "migrations: \(known.joined(separator: ", "))"
        if let near = nearest(name.text, among: known) { hint = "did you mean '\(near)'?" }
        throw Diagnostic(.check, "no migration named '\(name.text)'", at: loc(file, name.range), hint: hint)
    }

    func perform(_ a: ActionStmt, file: SourceFile) throws -> Value {
        let location = loc(file, a.range)
        let flags = Set(a.flags.map(\.text))
        // A name may also be a declared table or view (plan/apply of plain declarations).
        let migration: MigrationDef?
        if let target = a.target, session.migration(target.text) == nil,
            a.kind == .plan || a.kind == .apply,
            session.latest(target.text) != nil || session.tables.contains(where: { $0.physicalName == target.text })
                || session.view(target.text) != nil
        {
            migration = nil
        } else {
            migration = try findMigration(a.target, file, a.kind)
        }
        if options.mode == .checkOnly { return .null }
        if options.planOnly && a.kind != .status { return .null }
        if options.transport?.isDryRun == true, [.verify, .cutover, .rollback, .finish, .status].contains(a.kind) {
            try dryRunAction(a.kind, migration, keep: flags.contains("keep"), location)
            return .null
        }
        switch a.kind {
        case .plan:
            let plan = try makePlan(only: a.target?.text, location)
            output.plan(plan, name: a.target?.text)
            return .plan(plan)
        case .apply:
            if flags.contains("cutover") { try confirmDestructive("cut over \(migration?.name ?? "all migrations")", location) }
            let plan = try apply(only: a.target?.text, cutover: flags.contains("cutover"), force: flags.contains("force"), location)
            return .plan(plan)
        case .verify:
            let catalog = try currentCatalog(at: location)
            let engine = try migrationEngine(catalog, location)
            let report = try wrap(location) { try engine.verify(migration!) }
            output.line(report)
            return .string(report)
        case .status:
            let catalog = try currentCatalog(at: location)
            let engine = try migrationEngine(catalog, location)
            let lines = try wrap(location) { try engine.status(migration) }
            for l in lines { output.line(l) }
            return .list(lines.map { .string($0) })
        case .cutover:
            try confirmDestructive("cut over \(migration!.name)", location)
            let engine = try migrationEngine(try currentCatalog(at: location), location)
            try wrap(location) { try engine.cutover(migration!) }
        case .rollback:
            try confirmDestructive("roll back \(migration!.name)", location)
            let engine = try migrationEngine(try currentCatalog(at: location), location)
            try wrap(location) { try engine.rollback(migration!) }
        case .finish:
            let keep = flags.contains("keep")
            try confirmDestructive("finish \(migration!.name)\(keep ? "" : ", dropping \(migration!.from.physicalName)")", location)
            let engine = try migrationEngine(try currentCatalog(at: location), location)
            try wrap(location) { try engine.finish(migration!, keepOld: keep) }
        }
        cachedCatalog = nil
        return .null
    }

    /// In dry-run there is no state to consult: print the SQL the step would send.
    func dryRunAction(_ kind: ActionKind, _ migration: MigrationDef?, keep: Bool, _ location: SourceLocation) throws {
        let transport = try requireTransport(location)
        let catalog = try currentCatalog(at: location)
        let migrations = migration.map { [$0] } ?? session.migrations
        for m in migrations {
            switch kind {
            case .status:
                output.line("\(m.name): dry-run has no server, so no recorded progress")
            case .rollback:
                try transport.run(dropSQL(m.bridge.contains(".") ? nil : m.to.database, m.bridge, isView: true, capabilities: catalog.capabilities))
                try transport.run(dropSQL(m.to.database, m.to.physicalName, capabilities: catalog.capabilities))
            default:
                let engine = try migrationEngine(catalog, location)
                let steps = try wrap(location) { try engine.plan(m, catalog: catalog) }
                for step in steps where step.action == kind.rawValue {
                    var sql = step.sql
                    if kind == .finish && keep { sql = sql.filter { !$0.contains(m.from.physicalName) || $0.contains(m.bridge) } }
                    for s in sql { try transport.run(s) }
                }
            }
        }
    }

    // MARK: - planning declarations

    /// Tables a migration creates itself (its target) are left to the migration.
    func isMigrationTarget(_ t: TableDef) -> Bool { session.isMigrationTarget(t) }

    func isBridge(_ v: ViewDef) -> Bool { session.isBridge(v) }

    func selected(_ only: String?, table t: TableDef) -> Bool {
        guard let only else { return true }
        return t.name == only || t.physicalName == only
    }

    public func makePlan(only: String?, _ location: SourceLocation?) throws -> Plan {
        let location = location ?? SourceLocation(file: SourceFile(name: "<plan>", text: ""), range: SourceRange(0, 0))
        let catalog = try currentCatalog(at: location)
        var plan = Plan()
        let migrationOnly = only.flatMap { session.migration($0) }
        if migrationOnly == nil {
            for t in session.tables where selected(only, table: t) && !isMigrationTarget(t) {
                plan.steps.append(tableStep(t, catalog))
            }
        }
        for m in session.migrations where only == nil || m.name == only {
            let engine = try migrationEngine(catalog, location)
            plan.steps += try wrap(location) { try engine.plan(m, catalog: catalog) }
        }
        if migrationOnly == nil {
            for v in session.views where !isBridge(v) && (only == nil || only == v.name) {
                let exists = catalog.table(v.name, database: v.database) != nil
                plan.steps.append(
                    PlanStep(
                        action: "create_view", target: v.name, summary: "create materialized view \(v.name) to \(v.target)",
                        sql: [createViewSQL(v)], status: exists ? .done : .pending))
            }
        }
        if !catalog.capabilities.atomicDatabase && session.migrations.contains(where: { $0.cutover == .swap }) {
            plan.warnings.append("this server has no EXCHANGE TABLES: swap cut-over uses rename with a short catch-up")
        }
        return plan
    }

    func tableStep(_ t: TableDef, _ catalog: Catalog) -> PlanStep {
        guard let live = catalog.table(t.physicalName, database: t.database) else {
            return PlanStep(action: "create_table", target: t.physicalName, summary: "create table \(t.physicalName)", sql: [createTableSQL(t)])
        }
        let drift = catalogTableDiff(declared: t, live: live.definition)
        if drift.isEmpty {
            return PlanStep(action: "create_table", target: t.physicalName, summary: "table \(t.physicalName) exists as declared", status: .done)
        }
        return PlanStep(
            action: "drift", target: t.physicalName,
            summary: "table \(t.physicalName) differs from its declaration; mbg will not recreate it", status: .blocked,
            notes: drift + ["declare a new version and migrate to it to change the layout"])
    }

    func apply(only: String?, cutover: Bool, force: Bool, _ location: SourceLocation) throws -> Plan {
        let plan = try makePlan(only: only, location)
        let transport = try requireTransport(location)
        let catalog = try currentCatalog(at: location)
        for step in plan.steps where step.action == "drift" {
            output.warning("\(step.summary): " + step.notes.joined(separator: "; "))
        }
        // Plain tables first; a migration creates its own target.
        if only.flatMap({ session.migration($0) }) == nil {
            for t in session.tables where selected(only, table: t) && !isMigrationTarget(t) {
                let step = tableStep(t, catalog)
                guard step.status == .pending else { continue }
                try wrap(location) { for sql in step.sql { try transport.run(sql) } }
                if !transport.isDryRun { output.line("created table \(step.target)") }
            }
        }
        for m in session.migrations where only == nil || m.name == only {
            let engine = try migrationEngine(catalog, location)
            try wrap(location) { try engine.apply(m, catalog: catalog, cutover: cutover, takeOverLock: force) }
            cachedCatalog = nil
        }
        for step in plan.steps where step.action == "create_view" && step.status == .pending {
            try wrap(location) { for sql in step.sql { try transport.run(sql) } }
            if !transport.isDryRun { output.line("created view \(step.target)") }
        }
        cachedCatalog = nil
        return plan
    }
}

/// An error that knows which exit category it belongs to (lock held,
/// verification mismatch, …). Engines' errors conform.
public protocol CategorizedError: Error {
    var diagnosticKind: Diagnostic.Kind { get }
}

/// The catalog of `database` (or the connection's current database) on a live server.
public func readLiveCatalog(_ transport: any Transport, _ database: String?) throws -> Catalog {
    let db = try database ?? transport.execute(Query("SELECT currentDatabase()")).scalar ?? "default"
    return try CatalogReader(transport: transport, database: db).read()
}
