/// Timings a migration runs with; planning prints them, execution waits them out.
public struct MigrationTiming: Sendable, Hashable {
    /// Cutoff: how far in the future T is placed; the bridge must exist before T.
    public var cutoffMarginSeconds = 3
    /// Fence: how long inserts that started before the bridge may still run.
    public var fenceSettleSeconds = 2.0
    public init() {}
}

/// What planning knows about the server. Read before planning starts (a live
/// server, a dumped catalog, or the script itself in dry-run); planning never
/// reads anything else.
public struct PlanningInputs: Sendable {
    public var catalog: Catalog
    /// The database unqualified names resolve in (and the state table lives in).
    public var database: String
    /// What the state table records, per migration name; absent means nothing recorded.
    public var recorded: [String: MigrationState]
    /// Server time, unix seconds: where a new cutoff T would be placed.
    public var now: Int
    public var timing: MigrationTiming

    public init(
        catalog: Catalog, database: String? = nil, recorded: [String: MigrationState] = [:], now: Int,
        timing: MigrationTiming = MigrationTiming()
    ) {
        self.catalog = catalog
        self.database = database ?? catalog.database
        self.recorded = recorded
        self.now = now
        self.timing = timing
    }

    var capabilities: Capabilities { catalog.capabilities }

    func exists(_ name: String, in database: String?) -> Bool {
        catalog.table(name, database: database ?? self.database) != nil
    }
}

/// The strategy a migration uses, and why.
///
/// Cutoff is chosen only when the migration names a cutoff column: a time
/// column in the sorting or partition key is not proof that rows arrive in
/// time order (backdated or replayed rows with `ts < T` arriving after their
/// slice was copied would be lost), so that promise must come from the user.
/// Otherwise the fence, which needs nothing from the data.
func chooseStrategy(_ m: MigrationDef, timing: MigrationTiming) -> (BackfillStrategy, String) {
    if let forced = m.strategy {
        if forced == .cutoff && m.cutoffColumn == nil {
            return (.fence, "cutoff was asked for but no cutoff column is declared; using the fence")
        }
        return (forced, "\(forced.rawValue), as the migration declares")
    }
    if let col = m.cutoffColumn {
        return (.cutoff, "cutoff on \(col): bridge takes \(col) >= T, backfill \(col) < T, T = now + \(timing.cutoffMarginSeconds) s, backfill starts after T + \(m.lateness) s lateness")
    }
    var why = "fence: no cutoff column declared; merges on the old table stop, the part list before the bridge (plus parts of inserts that started before the bridge and did not reach it) is copied with `_part IN (…)`"
    let keyText = (m.from.effectiveOrderBy + [m.from.partitionBy ?? ""]).joined(separator: " ")
    if let c = m.from.columns.first(where: { $0.type.hasPrefix("DateTime") && keyText.contains($0.name) }) {
        why += "; \(c.name) (\(c.type)) is in the old key: if rows always arrive within a lateness margin of it, `cutoff \(c.name) lateness 5m` avoids stopping merges"
    }
    return (.fence, why)
}

extension MigrationSQL {
    /// The SQL of `m`, with the old table's columns from the catalog when the
    /// declaration does not list them.
    init(_ m: MigrationDef, database: String, catalog: Catalog?, capabilities: Capabilities) {
        var oldColumns = m.from.columns
        if oldColumns.isEmpty, let t = catalog?.table(m.from.physicalName, database: m.from.database ?? database) {
            oldColumns = t.definition.columns
        }
        self.init(m, database: database, capabilities: capabilities, oldColumns: oldColumns)
    }
}

/// Turns declarations and what is known of the server into steps. Pure: it
/// touches no server, so `plan`, `plan --catalog`, dry-run and `apply` all see
/// the same steps for the same inputs.
public struct Planner: Sendable {
    public let inputs: PlanningInputs

    public init(_ inputs: PlanningInputs) { self.inputs = inputs }

    /// The plan of a session: plain tables first (a migration creates its own
    /// target), then migrations, then views (created after their sources).
    /// `only` restricts it to one migration, table or view by name.
    public func plan(
        tables: [TableDef], views: [ViewDef], migrations: [MigrationDef], only: String? = nil
    ) -> Plan {
        var plan = Plan()
        let targets = Set(migrations.map(\.to.qualifiedName))
        let bridges = Set(migrations.map(\.bridge))
        let migrationOnly = only.flatMap { name in migrations.first { $0.name == name } }
        if migrationOnly == nil {
            for t in tables where !targets.contains(t.qualifiedName) && (only == nil || t.name == only || t.physicalName == only) {
                plan.steps.append(tableStep(t))
            }
        }
        for m in migrations where only == nil || m.name == only {
            plan.steps += migrationSteps(m)
        }
        if migrationOnly == nil {
            for v in views where !bridges.contains(v.name) && (only == nil || only == v.name) {
                plan.steps.append(viewStep(v))
            }
        }
        if !inputs.capabilities.atomicDatabase && migrations.contains(where: { $0.cutover == .swap }) {
            plan.warnings.append("this server has no EXCHANGE TABLES: swap cut-over uses rename with a short catch-up")
        }
        return plan
    }

