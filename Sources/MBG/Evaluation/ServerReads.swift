import Foundation

/// What the interpreter reads before planning: the catalog, the recorded state
/// of migrations and the server's clock. Planning itself (`Planner`) reads
/// nothing; every read of the server happens here or in execution.
extension Interpreter {
    func requireTransport(_ location: SourceLocation) throws -> any Transport {
        guard let t = options.transport else {
            throw Diagnostic(.server, "not connected to ClickHouse", at: location, hint: "pass --url, or --dry-run to print the SQL instead")
        }
        return t
    }

    /// Forgets the cached catalog (after DDL, or a new connection).
    public func invalidateCatalog() { cachedCatalog = nil }

    /// Runs one `sql` statement (recorded in dry-run, skipped when nothing runs).
    package func runSQL(_ sql: String, at location: SourceLocation) throws -> QueryResult {
        if case .none = options.stepExecution { return .empty }
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
    package func currentCatalog(at location: SourceLocation?) throws -> Catalog {
        let location = location ?? SourceLocation(file: SourceFile(name: "<catalog>", text: ""), range: SourceRange(0, 0))
        switch options.catalogSource {
        case .snapshot(let catalog): return catalog
        case .none, .script: return dryRunCatalog()
        case .server: break
        }
        if let cachedCatalog { return cachedCatalog }
        let transport = try requireTransport(location)
        let loader = options.catalogLoader ?? readLiveCatalog
        let catalog = try wrap(location) {
            var catalog = try loader(transport, options.database)
            // Tables declared in other databases: read those too.
            let others = Set(session.tables.compactMap(\.database) + session.views.compactMap(\.database))
                .subtracting([catalog.database])
            for db in others.sorted() {
                let exists = try transport.execute(Query(CatalogQueries.databaseExists(db))).scalar
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
        // A distributed source has two tables: the Distributed one and its data.
        let sources = session.migrations.flatMap { m in
            var data = m.from
            (data.name, data.version, data.distributedBy) = (m.from.dataName, nil, nil)
            return m.from.distributedBy == nil ? [m.from] : [m.from, data]
        }
        for from in sources where seen.insert(from.qualifiedName).inserted {
            tables.append(
                CatalogTable(
                    database: from.database ?? database, name: from.physicalName, engine: from.engine,
                    engineFull: from.engine, definition: from, createQuery: ""))
        }
        return Catalog(capabilities: .modern, database: database, tables: tables)
    }

    /// Everything planning needs, read now: the catalog, and on a live server
    /// the recorded state of the migrations and the server's clock.
    func planningInputs(for migrations: [MigrationDef], _ location: SourceLocation) throws -> PlanningInputs {
        let freshCatalog = cachedCatalog == nil
        let catalog = try currentCatalog(at: location)
        try checkClusters(catalog, location)
        let database = options.database ?? catalog.database
        guard case .server = options.catalogSource, !migrations.isEmpty else {
            return PlanningInputs(catalog: catalog, database: database, now: Int(Date().timeIntervalSince1970))
        }
        let engine = try migrationEngine(catalog, location)
        // A catalog just read lists the database's tables: whether the state
        // table is among them needs no question of its own.
        let stateTable = freshCatalog
            ? catalog.tables.contains { $0.database == database && $0.name == StateTableSQL.tableName } : nil
        return try wrap(location) {
            let state = try engine.planningState(migrations.map(\.name), stateTableExists: stateTable)
            return PlanningInputs(catalog: catalog, database: database, recorded: state.recorded, now: state.now)
        }
    }

    /// The plan of the session (or of one migration, table or view).
    public func makePlan(only: String?, _ location: SourceLocation?) throws -> Plan {
        var plan = Plan()
        plan.warnings = try streamPlan(only: only, location) { plan.steps.append($0) }
        return plan
    }

    /// The steps of the session's plan one at a time, for writing out a big
    /// plan as it is made; returns the plan's warnings.
    package func streamPlan(only: String?, _ location: SourceLocation?, _ body: (PlanStep) throws -> Void) throws -> [String] {
        let location = location ?? SourceLocation(file: SourceFile(name: "<plan>", text: ""), range: SourceRange(0, 0))
        let migrations = session.migrations.filter { only == nil || $0.name == only }
        let inputs = try planningInputs(for: migrations, location)
        return try Planner(inputs).forEachStep(
            tables: session.tables, views: session.views, migrations: session.migrations, only: only, body)
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
}

/// The catalog of `database` (or the connection's current database) on a live server.
public func readLiveCatalog(_ transport: any Transport, _ database: String?) throws -> Catalog {
    // The cluster reads overlap the catalog's.
    let topology = ClusterReader(transport: transport).startTopology()
    let db = try database ?? transport.execute(Query(CatalogQueries.currentDatabase)).scalar ?? "default"
    var catalog = try CatalogReader(transport: transport, database: db).read()
    catalog.topology = try topology()
    return catalog
}
