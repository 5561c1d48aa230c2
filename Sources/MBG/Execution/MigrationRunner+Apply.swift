import Foundation

extension MigrationRunner {
    /// Creates the new table and the bridge, backfills and verifies; cuts over
    /// only when `cutover` is true. Safe to call again at any point.
    package func apply(_ m: MigrationDef, catalog: Catalog, cutover doCutover: Bool, takeOverLock: Bool) throws {
        let s = sqlFor(m, catalog: catalog)
        try locked(m, takeOver: takeOverLock) { initial in
            var state = initial
            if state.phase == .finished {
                reporter.info("\(m.name): already finished")
                return
            }
            if state.phase >= .verified && state.phase != .rolledBack {
                reporter.info("\(m.name): already \(state.phase.rawValue)")
            } else {
                if state.phase == .rolledBack { try store.write(m.name, "phase", MigrationPhase.declared.rawValue) }
                let report: VerificationReport
                do {
                    try start(m, s, &state)
                    try backfill(m, s, &state)
                    try fault("verify.before")
                    report = try verify(m, s, state)
                    guard report.ok else {
                        throw MigrationError.verificationMismatch(migration: m.name, partitions: report.mismatches)
                    }
                } catch let error {
                    // An injected fault stands for a killed process: no cleanup runs.
                    if case MigrationError.injectedFault = error { throw error }
                    secureWriters(m, s)
                    throw error
                }
                try store.write(m.name, "phase", MigrationPhase.verified.rawValue)
                if report.fullyCompared {
                    reporter.info("\(m.name): verified, \(report.rows.count) partition(s) match; ready to cut over")
                } else {
                    // The slices were each compared as they were copied; say plainly what was not.
                    for why in report.uncompared { reporter.warning("\(m.name): \(why)") }
                    reporter.info("\(m.name): \(report.notes.joined(separator: "; ")); ready to cut over")
                }
                try fault("verify.after")
                state = try store.load(m.name)
            }
            if doCutover && state.phase == .verified { try cutoverLocked(m, s, state) }
        }
    }

    // MARK: - started: new table + bridge

    func start(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState) throws {
        let (strategy, why) = self.strategy(for: m)
        let db = m.to.database ?? database
        guard try exists(m.from.database ?? database, s.oldName) else {
            throw MigrationError.inconsistent("the old table \(s.old) does not exist")
        }
        if cluster != nil && strategy == .fence && state.strategy == nil {
            throw MigrationError.unsupported(MigrationSQL.fenceOnClusterRefusal)
        }
        // ON CLUSTER … IF NOT EXISTS also converges a host that missed an earlier run.
        if try cluster != nil || !exists(db, s.newName) {
            for sql in s.createNewTables() { try run(sql) }
            reporter.info("created \(s.new)")
        }
        if state.strategy == nil {
            try store.write(m.name, [("strategy", strategy.rawValue), ("phase", MigrationPhase.declared.rawValue)])
            reporter.info("\(m.name): \(why)")
        }
        let strat = state.strategy ?? strategy
        if try !exists(db, m.bridge) {
            let shape = try proveBridge(s)
            switch strat {
            case .cutoff: try createCutoffBridge(m, s, shape)
            case .fence: try createFenceBridge(m, s, shape)
            }
        }
        if state.phase < .started {
            try store.write(m.name, "phase", MigrationPhase.started.rawValue)
        }
        state = try store.load(m.name)
        if strat == .fence && state.fence == nil { try finishFence(m, s, &state) }
    }

    /// The bridge's SELECT proven before the live table gets it: the view is made
    /// on a Null-engine copy of the old table into an empty copy of the new one,
    /// and one row of defaults is inserted, as a writer naming one column would.
    /// Returns the first shape the server accepts; leaves nothing behind. Throws
    /// `.unsupported` with the server's answers when no shape works.
    func proveBridge(_ s: MigrationSQL) throws -> BridgeShape {
        let other: BridgeShape = s.defaultBridgeShape == .copiedOnly ? .computedToo : .copiedOnly
        var shapes = [s.defaultBridgeShape]
        if s.createProbeBridge(shape: other) != s.createProbeBridge(shape: s.defaultBridgeShape) { shapes.append(other) }
        var refusals: [String] = []
        for shape in shapes {
            defer { for sql in s.dropProbe { _ = try? run(sql) } }
            do {
                for sql in s.dropProbe { try run(sql) }
                try run(s.createProbeSource())
                try run(s.createProbeTarget())
                try run(s.createProbeBridge(shape: shape))
                try run(s.probeInsert)
                let n = Int(try run(s.probeCount).scalar ?? "") ?? 0
                // A transform may filter the defaults row out; plain copies must pass it.
                if n == 1 || s.migration.transform != nil { return shape }
                refusals.append("the test row reached the copy of \(s.new) \(n) times, not once")
            } catch let e as TransportError where e.serverCode != nil {
                refusals.append(e.description)
            }
        }
        throw MigrationError.unsupported(
            "the server refuses the bridge \(s.bridge) from \(s.old) into \(s.new) on empty copies of both, so inserts into \(s.old) would fail through it: \(refusals.joined(separator: "; "))")
    }

