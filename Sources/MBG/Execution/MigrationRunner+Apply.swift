import Foundation

extension MigrationRunner {
    /// Creates the new table and the bridge, backfills and verifies; cuts over
    /// only when `cutover` is true. Safe to call again at any point.
    package func apply(_ m: MigrationDef, catalog: Catalog, cutover doCutover: Bool, takeOverLock: Bool) throws {
        // Refused before anything is created: the backfill would be for nothing.
        if m.cutover == .swap && m.transform != nil { throw MigrationError.unsupported(MigrationSQL.swapWithTransformRefusal) }
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
                    // Held for the backfill and its verification only: a live table
                    // must not go on without merges after apply, whatever the outcome.
                    try restartMerges(m, try store.load(m.name))
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
                if let sql = s.removeProbeTTL { try run(sql) }
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
    /// `early`: other slices still run, so only the bridge is dropped now; the
    /// rest goes when apply's own cleanup calls again.
    func secureWriters(_ m: MigrationDef, _ s: MigrationSQL, early: Bool = false) {
        guard (try? exists(m.to.database ?? database, m.bridge)) == true else {
            if !early && bridgeDroppedEarly.take() {
                do { try dropCreated(m, s, try store.load(m.name)) } catch { reporter.warning("could not drop what \(m.name) made: \(error); roll back") }
            }
            return
        }
        do {
            _ = try proveBridge(s)
        } catch MigrationError.unsupported(let why) {
            if early {
                reporter.warning("\(why); dropping the bridge now")
                if (try? run(s.drop(s.bridge, isView: true))) != nil { bridgeDroppedEarly.set() }
                return
            }
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
        // When the bridge existed (server time): inserts older than this may still be on their way.
        try store.write(m.name, "bridge_at", String(try serverNow()))
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
        // Every insert that began before the bridge ends before the parts are
        // listed: one caught between writing its part and finishing would
        // otherwise write a part after the list (never copied).
        try waitForInsertsInFlight(into: s, reason: "so that the inserts begun before the bridge have written their parts")
        var fence = start
        // Every insert that had written a part listed here has ended once those
        // running now have: a part it pushed through the bridge is in the new
        // table by then, so "not there" means the bridge never saw it.
        let parts = try activeParts(oldDB, s.oldName)
        try waitForInsertsInFlight(into: s, reason: "before telling which parts of \(s.old) the bridge forwarded")
        for part in parts {
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

    /// Waits until every insert into the old table that is running now has
    /// ended (by query id: later inserts do not hold it up). A part listed
    /// before this call then belongs to an insert that is over, with all its
    /// pushes through the bridge done.
    func waitForInsertsInFlight(into s: MigrationSQL, reason: String) throws {
        let ids = try run(CatalogQueries.insertsInFlight(into: s.oldName)).rows.compactMap { $0.first ?? nil }
        if ids.isEmpty { return }
        let start = clock.now()
        var said = false
        while Int(try run(CatalogQueries.stillRunning(ids)).scalar ?? "0") ?? 0 > 0 {
            if clock.now() > start + 300 {
                throw MigrationError.inconsistent("\(ids.count) insert(s) into \(s.old) still running after 300 s (\(reason)); re-run once they have ended")
            }
            if !said && clock.now() > start + 1 {
                reporter.info("waiting for \(ids.count) insert(s) into \(s.old) in flight to end, \(reason)")
                said = true
            }
            clock.sleep(0.05)
        }
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

    /// No row with ts < T may still be on its way once the backfill reads:
    /// waits (by the server's clock) until T + lateness has passed.
    func waitForLateness(cutoff t: Int, _ m: MigrationDef) throws {
        let until = t + m.lateness + 1
        var now = try serverNow()
        if now < until { reporter.info("waiting \(until - now) s for T + lateness to pass") }
        while now < until {
            clock.sleep(Double(until - now))
            now = try serverNow()
        }
    }

    func backfill(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState) throws {
        if state.phase >= .backfilled { return }
        if let cluster { return try clusterBackfill(m, s, &state, cluster) }
        if state.strategy == .cutoff, let t = state.cutoff { try waitForLateness(cutoff: t, m) }
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
        let db = m.to.database ?? database
        // Merges on the new table wait until verification has read the parts the
        // moves made; on the old one they are stopped already for the fence.
        if !state.mergesStopped.contains(s.new) {
            try run(s.stopMerges(s.new))
            try store.write(m.name, "merges_stopped", encodeJSON(state.mergesStopped + [s.new]))
            state = try store.load(m.name)
        }
        // Merges are stopped for the fence, so the part list holds for the whole run.
        let parts = state.strategy == .fence ? try activeParts(m.from.database ?? database, s.oldName) : nil
        // Stage tables an interrupted run left behind: listed once, not probed per slice.
        let leftovers = Set(
            try run(CatalogQueries.tables(db, prefix: s.stagePrefix))
                .rows.compactMap { $0.first ?? nil })
        // A run killed between recording its slices done and dropping their stage
        // left the stage: dropped, as is any stage no staged slice still needs.
        let needed = Set(all.enumerated().compactMap { index, slice -> String? in
            guard let r = state.slice(slice.id), r.state == .staged else { return nil }
            return s.stageName(r.stage ?? index)
        })
        for (index, slice) in all.enumerated() where state.slice(slice.id)?.state == .done && leftovers.contains(s.stageName(index)) && !needed.contains(s.stageName(index)) {
            try run(s.drop(s.stage(index)))
        }
        let pending = all.enumerated().filter { state.slice($0.element.id)?.state != .done }
        // A throttle paces one slice at a time (exact); otherwise slices overlap,
        // each filling while another is recorded and moved.
        let threads = try backfillThreads(m, s, state, parts: parts)
        var workers = m.throttle != nil ? 1 : max(1, min(m.parallel ?? backfillParallel, pending.count, threads ?? Int.max))
        let progress = BackfillProgress(
            copied: all.reduce(0) { $0 + (state.slice($1.id)?.state == .done ? (state.slice($1.id)?.rows ?? 0) : 0) },
            started: clock.now())
        let moves = NSLock()
        let snapshot = state
        if BackfillGroups.apply(to: m, clustered: false) && all.allSatisfy({ $0.buckets == 1 }) {
            // Slices staged in a shared stage finish there; the rest are dealt into groups.
            var units: [BackfillUnit] = []
            let staged = pending.filter { state.slice($0.element.id)?.state == .staged }
            for (stage, items) in Dictionary(grouping: staged, by: { state.slice($0.element.id)?.stage ?? $0.offset }) {
                units.append(BackfillUnit(stage: stage, items: items.map { ($0.offset, $0.element) }, resumed: true))
            }
            let fresh = pending.filter { state.slice($0.element.id)?.state != .staged }
            for g in BackfillGroups.deal(fresh.map(\.element.rows), workers: workers) {
                units.append(BackfillUnit(stage: fresh[g[0]].offset, items: g.map { (fresh[$0].offset, fresh[$0].element) }, resumed: false))
            }
            units.sort { $0.stage < $1.stage }
            workers = max(1, min(workers, units.count))
            let settings = backfillSettings(threads: threads, workers: workers)
            try forEachConcurrently(units, workers: workers) { [self] unit in
                let rows: Int
                do {
                    rows = try copyGroup(m, s, snapshot, unit, parts: parts, leftovers: leftovers, settings: settings, moves: moves)
                } catch {
                    if case MigrationError.injectedFault = error {} else { secureWriters(m, s, early: true) }
                    throw error
                }
                let (copied, thisRun) = progress.add(rows)
                progress.locked {
                    reporter.progress("backfill \(m.name)", done: copied, total: max(total, copied),
                                      rowsPerSecond: Double(thisRun) / max(clock.now() - progress.started, 0.001),
                                      partition: unit.items.last?.slice.partition)
                }
            }
            try fault("backfill.done")
            try store.write(m.name, "phase", MigrationPhase.backfilled.rawValue)
            state = try store.load(m.name)
            reporter.info("\(m.name): backfilled \(progress.copied) rows in \(all.count) slice(s), \(units.count) stage(s)")
            return
        }
        let settings = backfillSettings(threads: threads, workers: workers)
        try forEachConcurrently(pending, workers: workers) { [self] item in
            let rows: Int
            do {
                rows = try copySlice(m, s, snapshot, item.element, index: item.offset, parts: parts, leftovers: leftovers,
                                     settings: settings, moves: moves)
            } catch {
                // Writers first: a broken bridge is dropped now, not after the
                // slices still running finish (apply's own cleanup repeats it).
                if case MigrationError.injectedFault = error {} else { secureWriters(m, s, early: true) }
                throw error
            }
            let (copied, thisRun) = progress.add(rows)
            var elapsed = max(clock.now() - progress.started, 0.001)
            if let limit = m.throttle, limit > 0 {
                // Sleep off any lead so the average stays at the limit.
                let due = Double(thisRun) / Double(limit)
                if due > elapsed { clock.sleep(due - elapsed) }
                elapsed = max(clock.now() - progress.started, 0.001)
            }
            progress.locked {
                reporter.progress(
                    "backfill \(m.name)", done: copied, total: max(total, copied), rowsPerSecond: Double(thisRun) / elapsed,
                    partition: item.element.partition)
            }
        }
        try fault("backfill.done")
        try store.write(m.name, "phase", MigrationPhase.backfilled.rawValue)
        state = try store.load(m.name)
        let w = workers > 1 ? ", \(workers) at a time" : ""
        reporter.info("\(m.name): backfilled \(progress.copied) rows in \(all.count) slice(s)\(w)")
    }

    /// How many threads the copies running at once may use together: what one
    /// query uses by default, less one while writers insert into the old table
    /// (it gained parts since the bridge was made), so their inserts keep a
    /// core to themselves. nil when the server does not say.
    func backfillThreads(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState, parts: [Part]?) throws -> Int? {
        let digits = (try run(CatalogQueries.maxThreads).scalar ?? "").filter(\.isNumber)
        guard let threads = Int(digits), threads > 1 else { return Int(digits) }
        let written: Bool
        if let parts, let start = state.fenceStart {
            // Fence: a part outside the fence's first list came after the bridge.
            written = parts.contains { coverage($0.range, by: start[$0.partition] ?? []) != .inside }
        } else {
            // Cutoff: parts newer than the bridge (made at T minus the margin).
            let since = try state.cutoff.map { $0 - cutoffMarginSeconds } ?? (serverNow() - 5)
            written = (Int(try run(CatalogQueries.partsWritten(m.from.database ?? database, s.oldName, since: since)).scalar ?? "0") ?? 0) > 0
        }
        guard written else { return threads }
        reporter.info("writers are inserting into \(s.old): the backfill uses \(threads - 1) of the server's \(threads) threads")
        return threads - 1
    }

    /// Settings of the statements that copy rows: the `threads` shared by the
    /// `workers` copies running at once.
    func backfillSettings(threads: Int?, workers: Int) -> [String: String] {
        guard let threads else { return [:] }
        return ["max_threads": String(max(1, threads / workers))]
    }

    /// Runs `body` for every item on `workers` threads (inline for one). The
    /// first error stops the hand-out of further items and is rethrown once all
    /// running items are over.
    func forEachConcurrently<T: Sendable>(_ items: [T], workers: Int, _ body: @escaping @Sendable (T) throws -> Void) throws {
        if workers <= 1 {
            for item in items { try body(item) }
            return
        }
        let queue = WorkQueue(items)
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while let item = queue.next() {
                    do { try body(item) } catch { queue.fail(error) }
                }
            }
        }
        group.wait()
        if let error = queue.error { throw error }
    }

    /// Whole partitions through one stage table: one INSERT fills it, all its
    /// slices are recorded staged (with the stage's number), then each
    /// partition moves in whole and all are recorded done with the parts the
    /// moves made. A group resumed from its records finishes slice by slice.
    func copyGroup(
        _ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState, _ unit: BackfillUnit, parts: [Part]?,
        leftovers: Set<String>, settings: [String: String], moves: NSLock
    ) throws -> Int {
        let g = unit.stage, stageName = s.stageName(g)
        if unit.resumed {
            var rows = 0
            for item in unit.items {
                rows += try copySlice(m, s, state, item.slice, index: item.offset, parts: parts, leftovers: leftovers, settings: settings, moves: moves)
            }
            if unit.items.contains(where: { state.slice($0.slice.id)?.stage != nil }) { try run(s.drop(s.stage(g))) }
            return rows
        }
        let db = m.to.database ?? database
        let ids = unit.items.map(\.slice.partition)
        if leftovers.contains(stageName) { try run(s.drop(s.stage(g))) }  // from an interrupted fill
        try run(s.createStage(g))
        let inGroup = Set(ids)
        let filter = s.partitionsFilter(ids) + " AND "
            + (try strategyFilter(s, state, partition: nil, parts: parts?.filter { inGroup.contains($0.partition) }))
        _ = try transport.execute(Query(s.fillStage(g, filter: filter), settings: settings))
        // The stage's own parts say how many rows each partition holds.
        let before = try partFiles(db, [s.newName, stageName])
        func rows(_ p: String) -> Int { before.filter { $0.table == stageName && $0.partition == p }.reduce(0) { $0 + $1.rows } }
        try store.write(m.name, unit.items.map { ("slice/" + $0.slice.id, encodeJSON(SliceRecord(state: .staged, rows: rows($0.slice.partition), stage: g))) })
        try fault("backfill.staged")
        moves.lock()
        defer { moves.unlock() }
        for id in ids where rows(id) > 0 {
            // 18.x copies (ATTACH … FROM); the stage's copy goes with the stage.
            try run(s.moveStage(g, partition: id)[0])
            try fault("backfill.moved")
        }
        let after = try partFiles(db, [s.newName, stageName])
        var records: [(String, String)] = []
        for item in unit.items {
            let id = item.slice.partition
            let moved = rows(id) > 0 ? try movedParts(s, index: g, partition: id, before: before, after: after) : []
            records.append(("slice/" + item.slice.id, encodeJSON(SliceRecord(state: .done, rows: rows(id), parts: moved, stage: g))))
        }
        records.append(("lock", encodeJSON(LockRecord(owner: owner, since: state.lock?.since ?? "?"))))  // heartbeat
        try store.write(m.name, records)
        try run(s.drop(s.stage(g)))
        return ids.reduce(0) { $0 + rows($1) }
    }

    /// One slice, atomically: fill a stage table, record it as staged, move its
    /// partitions into the new table, record done with the parts the move made.
    /// A slice is not read back: the final verification compares the moved
    /// parts with the old rows, in one read of each side.
    func copySlice(
        _ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState, _ slice: Slice, index: Int, parts: [Part]?,
        leftovers: Set<String>, settings: [String: String], moves: NSLock
    ) throws -> Int {
        let db = m.to.database ?? database
        var record = state.slice(slice.id)
        // A slice staged with other partitions finishes in their shared stage.
        let shared = record?.state == .staged && record?.stage != nil
        let index = shared ? record!.stage! : index
        let stageName = s.stageName(index)
        let stageExists = try record?.state == .staged && exists(db, stageName)
        if record?.state == .staged && !stageExists {
            // Stage gone after the move completed: only the final record was missing.
            try store.write(m.name, "slice/" + slice.id, encodeJSON(SliceRecord(state: .done, rows: record!.rows)))
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
            let fill = try transport.execute(Query(s.fillStage(index, filter: filter), settings: settings))
            // The server's own count of what it wrote (no re-read of the rows).
            let rows = try fill.writtenRows ?? Int(run(s.countTable(s.stage(index))).scalar ?? "") ?? 0
            record = SliceRecord(state: .staged, rows: rows)
            try store.write(m.name, "slice/" + slice.id, encodeJSON(record!))
            try fault("backfill.staged")
        }
        // Same partitioning: the stage holds exactly the slice's partition.
        let samePartitioning = m.from.partitionBy == m.to.partitionBy && !resumingStaged
        // Moves one at a time, so the parts a move adds to the new table are the
        // ones that appear across it (less any a bridged insert made meanwhile).
        moves.lock()
        defer { moves.unlock() }
        let before = try partFiles(db, [s.newName, stageName])
        let stageParts = samePartitioning
            ? (record!.rows > 0 ? [slice.partition] : [])
            : Set(before.filter { $0.table == stageName && (!shared || $0.partition == slice.partition) }.map(\.partition)).sorted()
        var moved: [String]? = resumingStaged ? nil : []
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
            let statements = s.moveStage(index, partition: part)
            try run(statements[0])
            if moved != nil {
                // 18.x: read while the stage still holds its copy (before the drop).
                let after = try partFiles(db, [s.newName, stageName])
                moved = try movedParts(s, index: index, partition: part, before: before, after: after).map { moved! + $0 }
            }
            for sql in statements.dropFirst() { try run(sql) }
            try fault("backfill.moved")
        }
        let lock = LockRecord(owner: owner, since: state.lock?.since ?? "?")
        try store.write(m.name, [
            ("slice/" + slice.id, encodeJSON(SliceRecord(state: .done, rows: record!.rows, parts: moved, stage: shared ? index : nil))),
            ("lock", encodeJSON(lock)),  // heartbeat
        ])
        if !shared { try run(s.drop(s.stage(index))) }  // a shared stage goes once its group is in
        return record!.rows
    }

    struct PartFile: Equatable { var table: String; var name: String; var partition: String; var rows: Int; var hash: String }

    func partFiles(_ db: String, _ tables: [String]) throws -> [PartFile] {
        try run(CatalogQueries.partFiles(db, tables, fileHash: capabilities.modernSQL)).rows.compactMap { row in
            guard row.count >= 5, let t = row[0], let n = row[1], let p = row[2] else { return nil }
            return PartFile(table: t, name: n, partition: p, rows: Int(row[3] ?? "") ?? 0, hash: row[4] ?? "")
        }
    }

    /// The new table's parts a move of `partition` made: of the parts that
    /// appeared across it, those matching a stage part (rows, and the files'
    /// hash where the server keeps it). nil when that cannot be decided.
    func movedParts(_ s: MigrationSQL, index: Int, partition: String, before: [PartFile], after: [PartFile]) throws -> [String]? {
        let stageName = s.stageName(index)
        let known = Set(before.filter { $0.table == s.newName }.map(\.name))
        var candidates = after.filter { $0.table == s.newName && $0.partition == partition && !known.contains($0.name) }
        let staged = before.filter { $0.table == stageName && $0.partition == partition }
        if candidates.count == staged.count && candidates.map(\.rows).sorted() == staged.map(\.rows).sorted()
            && (candidates.allSatisfy { $0.hash.isEmpty } || Set(candidates.map(\.hash)) == Set(staged.map(\.hash))) {
            return candidates.map(\.name)  // nothing else arrived meanwhile
        }
        // A bridged insert landed in the same partition during the move.
        var picked: [String] = []
        for part in staged {
            let same = candidates.filter { $0.rows == part.rows && $0.hash == part.hash }
            guard let first = same.first else { return nil }
            var choice = first
            if same.count > 1 && part.hash.isEmpty {
                // 18.x (no file hash): the stage still holds its copy; compare contents.
                let want = try run(s.partChecksums(s.stage(index), parts: [part.name])).rows.first.map { Array($0.dropFirst()) }
                let sums = try run(s.partChecksums(s.new, parts: same.map(\.name))).rows
                guard let hit = sums.first(where: { Array($0.dropFirst()) == want }), let name = hit.first ?? nil,
                      let found = same.first(where: { $0.name == name }) else { return nil }
                choice = found
            }
            picked.append(choice.name)
            candidates.removeAll { $0.name == choice.name }
        }
        return picked
    }
}

/// Rows copied so far, shared by the slices running at once.
final class BackfillProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int
    private var thisRun = 0
    let started: Double

    init(copied: Int, started: Double) {
        total = copied
        self.started = started
    }

    var copied: Int { lock.withLock { total } }

    /// Adds a slice's rows; returns the totals overall and in this run.
    func add(_ rows: Int) -> (Int, Int) {
        lock.withLock {
            total += rows
            thisRun += rows
            return (total, thisRun)
        }
    }

    func locked(_ body: () -> Void) { lock.withLock(body) }
}

/// Items handed out to worker threads until they run out or one fails.
final class WorkQueue<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T]
    private var next_ = 0
    private var failure: (any Error)?

    init(_ items: [T]) { self.items = items }

    func next() -> T? {
        lock.withLock {
            guard failure == nil, next_ < items.count else { return nil }
            defer { next_ += 1 }
            return items[next_]
        }
    }

    func fail(_ error: any Error) { lock.withLock { if failure == nil { failure = error } } }

    var error: (any Error)? { lock.withLock { failure } }
}

/// Slices that go through one stage table: a group of whole partitions, or
/// slices an interrupted run left staged in it.
struct BackfillUnit: Sendable {
    var stage: Int
    var items: [(offset: Int, slice: Slice)]
    var resumed: Bool
}
