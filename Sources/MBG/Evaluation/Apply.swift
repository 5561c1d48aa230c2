import Foundation

/// Carrying out a plan. The plan is computed once (`makePlan`); then either its
/// steps are sent, in order, to a transport that records them (dry-run), or
/// the steps that need answers from the server (backfill, verification) are
/// handed to the migration engine.
extension Interpreter {
    func apply(only: String?, cutover: Bool, force: Bool, _ location: SourceLocation) throws -> Plan {
        let plan = try makePlan(only: only, location)
        let transport = try requireTransport(location)
        for step in plan.steps where step.kind == .drift {
            output.warning("\(step.summary): " + step.notes.joined(separator: "; "))
        }
        let recording: Bool
        switch options.stepExecution {
        case .none: return plan
        case .record: recording = true
        case .run: recording = false
        }
        let migrations = session.migrations.filter { only == nil || $0.name == only }
        if !recording {
            try preflightClusters(plan, location)
            for warning in try clusterNodeDrift(plan, location) { output.warning(warning) }
        }
        // Plain tables first (a migration creates its own target), then migrations, then views.
        for step in plan.steps where step.migration == nil && step.kind == .createTable && step.status == .pending {
            // An ON CLUSTER DDL that times out names the hosts that did not finish it.
            try wrap(location) { for sql in step.sql { try ClusterDDLTransport(transport).run(sql) } }
            if !recording { output.info("created table \(step.target)") }
        }
        if recording {
            // No answers to read: send what the plan shows, in order; cut-over only when asked, finish never.
            let kinds: Set<StepKind> = [.stateTable, .createTable, .createBridge, .backfill, .verify]
            for step in plan.steps where step.migration != nil && step.status == .pending
                && (kinds.contains(step.kind) || (step.kind == .cutover && cutover))
            {
                try wrap(location) { for sql in step.sql { try transport.run(sql) } }
            }
        } else {
            let catalog = try currentCatalog(at: location)
            for m in migrations {
                let engine = try migrationEngine(catalog, location)
                try wrap(location) { try engine.apply(m, catalog: catalog, cutover: cutover, takeOverLock: force) }
                cachedCatalog = nil
            }
            for warning in try driftAfterApply(migrations, swapped: cutover, location) { output.warning(warning) }
        }
        for step in plan.steps where step.kind == .createView && step.status == .pending {
            try wrap(location) { for sql in step.sql { try transport.run(sql) } }
            if !recording { output.info("created view \(step.target)") }
        }
        cachedCatalog = nil
        return plan
    }

    /// The drift check after apply: each new version as the catalog has it,
    /// compared with its declaration, one line per difference, so that a
    /// feature lost on the way (or a new table that existed before, made
    /// otherwise) is never silent.
    func driftAfterApply(_ migrations: [MigrationDef], swapped: Bool, _ location: SourceLocation) throws -> [String] {
        let catalog = try currentCatalog(at: location)
        var out: [String] = []
        for m in migrations {
            // After a swap the new layout lives under the old version's name.
            let name = swapped && m.cutover == .swap ? m.from.physicalName : m.to.physicalName
            guard let live = catalog.table(name, database: m.to.database ?? catalog.database) else { continue }
            var declared = m.to
            // A version whose columns come from the server declares none of its own.
            if declared.columns.isEmpty { declared.columns = live.definition.columns }
            // Clustered: the data table (behind a Distributed one) with the Replicated arguments mbg wrote.
            let diffs = declared.cluster != nil || declared.distributedBy != nil
                ? Planner(PlanningInputs(catalog: catalog, database: catalog.database, now: 0)).clusteredDrift(declared, live)
                : catalogTableDiff(declared: declared, live: live.definition)
            for d in diffs {
                out.append("drift: \(name) differs from the declaration of \(m.to.name) \(m.to.version.map { "v\($0)" } ?? ""): \(d)")
            }
        }
        cachedCatalog = nil
        return out
    }

    /// Dry-run of verify, cutover, rollback and finish: there is no state to
    /// consult, so the SQL the step would send is recorded.
    func recordAction(_ kind: ActionKind, _ migration: MigrationDef?, keep: Bool, _ location: SourceLocation) throws {
        let transport = try requireTransport(location)
        let migrations = migration.map { [$0] } ?? session.migrations
        let inputs = try planningInputs(for: migrations, location)
        let planner = Planner(inputs)
        for m in migrations {
            let s = MigrationSQL(m, database: inputs.database, catalog: inputs.catalog, capabilities: inputs.capabilities)
            var sql: [String]
            switch kind {
            case .rollback:
                sql = [s.drop(s.bridge, isView: true), s.drop(s.new)]
            case .finish:
                let step = planner.migrationSteps(m).first { $0.kind == .finish }
                sql = step?.sql ?? []
                if keep { sql = [s.drop(s.bridge, isView: true)] }
            case .verify:
                sql = planner.migrationSteps(m).first { $0.kind == .verify }?.sql ?? []
            case .cutover:
                sql = planner.migrationSteps(m).first { $0.kind == .cutover }?.sql ?? []
            default:
                sql = []
            }
            try wrap(location) { for statement in sql { try transport.run(statement) } }
        }
    }
}