    /// After `apply` stopped on an error: the live table's writers must keep
    /// working. A bridge the server no longer accepts (its target gone or
    /// changed) is dropped with everything the migration made, so a re-run
    /// starts over; a working bridge stays, so a re-run resumes exactly once.
    func secureWriters(_ m: MigrationDef, _ s: MigrationSQL) {
        guard (try? exists(m.to.database ?? database, m.bridge)) == true else { return }
        do {
            _ = try proveBridge(s)
        } catch MigrationError.unsupported(let why) {
            reporter.warning("\(why); dropping the bridge and what the migration made: apply again to start over")
            do {
                try dropCreated(m, s, try store.load(m.name))
            } catch {
                reporter.warning("could not drop \(s.bridge): \(error); drop it by hand (rollback) before writers fail")
            }
        } catch {
            // The server did not answer: nothing can be decided from here.
        }
    }

    func createCutoffBridge(_ m: MigrationDef, _ s: MigrationSQL, _ shape: BridgeShape) throws {
        for _ in 0..<3 {
            let t = try serverNow() + cutoffMarginSeconds
            try store.write(m.name, "cutoff", String(t))
            try fault("bridge.before")
            try run(s.createBridge(cutoff: t, shape: shape))
            warnOldServerBridge()
            try fault("bridge.after")
            // Rows with ts >= T must all pass through the bridge: it has to exist before T.
            if try serverNow() < t {
                reporter.info("bridge \(s.bridge) created; cutoff T = \(t)")
                return
            }
            reporter.warning("creating the bridge took past T = \(t); choosing a later T")
            try run(s.dropEverywhere(s.bridge, isView: true))
        }
        throw MigrationError.inconsistent("could not create the bridge before the cutoff time three times; raise cutoffMarginSeconds")
    }

    func warnOldServerBridge() {
        if !capabilities.modernSQL {
            reporter.warning("on ClickHouse \(capabilities.version) an INSERT that overlaps CREATE MATERIALIZED VIEW can fail (code 60) and write nothing: writers must retry failed inserts")
        }
    }

    func createFenceBridge(_ m: MigrationDef, _ s: MigrationSQL, _ shape: BridgeShape) throws {
        let oldDB = m.from.database ?? database
        // Merges would fold pre-bridge parts into post-bridge ones (and on 26.x
        // `_block_number` of a merged part becomes the part's minimum), so they
        // stop until the backfill is done.
        try run(s.stopMerges(s.old))
        try store.write(m.name, "merges_stopped", encodeJSON([s.old]))
        let parts = try activeParts(oldDB, s.oldName)
        let ranges = Dictionary(grouping: parts, by: \.partition).mapValues { $0.map(\.range) }
        try store.write(m.name, "fence_start", encodeJSON(ranges))
        try fault("bridge.before")
        try run(s.createBridge(cutoff: nil, shape: shape))
        warnOldServerBridge()
        reporter.info("bridge \(s.bridge) created; fence on \(parts.count) part(s)")
        try fault("bridge.after")
    }

    /// Fence: after inserts that began before the bridge had time to finish, the
    /// parts they made are either forwarded (in the new table) or not (copied).
    func finishFence(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState) throws {
        let oldDB = m.from.database ?? database
        guard let start = state.fenceStart else {
            throw MigrationError.inconsistent("the bridge \(s.bridge) exists but no fence was recorded; roll back and apply again")
        }
        clock.sleep(fenceSettleSeconds)
        var fence = start
        for part in try activeParts(oldDB, s.oldName) {
            switch coverage(part.range, by: start[part.partition] ?? []) {
            case .inside: continue
            case .mixed:
                throw MigrationError.inconsistent("part \(part.name) of \(s.old) merged rows from before and after the bridge (merges restarted, e.g. by a server restart); roll back and apply again")
            case .outside:
                if try !reachedTarget(s, part: part, source: nil, target: s.new) {
                    fence[part.partition, default: []].append(part.range)
                    reporter.info("part \(part.name) was written by an insert that began before the bridge: copied by the backfill")
                }
            }
        }
        try store.write(m.name, "fence", encodeJSON(fence))
        state = try store.load(m.name)
    }

