import Foundation

/// Carries a declared migration through its lifecycle on a live server:
/// declared → started (new table + bridge) → backfilled → verified → cut over →
/// finished, or rolled back. Every step first reads what exists (system tables
/// and `<db>._mbg_state`) and skips what is done, so any call can be repeated
/// and a killed run continues where it stopped.
package final class MigrationRunner: @unchecked Sendable {
    let transport: any Transport
    let capabilities: Capabilities
    let database: String
    let reporter: any ProgressReporter
    let owner: String
    let clock: MigrationClock
    let store: StateStore
    /// Set on the coordinator runner of a clustered migration (ClusterExecution.swift).
    let cluster: ClusterNodes?
    /// Set on a runner that works on one replica of a shard for the coordinator.
    let shardOf: ClusterHost?

    /// A lock whose holder wrote nothing for this long may be taken over (explicitly).
    package var staleLockSeconds = 60
    /// A lock mutex (see `withLockMutex`) this old was left by a killed run.
    package var mutexAbandonedSeconds = 10
    /// Cutoff: how far in the future T is placed; the bridge must exist before T.
    package var cutoffMarginSeconds = 3
    /// Fence: how long inserts that started before the bridge may still run.
    package var fenceSettleSeconds = 2.0
    /// Set when a failing slice dropped a broken bridge while others still ran.
    let bridgeDroppedEarly = OnceFlag()
    /// Backfill slices copied at once unless the migration says (`parallel N`).
    package var backfillParallel = defaultBackfillParallel
    /// Called at named points (`bridge.before`, `bridge.after`, `backfill.staged`,
    /// `backfill.moved`, `backfill.done`, `verify.after`, `cutover.before`,
    /// `cutover.renamed`); tests throw from it to simulate a crash there.
    package var faultHook: (@Sendable (String) throws -> Void)?

    package init(
        transport: any Transport, capabilities: Capabilities, database: String,
        reporter: any ProgressReporter, owner: String, clock: MigrationClock = .system,
        stateTransport: (any Transport)? = nil, cluster: ClusterNodes? = nil, shardOf: ClusterHost? = nil
    ) {
        self.transport = transport
        self.capabilities = capabilities
        self.database = database
        self.reporter = reporter
        self.owner = owner
        self.clock = clock
        self.cluster = cluster
        self.shardOf = shardOf
        self.store = StateStore(
            transport: stateTransport ?? transport, database: database, owner: owner, clock: clock, cluster: cluster?.info.name)
    }

    // MARK: - Strategy

    var timing: MigrationTiming {
        var t = MigrationTiming()
        t.cutoffMarginSeconds = cutoffMarginSeconds
        t.fenceSettleSeconds = fenceSettleSeconds
        return t
    }

    /// The strategy a migration uses, and why (the planner's choice).
    func strategy(for m: MigrationDef) -> (BackfillStrategy, String) { chooseStrategy(m, timing: timing) }

    func sqlFor(_ m: MigrationDef, catalog: Catalog? = nil) -> MigrationSQL {
        MigrationSQL(m, database: database, catalog: catalog, capabilities: capabilities)
    }

    // MARK: - Reading the server

    @discardableResult
    func run(_ sql: String) throws -> QueryResult { try transport.execute(Query(sql, settings: ddlSettings(sql))) }

    /// 18.x refuses LowCardinality columns in CREATE TABLE unless allowed per
    /// query; the tables mbg creates (new versions, stages, probes) copy the
    /// user's types, which the user's own table already had allowed.
    func ddlSettings(_ sql: String) -> [String: String] {
        guard !capabilities.modernSQL, sql.hasPrefix("CREATE TABLE") || sql.hasPrefix("CREATE MATERIALIZED VIEW") else { return [:] }
        return ["allow_experimental_low_cardinality_type": "1"]
    }

    func fault(_ point: String) throws { try faultHook?(point) }

    func serverNow() throws -> Int {
        return Int(try run(CatalogQueries.serverNow).scalar ?? "") ?? Int(clock.now())
    }

    /// Engines of the named tables that exist in `db`.
    func existing(_ db: String, _ names: [String]) throws -> [String: String] {
        let r = try run(CatalogQueries.tables(db, names))
        var out: [String: String] = [:]
        for row in r.rows where row.count >= 2 { if let n = row[0] { out[n] = row[1] ?? "" } }
        return out
    }

    func exists(_ db: String, _ name: String) throws -> Bool { try existing(db, [name])[name] != nil }

    struct Part { var name: String; var partition: String; var range: BlockRange; var rows: Int }

    func activeParts(_ db: String, _ table: String) throws -> [Part] {
        let r = try run(CatalogQueries.activeParts(db, table))
        return r.rows.compactMap { row in
            guard row.count >= 5, let n = row[0], let p = row[1], let lo = Int(row[2] ?? ""), let hi = Int(row[3] ?? "") else { return nil }
            return Part(name: n, partition: p, range: BlockRange(min: lo, max: hi), rows: Int(row[4] ?? "") ?? 0)
        }
    }

    enum Coverage { case inside, outside, mixed }

    func coverage(_ r: BlockRange, by ranges: [BlockRange]) -> Coverage {
        var covered = 0
        for f in ranges {
            let lo = max(f.min, r.min), hi = min(f.max, r.max)
            if lo <= hi { covered += hi - lo + 1 }
        }
        if covered == 0 { return .outside }
        // Fence ranges come from distinct parts, so they never overlap.
        return covered == r.max - r.min + 1 ? .inside : .mixed
    }

    func checksum(_ sql: String) throws -> (Int, String) {
        let r = try run(sql)
        let row = r.rows.first ?? []
        return (Int((row.first ?? "0") ?? "0") ?? 0, (row.count > 1 ? row[1] : nil) ?? "0")
    }

    /// Rows of an old part that are not in `target`: true when the insert that
    /// made the part did not pass through the bridge (it started before it).
    func reachedTarget(_ s: MigrationSQL, part: Part, source: String?, target: String) throws -> Bool {
        let r = try run(s.reachedCount(part: part.name, source: source, target: target))
        return (Int(r.scalar ?? "0") ?? 0) >= part.rows
    }

    // MARK: - Lock

    func acquireLock(_ m: MigrationDef, _ state: MigrationState, takeOver: Bool) throws {
        try withLockMutex(m) { try acquireLockUnlocked(m, try store.load(m.name), takeOver: takeOver) }
    }

    /// Makes the read-check-write of the lock row atomic. Without it two runs
    /// can both read "free", both write, and the earlier writer re-reads before
    /// the later one's row lands, so both go on. `CREATE TABLE` without
    /// `IF NOT EXISTS` succeeds for one caller only on the node that holds the
    /// state (on a cluster every run uses the coordinator's, so this is
    /// cluster-wide). The section lasts milliseconds; a mutex older than
    /// `mutexAbandonedSeconds` belongs to a run killed inside it.
    func withLockMutex<T>(_ m: MigrationDef, _ body: () throws -> T) throws -> T {
        let bare = StateTableSQL.mutexName(m.name)
        let name = qualified(database, bare)
        let state = store.transport
        let deadline = clock.now() + Double(mutexAbandonedSeconds * 2)
        while true {
            do {
                try state.run(StateTableSQL.createMutex(name))
                break
            } catch let TransportError.server(code, _, _, _) where code == 57 {  // TABLE_ALREADY_EXISTS
                let age = Int(try state.run(CatalogQueries.secondsSinceModified(database, bare)).scalar ?? "") ?? 0
                if age > mutexAbandonedSeconds {
                    reporter.warning("removing the lock mutex of \(m.name) left \(age) s ago by a killed run")
                    _ = try? state.run(StateTableSQL.dropMutex(name))
                } else if clock.now() > deadline {
                    throw MigrationError.locked(migration: m.name, owner: "?", since: "?", heartbeatAgeSeconds: 0, stale: false)
                } else {
                    clock.sleep(0.05)
                }
            }
        }
        defer { _ = try? state.run(StateTableSQL.dropMutex(name)) }
        return try body()
    }

    private func acquireLockUnlocked(_ m: MigrationDef, _ state: MigrationState, takeOver: Bool) throws {
        if let l = state.lock, l.owner != owner {
            let stale = state.lockAge > staleLockSeconds
            if let pid = Self.deadOwnerOnThisHost(l.owner) {
                // Killed (kill -9, a crash): no need to wait for its heartbeat to age.
                reporter.warning("taking over the lock of \(l.owner) (since \(l.since)): process \(pid) no longer exists on this host")
            } else {
                guard stale && takeOver else {
                    throw MigrationError.locked(migration: m.name, owner: l.owner, since: l.since, heartbeatAgeSeconds: state.lockAge, stale: stale)
                }
                reporter.warning("taking over the lock of \(l.owner) (since \(l.since), silent for \(state.lockAge) s)")
            }
        }
        let since = state.lock?.owner == owner ? state.lock!.since : ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: clock.now()))
        try store.write(m.name, "lock", encodeJSON(LockRecord(owner: owner, since: since)))
        // The mutex serialises writers; the re-read checks the row landed.
        let again = try store.load(m.name)
        if let l = again.lock, l.owner != owner {
            throw MigrationError.locked(migration: m.name, owner: l.owner, since: l.since, heartbeatAgeSeconds: again.lockAge, stale: false)
        }
    }

    /// The pid of a lock owner `host:pid` when `host` is this host and no
    /// process with that pid exists; nil otherwise (another host, or alive).
    static func deadOwnerOnThisHost(_ owner: String, host: String = ProcessInfo.processInfo.hostName) -> Int32? {
        guard let colon = owner.lastIndex(of: ":"), owner[..<colon] == host,
            let pid = Int32(owner[owner.index(after: colon)...]), pid > 0
        else { return nil }
        // Signal 0 checks existence only; EPERM means it exists under another user.
        return kill(pid, 0) == -1 && errno == ESRCH ? pid : nil
    }

    /// Rewrites the lock row so its `at` (the heartbeat) is current.
    func heartbeat(_ m: MigrationDef, _ state: MigrationState) throws {
        let since = state.lock?.since ?? "?"
        try store.write(m.name, "lock", encodeJSON(LockRecord(owner: owner, since: since)))
    }

    func releaseLock(_ m: MigrationDef) {
        try? store.write(m.name, "lock", "")
    }

    /// Runs `body` holding the migration's lock.
    func locked<T>(_ m: MigrationDef, takeOver: Bool, _ body: (MigrationState) throws -> T) throws -> T {
        try store.ensureTable()
        let state = try store.load(m.name)
        try acquireLock(m, state, takeOver: takeOver)
        defer { releaseLock(m) }
        return try body(try store.load(m.name))
    }

    func restartMerges(_ m: MigrationDef, _ state: MigrationState) throws {
        let stopped = state.mergesStopped
        guard !stopped.isEmpty else { return }
        // The table may be gone (dropped or renamed away): nothing to restart then.
        for t in stopped { _ = try? run(MigrationSQL.startMerges(t)) }
        try store.write(m.name, "merges_stopped", "")
    }
}

/// A flag set once and taken (cleared) by whoever acts on it.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    func take() -> Bool { lock.withLock { defer { value = false }; return value } }
}