    /// A declared table: create it, or nothing when it exists as declared, or
    /// blocked drift when it exists otherwise (mbg never recreates a table).
    func tableStep(_ t: TableDef) -> PlanStep {
        guard let live = inputs.catalog.table(t.physicalName, database: t.database) else {
            return PlanStep(.createTable, target: t.physicalName, summary: "create table \(t.physicalName)", sql: [createTableSQL(t)])
        }
        let drift = catalogTableDiff(declared: t, live: live.definition)
        if drift.isEmpty {
            return PlanStep(.createTable, target: t.physicalName, summary: "table \(t.physicalName) exists as declared", status: .done)
        }
        return PlanStep(
            .drift, target: t.physicalName,
            summary: "table \(t.physicalName) differs from its declaration; mbg will not recreate it", status: .blocked,
            notes: drift + ["declare a new version and migrate to it to change the layout"])
    }

    func viewStep(_ v: ViewDef) -> PlanStep {
        PlanStep(
            .createView, target: v.name, summary: "create materialized view \(v.name) to \(v.target)",
            sql: [createViewSQL(v)], status: inputs.exists(v.name, in: v.database) ? .done : .pending)
    }

    /// What `apply` (and later `cutover`, `finish`) would do for one migration,
    /// with SQL, strategy and reasons; steps already true on the server are
    /// marked done. Times and part lists decided at run time appear as placeholders.
    public func migrationSteps(_ m: MigrationDef) -> [PlanStep] {
        let database = inputs.database
        let capabilities = inputs.capabilities
        let timing = inputs.timing
        let s = MigrationSQL(m, database: database, catalog: inputs.catalog, capabilities: capabilities)
        let db = m.to.database ?? database
        let state = inputs.recorded[m.name] ?? MigrationState()
        let stateTable = qualified(database, StateTableSQL.tableName)
        let (strategy, why) = state.strategy.map { ($0, "\($0.rawValue), recorded when the migration started") } ?? chooseStrategy(m, timing: timing)
        let phase = state.phase == .rolledBack ? .declared : state.phase
        func status(_ done: Bool) -> PlanStep.Status { done ? .done : .pending }
        var steps: [PlanStep] = []

        steps.append(PlanStep(
            .stateTable, target: StateTableSQL.tableName,
            summary: "create the state table \(stateTable) (phases, slice progress, lock)",
            sql: [StateTableSQL.create(stateTable)], status: status(inputs.exists(StateTableSQL.tableName, in: database)),
            notes: ["append-only rows read with argMax(value, seq): no UPDATE/DELETE, works on 18.16"]))

        var create = PlanStep(.createTable, target: s.newName, summary: "create the new table \(s.new)",
                              sql: [s.createNewTable()], status: status(inputs.exists(s.newName, in: db)))
        if !inputs.exists(s.oldName, in: m.from.database ?? database) {
            create.status = .blocked
            create.notes.append("the old table \(s.old) does not exist")
        }
        steps.append(create)

        var bridgeNotes = ["strategy: " + why, "never POPULATE: rows before the bridge come from the backfill"]
        if !capabilities.modernSQL {
            bridgeNotes.append("ClickHouse \(capabilities.version): inserts overlapping CREATE MATERIALIZED VIEW can fail (code 60); writers must retry")
        }
        let t = state.cutoff ?? (inputs.now + timing.cutoffMarginSeconds)
        var bridgeSQL: [String] = []
        switch strategy {
        case .cutoff:
            bridgeSQL = [s.createBridge(cutoff: t)]
            bridgeNotes.append("T = \(t) is chosen when apply runs; the backfill waits until T + \(m.lateness) s")
        case .fence:
            bridgeSQL = [s.stopMerges(s.old), s.createBridge(cutoff: nil)]
            bridgeNotes.append("merges on \(s.old) stop until the backfill is done; parts of inserts that began before the bridge and did not reach it are added to the fence after \(timing.fenceSettleSeconds) s")
        }
        steps.append(PlanStep(.createBridge, target: m.bridge, summary: "create the bridge \(s.bridge) from \(s.old) to \(s.new)",
                              sql: bridgeSQL, status: status(inputs.exists(m.bridge, in: db) || phase >= .started), notes: bridgeNotes))

        // Backfill: one representative slice per partition known now.
        let partitions = inputs.catalog.table(s.oldName, database: m.from.database ?? database)?.partitions.map(\.partitionID) ?? []
        let shown = partitions.isEmpty ? ["<partition>"] : partitions
        func sliceSQL(_ i: Int, _ p: String) -> [String] {
            let slice = Slice(partition: p, index: 0, buckets: 1, rows: 0)
            let parts: [String]? = strategy == .fence ? ["<parts of \(p) inside the fence>"] : nil
            let filter = s.sliceFilter(strategy: strategy, cutoff: t, parts: parts, slice: slice)
            return [s.drop(s.stage(i)), s.createStage(i), s.fillStage(i, filter: filter)]
                + s.moveStage(i, partition: p) + [s.drop(s.stage(i))]
        }
        // Merges on the new table wait until verification has read the moved parts.
        let before = [s.stopMerges(s.new)]
        // Restarted once verification has read both sides (`apply` does both).
        let after = (strategy == .fence ? [s.startMerges(s.old)] : []) + [s.startMerges(s.new)]
        let backfillSQL = before + shown.enumerated().flatMap { sliceSQL($0.offset, $0.element) } + after
        var bfNotes = ["each slice goes through its own stage table and is moved in whole: a retried slice is never counted twice; slices run \(m.throttle != nil ? 1 : (m.parallel ?? defaultBackfillParallel)) at a time"]
        if let slices = state.slices {
            let done = slices.filter { state.slice($0.id)?.state == .done }.count
            bfNotes.append("\(done) of \(slices.count) slice(s) done")
        }
        if let b = m.batch { bfNotes.append("partitions above \(b) rows are split into hash buckets") }
        if let th = m.throttle { bfNotes.append("throttled to \(th) rows/s") }
        var backfill = PlanStep(.backfill, target: s.newName, summary: "backfill \(s.new) from \(s.old) in slices",
                                sql: backfillSQL, status: status(phase >= .backfilled), notes: bfNotes)
        if shown.count > 1 {
            // One slice's statements stand for all: a table of 120 partitions is not 900 lines of plan.
            let stage = s.stageName(0)
            let template = sliceSQL(0, "<partition>").map { $0.replacingOccurrences(of: stage, with: String(stage.dropLast()) + "<n>") }
            backfill.repeated = PlanStep.Repetition(sql: before + template + after, partitions: shown)
        }
        steps.append(backfill)

        let vFilter = strategy == .cutoff ? "\(quoteIdentifier(m.cutoffColumn ?? "")) < toDateTime(\(t))" : nil
        steps.append(PlanStep(.verify, target: m.name, summary: "verify \(s.new) against \(s.old) per partition",
                              sql: [s.verifyQuery(s.old, image: true, filter: vFilter), s.verifyQuery(s.new, image: false, filter: vFilter)],
                              status: status(phase >= .verified),
                              notes: ["a mismatch stops the migration before cut-over and names the partitions"]))

        var cut = PlanStep(.cutover, target: m.name, summary: "cut over (\(m.cutover.rawValue)) — postponed until `cutover`",
                           status: status(phase >= .cutOver))
        switch m.cutover {
        case .versioned:
            cut.notes.append("nothing is renamed: consumers move to \(s.new); the bridge forwards rows still written to \(s.old) until finish")
        case .swap where m.transform != nil:
            cut.status = .blocked
            cut.notes.append("swap needs the bridge to run backwards after the switch; a transform cannot: use versioned")
        case .swap where capabilities.exchangeTables:
            cut.sql = [s.exchange]
            cut.notes.append("atomic; afterwards the bridge copies inserts into \(s.old) (new layout) over to \(s.new) (old data), so rollback loses nothing")
        case .swap:
            cut.sql = [s.stopMerges(s.old), s.drop(s.bridge, isView: true), s.renameSwap,
                       "INSERT INTO \(s.old) (…) SELECT … FROM \(s.new) WHERE _part IN (<parts written between the bridge drop and the rename>)"]
            cut.notes.append("ClickHouse \(capabilities.version) has no EXCHANGE TABLES and a view left on the name breaks inserts after RENAME: the bridge is dropped first and rows written meanwhile are caught up; inserts at the instant of the rename may fail and need a retry")
        }
        steps.append(cut)

        let oldData = m.cutover == .swap ? s.new : s.old
        steps.append(PlanStep(.finish, target: m.name, summary: "finish — postponed until `finish`: drop the bridge, then the old data \(oldData)",
                              sql: [s.drop(s.bridge, isView: true), s.drop(oldData)], status: status(phase >= .finished)))
        for i in steps.indices { steps[i].migration = m.name }
        return steps
    }
}