    // MARK: - backfilled

    func strategyFilter(_ s: MigrationSQL, _ state: MigrationState, partition: String?, parts cached: [Part]? = nil) throws -> String {
        let strat = state.strategy ?? .fence
        switch strat {
        case .cutoff: return s.sliceFilter(strategy: .cutoff, cutoff: state.cutoff, parts: nil, slice: nil)
        case .fence:
            let fence = state.fence ?? [:]
            let oldDB = s.migration.from.database ?? database
            var names: [String] = []
            for part in try cached ?? activeParts(oldDB, s.oldName) where partition == nil || part.partition == partition {
                switch coverage(part.range, by: fence[part.partition] ?? []) {
                case .inside: names.append(part.name)
                case .outside: continue
                case .mixed:
                    throw MigrationError.inconsistent("part \(part.name) of \(s.old) mixes fenced and bridged rows (merges ran during the backfill); roll back and apply again")
                }
            }
            return s.sliceFilter(strategy: .fence, cutoff: nil, parts: names, slice: nil)
        }
    }

    func backfill(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState) throws {
        if state.phase >= .backfilled { return }
        if let cluster { return try clusterBackfill(m, s, &state, cluster) }
        if state.strategy == .cutoff, let t = state.cutoff {
            // No row with ts < T may still be on its way once the backfill reads.
            let until = t + m.lateness + 1
            var now = try serverNow()
            if now < until { reporter.info("waiting \(until - now) s for T + lateness to pass") }
            while now < until {
                clock.sleep(Double(until - now))
                now = try serverNow()
            }
        }
        var slices = state.slices
        if slices == nil {
            let filter = try strategyFilter(s, state, partition: nil)
            let r = try run(s.partitionCounts(filter: filter))
            let cap = min(m.batch ?? Int.max, m.throttle ?? Int.max)
            var list: [Slice] = []
            for row in r.rows {
                guard let p = row.first ?? nil, let n = Int((row.count > 1 ? row[1] : nil) ?? "") else { continue }
                let buckets = cap == Int.max ? 1 : max(1, (n + cap - 1) / max(cap, 1))
                for i in 0..<buckets { list.append(Slice(partition: p, index: i, buckets: buckets, rows: buckets == 1 ? n : n / buckets)) }
            }
            try store.write(m.name, [("slices", encodeJSON(list)), ("backfill_started", String(try serverNow()))])
            slices = list
            state = try store.load(m.name)
        }
        let all = slices ?? []
        let total = all.reduce(0) { $0 + $1.rows }
        var copied = all.reduce(0) { $0 + (state.slice($1.id)?.state == .done ? (state.slice($1.id)?.rows ?? 0) : 0) }
        let started = clock.now()
        var copiedThisRun = 0
        // Merges are stopped for the fence, so the part list holds for the whole run.
        let parts = state.strategy == .fence ? try activeParts(m.from.database ?? database, s.oldName) : nil
        // Stage tables an interrupted run left behind: listed once, not probed per slice.
        let db = m.to.database ?? database
        let leftovers = Set(
            try run(CatalogQueries.tables(db, prefix: s.stagePrefix))
                .rows.compactMap { $0.first ?? nil })
        // A run killed between recording a slice done and dropping its stage left the stage.
        for (index, slice) in all.enumerated() where state.slice(slice.id)?.state == .done && leftovers.contains(s.stageName(index)) {
            try run(s.drop(s.stage(index)))
        }
        for (index, slice) in all.enumerated() where state.slice(slice.id)?.state != .done {
            let rows = try copySlice(m, s, state, slice, index: index, parts: parts, leftovers: leftovers)
            copied += rows
            copiedThisRun += rows
            var elapsed = max(clock.now() - started, 0.001)
            if let limit = m.throttle, limit > 0 {
                // Sleep off any lead so the average stays at the limit.
                let due = Double(copiedThisRun) / Double(limit)
                if due > elapsed { clock.sleep(due - elapsed) }
                elapsed = max(clock.now() - started, 0.001)
            }
            reporter.progress("backfill \(m.name)", done: copied, total: max(total, copied), rowsPerSecond: Double(copiedThisRun) / elapsed)
        }
        try fault("backfill.done")
        try restartMerges(m, state)
        try store.write(m.name, "phase", MigrationPhase.backfilled.rawValue)
        state = try store.load(m.name)
        reporter.info("\(m.name): backfilled \(copied) rows in \(all.count) slice(s)")
    }

