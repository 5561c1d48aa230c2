extension MigrationRunner {
    /// What `apply` (and later `cutover`, `finish`) would do, step by step, with
    /// SQL, strategy and reasons; steps already true on the server are marked done.
    /// Reads only. Times and part lists decided at run time appear as placeholders.
    public func plan(_ m: MigrationDef, catalog: Catalog) throws -> [PlanStep] {
        let s = sqlFor(m, catalog: catalog)
        let db = m.to.database ?? database
        let stateExists = try store.exists()
        let state = try store.load(m.name)
        let have = try existing(db, [s.newName, m.bridge])
        let oldInCatalog = catalog.table(s.oldName, database: m.from.database ?? database) != nil
        let oldKnown = try oldInCatalog || exists(m.from.database ?? database, s.oldName)
        let (strategy, why) = state.strategy.map { ($0, "\($0.rawValue), recorded when the migration started") } ?? self.strategy(for: m)
        let phase = state.phase == .rolledBack ? .declared : state.phase
        func status(_ done: Bool) -> PlanStep.Status { done ? .done : .pending }
        var steps: [PlanStep] = []

        steps.append(PlanStep(
            action: "state_table", target: StateStore.tableName,
            summary: "create the state table \(store.table) (phases, slice progress, lock)",
            sql: [store.createSQL], status: status(stateExists),
            notes: ["append-only rows read with argMax(value, seq): no UPDATE/DELETE, works on 18.16"]))

        var create = PlanStep(action: "create_table", target: s.newName, summary: "create the new table \(s.new)",
                              sql: [s.createNewTable()], status: status(have[s.newName] != nil))
        if !oldKnown && !transport.isDryRun {
            create.status = .blocked
            create.notes.append("the old table \(s.old) does not exist")
        }
        steps.append(create)

        var bridgeNotes = ["strategy: " + why, "never POPULATE: rows before the bridge come from the backfill"]
        if !capabilities.modernSQL {
            bridgeNotes.append("ClickHouse \(capabilities.version): inserts overlapping CREATE MATERIALIZED VIEW can fail (code 60); writers must retry")
        }
        let t = try state.cutoff ?? (serverNow() + cutoffMarginSeconds)
        var bridgeSQL: [String] = []
        switch strategy {
        case .cutoff:
            bridgeSQL = [s.createBridge(cutoff: t)]
            bridgeNotes.append("T = \(t) is chosen when apply runs; the backfill waits until T + \(m.lateness) s")
        case .fence:
            bridgeSQL = [s.stopMerges(s.old), s.createBridge(cutoff: nil)]
            bridgeNotes.append("merges on \(s.old) stop until the backfill is done; parts of inserts that began before the bridge and did not reach it are added to the fence after \(fenceSettleSeconds) s")
        }
        steps.append(PlanStep(action: "create_bridge", target: m.bridge, summary: "create the bridge \(s.bridge) from \(s.old) to \(s.new)",
                              sql: bridgeSQL, status: status(have[m.bridge] != nil || phase >= .started), notes: bridgeNotes))

        // Backfill: one representative slice per partition known now.
        let partitions = catalog.table(s.oldName, database: m.from.database ?? database)?.partitions.map(\.partitionID) ?? []
        let shown = partitions.isEmpty ? ["<partition>"] : partitions
        var backfillSQL: [String] = []
        for (i, p) in shown.enumerated() {
            let slice = Slice(partition: p, index: 0, buckets: 1, rows: 0)
            let parts: [String]? = strategy == .fence ? ["<parts of \(p) inside the fence>"] : nil
            let filter = s.sliceFilter(strategy: strategy, cutoff: t, parts: parts, slice: slice)
            backfillSQL += [s.drop(s.stage(i)), s.createStage(i), s.fillStage(i, filter: filter),
                            s.checksum(of: s.image(filter: filter)), s.checksumTable(s.stage(i))]
            backfillSQL += s.moveStage(i, partition: p)
            backfillSQL.append(s.drop(s.stage(i)))
        }
        if strategy == .fence { backfillSQL.append(s.startMerges(s.old)) }
        var bfNotes = ["each slice goes through its own stage table, is checked (count and sum of cityHash64) against the old rows, then moved in whole: a retried slice is never counted twice"]
        if let slices = state.slices {
            let done = slices.filter { state.slice($0.id)?.state == .done }.count
            bfNotes.append("\(done) of \(slices.count) slice(s) done")
        }
        if let b = m.batch { bfNotes.append("partitions above \(b) rows are split into hash buckets") }
        if let th = m.throttle { bfNotes.append("throttled to \(th) rows/s") }
        steps.append(PlanStep(action: "backfill", target: s.newName, summary: "backfill \(s.new) from \(s.old) in slices",
                              sql: backfillSQL, status: status(phase >= .backfilled), notes: bfNotes))

        let vFilter = strategy == .cutoff ? "\(quoteIdentifier(m.cutoffColumn ?? "")) < toDateTime(\(t))" : nil
        steps.append(PlanStep(action: "verify", target: m.name, summary: "verify \(s.new) against \(s.old) per partition",
                              sql: [s.verifyQuery(s.old, image: true, filter: vFilter), s.verifyQuery(s.new, image: false, filter: vFilter)],
                              status: status(phase >= .verified),
                              notes: ["a mismatch stops the migration before cut-over and names the partitions"]))

        var cut = PlanStep(action: "cutover", target: m.name, summary: "cut over (\(m.cutover.rawValue)) — postponed until `cutover`",
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
        steps.append(PlanStep(action: "finish", target: m.name, summary: "finish — postponed until `finish`: drop the bridge, then the old data \(oldData)",
                              sql: [s.drop(s.bridge, isView: true), s.drop(oldData)], status: status(phase >= .finished)))
        return steps
    }
}
