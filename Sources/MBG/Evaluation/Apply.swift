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
        if !recording { try preflightClusters(plan, location) }
        // Plain tables first (a migration creates its own target), then migrations, then views.
        for step in plan.steps where step.migration == nil && step.kind == .createTable && step.status == .pending {
            try wrap(location) { for sql in step.sql { try transport.run(sql) } }
            if !recording { output.line("created table \(step.target)") }
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
        }
        for step in plan.steps where step.kind == .createView && step.status == .pending {
            try wrap(location) { for sql in step.sql { try transport.run(sql) } }
            if !recording { output.line("created view \(step.target)") }
        }
        cachedCatalog = nil
        return plan
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