    /// One slice, atomically: fill a stage table, check it against the old rows,
    /// record it as staged, move its partitions into the new table, record done.
    func copySlice(
        _ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState, _ slice: Slice, index: Int, parts: [Part]?,
        leftovers: Set<String>
    ) throws -> Int {
        let db = m.to.database ?? database
        let stageName = s.stageName(index)
        var record = state.slice(slice.id)
        let stageExists = try record?.state == .staged && exists(db, stageName)
        if record?.state == .staged && !stageExists {
            // Stage gone after the move completed: only the final record was missing.
            try store.write(m.name, "slice/" + slice.id, encodeJSON(SliceRecord(state: .done, rows: record!.rows, checksum: record!.checksum)))
            return record!.rows
        }
        let resumingStaged = record?.state == .staged
        if !resumingStaged {
            record = nil
            if leftovers.contains(stageName) { try run(s.drop(s.stage(index))) }  // from an interrupted slice
            try run(s.createStage(index))
            var filter = try strategyFilter(s, state, partition: slice.partition, parts: parts)
            filter = "_partition_id = \(quoteString(slice.partition)) AND " + filter
            if slice.buckets > 1 { filter += " AND \(s.rowHash) % \(slice.buckets) = \(slice.index)" }
            // The slice's rows can no longer change (the strategy's filter fences
            // them), so the old side's checksum is read while the stage fills.
            let oldSide = Concurrent(transport, s.checksum(of: s.image(filter: filter)))
            let fill = Result { try run(s.fillStage(index, filter: filter)) }
            let oldResult = oldSide.wait()
            _ = try fill.get()
            let old = try oldResult.get()
            let stage = try run(s.checksumTable(s.stage(index)))
            func pair(_ r: QueryResult, _ fallback: (Int, String)) -> (Int, String) {
                guard let row = r.rows.first, row.count >= 2 else { return fallback }
                return (Int(row[0] ?? "") ?? fallback.0, row[1] ?? fallback.1)
            }
            let (oldRows, oldSum) = pair(old, (0, "0"))
            let (stageRows, stageSum) = pair(stage, (-1, "?"))
            guard oldRows == stageRows && oldSum == stageSum else {
                try run(s.drop(s.stage(index)))
                throw MigrationError.verificationMismatch(migration: m.name, partitions: [
                    PartitionMismatch(partition: slice.id, oldRows: oldRows, newRows: stageRows, oldChecksum: oldSum, newChecksum: stageSum)
                ])
            }
            record = SliceRecord(state: .staged, rows: stageRows, checksum: stageSum)
            try store.write(m.name, "slice/" + slice.id, encodeJSON(record!))
            try fault("backfill.staged")
        }
        // Same partitioning: the stage holds exactly the slice's partition.
        let samePartitioning = m.from.partitionBy == m.to.partitionBy && !resumingStaged
        let stageParts = samePartitioning ? (record!.rows > 0 ? [slice.partition] : []) : Set(try activeParts(db, stageName).map(\.partition)).sorted()
        for part in stageParts {
            if resumingStaged && !capabilities.modernSQL {
                // 18.x copies then drops: a crash between the two leaves rows in both.
                let n = Int(try run(s.stagePartitionCount(index, partition: part)).scalar ?? "0") ?? 0
                let hit = try run(s.stagePartitionReached(index, partition: part))
                if (Int(hit.scalar ?? "0") ?? 0) >= n && n > 0 {
                    try run(s.dropStagePartition(index, partition: part))
                    continue
                }
            }
            for sql in s.moveStage(index, partition: part) { try run(sql) }
            try fault("backfill.moved")
        }
        let lock = LockRecord(owner: owner, since: state.lock?.since ?? "?")
        try store.write(m.name, [
            ("slice/" + slice.id, encodeJSON(SliceRecord(state: .done, rows: record!.rows, checksum: record!.checksum))),
            ("lock", encodeJSON(lock)),  // heartbeat
        ])
        try run(s.drop(s.stage(index)))
        return record!.rows
    }
}
