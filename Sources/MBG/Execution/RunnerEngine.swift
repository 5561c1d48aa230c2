import Foundation

/// The interpreter's `MigrationEngine`, backed by `MigrationRunner`.
public final class RunnerEngine: MigrationEngine {
    package let runner: MigrationRunner

    package init(runner: MigrationRunner) { self.runner = runner }

    /// A runner for this process: the lock names the host and process id.
    public convenience init(_ context: MigrationEngineContext) {
        let host = ProcessInfo.processInfo.hostName
        let owner = "\(host):\(ProcessInfo.processInfo.processIdentifier)"
        self.init(
            runner: MigrationRunner(
                transport: context.transport, capabilities: context.capabilities, database: context.database,
                reporter: context.reporter, owner: owner))
    }

    public func recordedState(_ migration: String) throws -> MigrationState { try runner.store.load(migration) }

    public func serverTime() throws -> Int { try runner.serverNow() }

    /// One round trip: the states of all the migrations and the server's
    /// clock are asked at once.
    public func planningState(_ migrations: [String], stateTableExists: Bool?) throws -> (recorded: [String: MigrationState], now: Int) {
        let exists = try stateTableExists ?? runner.store.exists()
        let clock = Concurrent(runner.transport, CatalogQueries.serverNow)
        let recorded = try runner.store.load(migrations, tableExists: exists)
        let now = Int(try clock.wait().get().scalar ?? "") ?? Int(runner.clock.now())
        return (recorded, now)
    }

    public func apply(_ m: MigrationDef, catalog: Catalog, cutover: Bool, takeOverLock: Bool) throws {
        try runner.clusterRunner(for: m, probeReplication: true).apply(m, catalog: catalog, cutover: cutover, takeOverLock: takeOverLock)
    }

    /// The runner for `m`: on a cluster, the one that works through the coordinator node.
    func runner(for m: MigrationDef) throws -> MigrationRunner { try runner.clusterRunner(for: m, probeReplication: false) }

    /// Per-partition counts and checksums; throws when they differ.
    public func verify(_ m: MigrationDef) throws -> String {
        let report = try runner(for: m).verify(m)
        if !report.ok {
            throw MigrationError.verificationMismatch(migration: m.name, partitions: report.mismatches)
        }
        if report.rows.isEmpty && !report.notes.isEmpty { return report.notes.joined(separator: "\n") }
        var lines = ["verified \(m.name): \(report.rows.count) partition\(report.rows.count == 1 ? "" : "s") match"]
        for row in report.rows {
            lines.append("  \(row.partition): \(row.oldRows) rows, checksum \(row.oldChecksum)")
        }
        lines += report.notes.map { "  note: \($0)" }
        return lines.joined(separator: "\n")
    }

    public func status(_ m: MigrationDef?) throws -> [String] {
        guard let m else { return try runner.status(nil).map(\.summary) }
        let r = try runner(for: m)
        return try (r.cluster == nil ? r.status(m) : r.clusterStatus(m)).map(\.summary)
    }

    public func cutover(_ m: MigrationDef) throws { try runner(for: m).cutover(m) }
    public func rollback(_ m: MigrationDef) throws { try runner(for: m).rollback(m) }
    public func finish(_ m: MigrationDef, keepOld: Bool) throws { try runner(for: m).finish(m, keepOld: keepOld) }
}
