/// Timings a migration runs with; planning prints them, execution waits them out.
package struct MigrationTiming: Sendable, Hashable {
    /// Cutoff: how far in the future T is placed; the bridge must exist before T.
    package var cutoffMarginSeconds = 3
    /// Fence: how long inserts that started before the bridge may still run.
    package var fenceSettleSeconds = 2.0
    package init() {}
}

/// What planning knows about the server. Read before planning starts (a live
/// server, a dumped catalog, or the script itself in dry-run); planning never
/// reads anything else.
package struct PlanningInputs: Sendable {
    package var catalog: Catalog
    /// The database unqualified names resolve in (and the state table lives in).
    package var database: String
    /// What the state table records, per migration name; absent means nothing recorded.
    package var recorded: [String: MigrationState]
    /// Server time, unix seconds: where a new cutoff T would be placed.
    package var now: Int
    package var timing: MigrationTiming

    package init(
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
        catalog.hasTable(name, database: database ?? self.database)
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
package struct Planner: Sendable {
    package let inputs: PlanningInputs

    package init(_ inputs: PlanningInputs) { self.inputs = inputs }

    /// The plan of a session: plain tables first (a migration creates its own
    /// target), then migrations, then views (created after their sources).
    /// `only` restricts it to one migration, table or view by name.
    package func plan(
        tables: [TableDef], views: [ViewDef], migrations: [MigrationDef], only: String? = nil
    ) -> Plan {
        var plan = Plan()
        plan.warnings = forEachStep(tables: tables, views: views, migrations: migrations, only: only) { plan.steps.append($0) }
        return plan
    }

    /// The steps of `plan`, one at a time (a big plan need not be held whole);
    /// returns the plan's warnings.
    package func forEachStep(
        tables: [TableDef], views: [ViewDef], migrations: [MigrationDef], only: String? = nil,
        _ body: (PlanStep) throws -> Void
    ) rethrows -> [String] {
        let targets = Set(migrations.map(\.to.qualifiedName))
        let bridges = Set(migrations.map(\.bridge))
        let migrationOnly = only.flatMap { name in migrations.first { $0.name == name } }
        if migrationOnly == nil {
            for t in tables where !targets.contains(t.qualifiedName) && (only == nil || t.name == only || t.physicalName == only) {
                try body(tableStep(t))
            }
        }
        for m in migrations where only == nil || m.name == only {
            for step in migrationSteps(m) { try body(step) }
        }
        if migrationOnly == nil {
            for v in views where !bridges.contains(v.name) && (only == nil || only == v.name) {
                try body(viewStep(v))
            }
        }
        if !inputs.capabilities.atomicDatabase && migrations.contains(where: { $0.cutover == .swap }) {
            return ["this server has no EXCHANGE TABLES: swap cut-over uses rename with a short catch-up"]
        }
        return []
    }

    /// A declared table: create it, or nothing when it exists as declared, or
    /// blocked drift when it exists otherwise (mbg never recreates a table).
    func tableStep(_ t: TableDef) -> PlanStep {
        let name = t.physicalName
        guard let live = inputs.catalog.table(name, database: t.database) else {
            if t.cluster != nil || t.distributedBy != nil || t.isReplicated { return clusteredTableStep(t) }
            return PlanStep(.createTable, target: name, summary: "create table \(name)", sql: [createTableSQL(t)])
        }
        var drift = catalogTableDiff(declared: t, live: live.definition)
        if t.cluster != nil || t.distributedBy != nil || t.isReplicated { drift = clusteredDrift(t, live) }
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
    package func migrationSteps(_ m: MigrationDef) -> [PlanStep] {
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
            sql: [StateTableSQL.create(stateTable, cluster: s.cluster, database: database)], status: status(inputs.exists(StateTableSQL.tableName, in: database)),
            notes: ["append-only rows read with argMax(value, seq): no UPDATE/DELETE, works on 18.16"]))

        var create = PlanStep(.createTable, target: s.newName, summary: "create the new table \(s.new)",
                              sql: s.createNewTables(), status: status(inputs.exists(s.newName, in: db)))
        if let c = s.cluster { create.notes.append(clusterNote(c)) }
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
        let known = inputs.catalog.table(s.oldName, database: m.from.database ?? database)?.partitions ?? []
        let partitions = known.map(\.partitionID)
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
        let workers = m.throttle != nil ? 1 : (m.parallel ?? defaultBackfillParallel)
        let grouped = BackfillGroups.apply(to: m, clustered: s.cluster != nil)
        // Whole partitions: one stage per group, one INSERT fills it, each partition moves in whole.
        func groupSQL(_ g: Int, _ ps: [String], fill: String? = nil) -> [String] {
            let parts: [String]? = strategy == .fence ? ["<parts of these partitions inside the fence>"] : nil
            let filter = (fill ?? s.partitionsFilter(ps)) + " AND " + s.sliceFilter(strategy: strategy, cutoff: t, parts: parts, slice: nil)
            return [s.drop(s.stage(g)), s.createStage(g), s.fillStage(g, filter: filter)]
                + ps.map { s.moveStage(g, partition: $0)[0] } + [s.drop(s.stage(g))]
        }
        let groups = BackfillGroups.deal(known.isEmpty ? [0] : known.map(\.rows), workers: workers)
        let backfillSQL = before
            + (grouped
                ? groups.flatMap { g in groupSQL(g[0], g.map { shown[$0] }) }
                : shown.enumerated().flatMap { sliceSQL($0.offset, $0.element) })
            + after
        var bfNotes = [grouped
            ? "whole partitions in \(groups.count) group(s), \(min(workers, groups.count)) at a time: one INSERT fills a group's stage table, then each partition moves in whole; the group is recorded as staged before the first move, so a retried partition is never counted twice"
            : "each slice goes through its own stage table and is moved in whole: a retried slice is never counted twice; slices run \(workers) at a time"]
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
            let one = grouped ? groupSQL(0, ["<partition>"], fill: "_partition_id IN (<partitions of group n>)") : sliceSQL(0, "<partition>")
            let template = one.map { $0.replacingOccurrences(of: stage, with: String(stage.dropLast()) + "<n>") }
            backfill.repeated = PlanStep.Repetition(sql: before + template + after, partitions: shown)
        }
        if s.cluster != nil {
            steps += clusterBackfillSteps(m, s, backfill, strategy: strategy)
        } else {
            steps.append(backfill)
        }

        let vFilter = strategy == .cutoff ? "\(quoteIdentifier(m.cutoffColumn ?? "")) < toDateTime(\(t))" : nil
        steps.append(PlanStep(.verify, target: m.name, summary: "verify \(s.new) against \(s.old) per partition",
                              sql: [s.verifyQuery(s.old, image: true, filter: vFilter), s.verifyQuery(s.new, image: false, filter: vFilter)],
                              status: status(phase >= .verified),
                              notes: ["a mismatch stops the migration before cut-over and names the partitions"]))
        if s.cluster != nil { clusterVerifySteps(m, s, &steps, cutoff: t, done: phase >= .verified) }

        var cut = PlanStep(.cutover, target: m.name, summary: "cut over (\(m.cutover.rawValue)) — postponed until `cutover`",
                           status: status(phase >= .cutOver))
        switch m.cutover {
        case .swap where s.cluster != nil:
            cut.status = .blocked
            cut.notes.append(MigrationSQL.swapOnClusterRefusal)
        case .versioned:
            cut.notes.append("nothing is renamed: consumers move to \(s.newDistributed ?? s.new); the bridge forwards rows still written to \(s.oldDistributed ?? s.old) until finish")
        case .swap where m.transform != nil:
            cut.status = .blocked
            cut.notes.append(MigrationSQL.swapWithTransformRefusal)
        case .swap where capabilities.exchangeTables:
            cut.sql = [s.stopMerges(s.new), s.stopMerges(s.old), s.exchange,
                       "INSERT INTO \(s.straddleStage) … (rows of \(s.new)'s parts after its mark that \(s.old)'s parts after its mark hold fewer times), moved into \(s.old) by partition",
                       s.startMerges(s.new), s.startMerges(s.old)]
            cut.notes.append("atomic; afterwards the bridge copies inserts into \(s.old) (new layout) over to \(s.new) (old data), so rollback loses nothing")
            cut.notes.append("an insert that straddles the exchange writes only the table it opened: rows are counted on both sides after marks taken before it, once inserts begun before it ended, and only missing copies are made")
        case .swap:
            cut.sql = [s.stopMerges(s.old), s.drop(s.bridge, isView: true), s.renameSwap,
                       "INSERT INTO \(s.old) (…) SELECT … FROM \(s.new) WHERE _part IN (<parts written between the bridge drop and the rename>)"]
            cut.notes.append("ClickHouse \(capabilities.version) has no EXCHANGE TABLES and a view left on the name breaks inserts after RENAME: the bridge is dropped first and rows written meanwhile are caught up; inserts at the instant of the rename may fail and need a retry")
        }
        let carried = state.decode([DependentView].self, MigrationState.carriedViewsKey) ?? []
        let carry = s.viewCarry(inputs.catalog)
        if !carry.isEmpty && phase < .cutOver {
            cut.notes.append("views reading \(s.old): " + carry.views.map { v in
                v.kind == .materialized ? "\(v.name) (materialized, to \(v.target ?? "?"))" : "\(v.name) (view)"
            }.joined(separator: ", "))
            if let refusal = carry.refusal {
                cut.status = .blocked
                cut.notes.append(refusal)
            } else if m.cutover == .versioned {
                let tv = inputs.now + timing.cutoffMarginSeconds
                cut.sql += s.carryViews(carry, cutoff: tv)
                if let col = carry.timeColumn {
                    cut.notes.append("each materialized view gets a copy on \(s.new) taking \(col) >= T and is itself narrowed to \(col) < T (T = now + \(timing.cutoffMarginSeconds) s, chosen at cut-over, which returns after T): a row written to either version reaches the view's target once. Rows written directly to \(s.new) must have \(col) >= T: move writers after cut-over returns")
                }
                if carry.views.contains(where: { $0.kind == .plain }) {
                    cut.notes.append("plain views are re-pointed to \(s.new)")
                }
            }
        }
        steps.append(cut)

        let oldData = m.cutover == .swap ? s.new : s.old
        var finishSQL = s.cluster == nil ? [s.drop(s.bridge, isView: true)] : [s.dropEverywhere(s.bridge, isView: true)]
        var finishNotes: [String] = []
        // The originals cut-over narrowed (or will narrow) go with the bridge.
        let narrowed = phase >= .cutOver ? carried : carry.refusal == nil ? carry.materialized : []
        finishSQL += narrowed.map { s.drop($0.qualifiedName, isView: true) }
        if !narrowed.isEmpty {
            finishNotes.append("the narrowed original view(s) \(narrowed.map(\.name).joined(separator: ", ")) are dropped: their copies on \(s.new) carry on")
        }
        finishSQL += s.cluster == nil ? [s.drop(oldData)] : s.dropVersion(old: true)
        var finish = PlanStep(.finish, target: m.name, summary: "finish — postponed until `finish`: drop the bridge, then the old data \(oldData)",
                              sql: finishSQL, status: status(phase >= .finished), notes: finishNotes)
        // Views that will still read the old data when finish runs.
        let still = phase >= .cutOver
            ? inputs.catalog.views(reading: m.cutover == .swap ? s.newName : s.oldName, database: m.from.database ?? database,
                                   except: Set(["\(db).\(m.bridge)"] + narrowed.map { "\($0.database).\($0.name)" }))
            : carry.refusal == nil ? [] : carry.views
        if !still.isEmpty && finish.status != .done {
            finish.notes.append("\(oldData) is still read by \(still.map(\.name).joined(separator: ", ")): finish refuses to drop it; drop or move the view(s) first, or `finish \(m.name) keep`")
        }
        steps.append(finish)
        for i in steps.indices { steps[i].migration = m.name }
        return steps
    }
}
