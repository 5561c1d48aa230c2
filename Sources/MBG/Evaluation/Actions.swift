import Foundation

/// The statements that touch the server: plan, apply, verify, status, cutover,
/// rollback, finish. (`sql` runs through `runSQL`.)
extension Interpreter {
    func confirmDestructive(_ what: String, _ location: SourceLocation) throws {
        if options.assumeYes { return }
        if case .record = options.stepExecution { return }
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
        if a.kind == .status { return try status(migration, location) }
        switch options.stepExecution {
        case .none: return .null
        case .record where [.verify, .cutover, .rollback, .finish].contains(a.kind):
            try recordAction(a.kind, migration, keep: flags.contains("keep"), location)
            return .null
        case .record, .run: break
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
            return try status(migration, location)
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

    /// `status` reads recorded progress: from a live server only.
    func status(_ migration: MigrationDef?, _ location: SourceLocation) throws -> Value {
        switch options.catalogSource {
        case .none:
            return .null
        case .script, .snapshot:
            let lines = (migration.map { [$0] } ?? session.migrations).map { "\($0.name): dry-run has no server, so no recorded progress" }
            for l in lines { output.line(l) }
            return .list(lines.map { .string($0) })
        case .server:
            let engine = try migrationEngine(try currentCatalog(at: location), location)
            let lines = try wrap(location) { try engine.status(migration) }
            for l in lines { output.line(l) }
            return .list(lines.map { .string($0) })
        }
    }
}
