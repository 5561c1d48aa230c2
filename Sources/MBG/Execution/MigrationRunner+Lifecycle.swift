import Foundation

extension MigrationRunner {
    // MARK: - verify

    /// Compares old and new per partition on rows that can no longer change.
    /// Returns the report; a mismatch is reported, not thrown (apply throws it).
    package func verify(_ m: MigrationDef) throws -> VerificationReport {
        let state = try store.load(m.name)
        // Re-running a script: a migration past cut-over was verified before it.
        if state.phase == .cutOver || state.phase == .finished {
            return VerificationReport(
                migration: m.name, rows: [],
                notes: ["\(m.name) is \(state.phase == .finished ? "finished" : "cut over"): it was verified before cut-over; nothing to compare now"])
        }
        guard state.phase >= .backfilled, state.phase < .cutOver else {
            throw MigrationError.wrongPhase(migration: m.name, phase: state.phase, action: "verify",
                                            hint: "verification compares old and new between backfill and cut-over")
        }
        let report = try verify(m, sqlFor(m), state)
        if report.ok && !report.fullyCompared {
            throw MigrationError.notFullyCompared(migration: m.name, reasons: report.uncompared, notes: report.notes)
        }
        return report
    }

    /// What the backfill counted: the rows the server wrote into each slice's stage.
    func sliceSummary(_ state: MigrationState) -> String {
        let slices = state.slices ?? []
        let done = slices.compactMap { state.slice($0.id) }.filter { $0.state == .done }
        let rows = done.reduce(0) { $0 + $1.rows }
        return "backfill: \(rows) rows in \(done.count) of \(slices.count) slice(s), as the server counted them into each slice's stage"
    }

    /// Both sides at once (two reads on two connections), each keyed by partition.
    func compareConcurrently(_ oldSQL: String, _ newSQL: String) throws -> [VerificationReport.Row] {
        let newSide = Concurrent(transport, newSQL)
        let a = Result { try run(oldSQL) }
        let b = try newSide.wait().get()
        return compare(try a.get(), b)
    }

    /// Fence: the old table's fenced parts against the parts the backfill moved
    /// into the new table. Merges on both are held until this is read, so
    /// neither side can change while writers go on: one read of each side.
    /// nil when that comparison is not possible (a slice's parts unknown, or a
    /// part merged away, e.g. after a server restart).
    func compareFencedParts(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws -> VerificationReport? {
        guard let slices = state.slices, let fence = state.fence else { return nil }
        var moved: [String] = []
        for slice in slices {
            guard let r = state.slice(slice.id), r.state == .done, let parts = r.parts else { return nil }
            moved += parts
        }
        let oldParts = try activeParts(m.from.database ?? database, s.oldName)
        var fenced: [String] = []
        for part in oldParts {
            switch coverage(part.range, by: fence[part.partition] ?? []) {
            case .inside: fenced.append(part.name)
            case .outside: continue
            case .mixed: return nil
            }
        }
        let active = Set(try activeParts(m.to.database ?? database, s.newName).map(\.name))
        guard moved.allSatisfy(active.contains) else { return nil }
        let oldFilter = s.sliceFilter(strategy: .fence, cutoff: nil, parts: fenced, slice: nil)
        let newFilter = s.sliceFilter(strategy: .fence, cutoff: nil, parts: moved, slice: nil)
        var report = VerificationReport(migration: m.name, rows: [], notes: [sliceSummary(state)])
        report.rows = try compareConcurrently(s.verifyQuery(s.old, image: true, filter: oldFilter), s.verifyQuery(s.new, image: false, filter: newFilter))
        report.notes.append("backfilled rows compared per partition: the \(fenced.count) fenced part(s) of \(s.old) against the \(moved.count) part(s) the backfill moved into \(s.new), one read of each")
        // The rest of each side: rows written through the bridge, and anything
        // else in the new table. Writes go on, so the two sides are never read
        // at one instant; instead each row is matched by its hash:
        // 1. the old side's parts are listed, and once every insert in flight
        //    has ended (each of those parts then pushed through the bridge),
        //    the new side's rows with those rows' hashes must be exactly them;
        // 2. the new side's rows whose hash is in no part of the old side
        //    (listed after the new side, so it holds every insert the new
        //    side's parts came from) are foreign, and must be none.
        let movedSet = Set(moved), fencedSet = Set(fenced)
        func rest(_ db: String?, _ table: String, without: Set<String>) throws -> String {
            s.sliceFilter(strategy: .fence, cutoff: nil, parts: try activeParts(db ?? database, table).map(\.name).filter { !without.contains($0) }, slice: nil)
        }
        let backfilled = report.rows
        for attempt in 0..<3 {
            let oldRest = try rest(m.from.database, s.oldName, without: fencedSet)
            try waitForInsertsInFlight(into: s, reason: "before reading the rows written through the bridge")
            let newRest = try rest(m.to.database, s.newName, without: movedSet)
            var rows = try compareConcurrently(
                s.verifyQuery(s.old, image: true, filter: oldRest),
                s.verifyQuery(s.new, image: false, filter: newRest + " AND " + s.hash(among: true, oldRowsWhere: oldRest)))
            let oldLater = try rest(m.from.database, s.oldName, without: fencedSet)
            let foreign = try run(s.verifyQuery(s.new, image: false, filter: newRest + " AND " + s.hash(among: false, oldRowsWhere: oldLater))).rows
            for row in foreign where row.count >= 3 {
                rows.append(.init(partition: row[0] ?? "", oldRows: 0, newRows: Int(row[1] ?? "") ?? 0, oldChecksum: "0", newChecksum: row[2] ?? "0"))
            }
            // A row a later insert wrote twice (the same values) can make the
            // first read look off; read again before calling it a mismatch.
            guard rows.allSatisfy(\.matches) || attempt == 2 else {
                clock.sleep(0.3)
                continue
            }
            // Counts and checksums add up: the reads make whole partitions.
            var byPartition = Dictionary(uniqueKeysWithValues: backfilled.map { ($0.partition, $0) })
            for r in rows {
                var t = byPartition[r.partition] ?? .init(partition: r.partition, oldRows: 0, newRows: 0, oldChecksum: "0", newChecksum: "0")
                func add(_ a: String, _ b: String) -> String { String((UInt64(a) ?? 0) &+ (UInt64(b) ?? 0)) }
                t.oldRows += r.oldRows
                t.newRows += r.newRows
                t.oldChecksum = add(t.oldChecksum, r.oldChecksum)
                t.newChecksum = add(t.newChecksum, r.newChecksum)
                byPartition[r.partition] = t
            }
            report.rows = byPartition.values.sorted { $0.partition < $1.partition }
            report.notes.append("the other parts compared too: each row written through the bridge found once in \(s.new) after the inserts that wrote it had ended, and no row of \(s.new) that \(s.old) lacks")
            return report
        }
        return report
    }

    /// Per-partition rows (partition, count, checksum) of both sides, side by side.
    func compare(_ old: QueryResult, _ new: QueryResult) -> [VerificationReport.Row] {
        func read(_ r: QueryResult) -> [String: (Int, String)] {
            var out: [String: (Int, String)] = [:]
            for row in r.rows where row.count >= 3 {
                out[row[0] ?? ""] = (Int(row[1] ?? "") ?? 0, row[2] ?? "0")
            }
            return out
        }
        let a = read(old), b = read(new)
        return Set(a.keys).union(b.keys).sorted().map { k in
            let x = a[k] ?? (0, "0"), y = b[k] ?? (0, "0")
            return .init(partition: k, oldRows: x.0, newRows: y.0, oldChecksum: x.1, newChecksum: y.1)
        }
    }

    func verify(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws -> VerificationReport {
        if let cluster { return try clusterVerify(m, s, state, cluster) }
        var report = VerificationReport(migration: m.name, rows: [], notes: [])
        switch state.strategy ?? .fence {
        case .cutoff:
            let col = quoteIdentifier(m.cutoffColumn ?? "")
            let t = state.cutoff ?? 0
            // Rows that can no longer change: before T (backfilled) and, on the
            // bridge side, from T up to a point no late row can still reach.
            // Both sides are read at once.
            let backfilled = "\(col) < toDateTime(\(t))"
            report.rows = try compareConcurrently(s.verifyQuery(s.old, image: true, filter: backfilled), s.verifyQuery(s.new, image: false, filter: backfilled))
            let upper = try serverNow() - m.lateness - 2
            if upper > t {
                let bridged = "\(col) >= toDateTime(\(t)) AND \(col) < toDateTime(\(upper))"
                report.rows += try compareConcurrently(s.verifyQuery(s.old, image: true, filter: bridged), s.verifyQuery(s.new, image: false, filter: bridged))
                    .map { var r = $0; r.partition += " (bridge)"; return r }
                report.notes.append("backfilled rows (< T) and bridged rows [T, now - lateness) compared")
            } else {
                report.notes.append("backfilled rows (< T) compared; no bridged rows old enough to compare yet")
            }
        case .fence:
            if let fenced = try compareFencedParts(m, s, state) { return fenced }
            // Old and new as wholes; writers keep adding, so compare only when two
            // reads of the old side agree, the new side read between them once
            // the inserts in flight at the first have ended (their rows have
            // then passed the bridge), and call it a mismatch only if it persists.
            var mismatchSeen = 0
            var quiet: [VerificationReport.Row]?
            var tries = 0
            let began = clock.now()
            let oldQ = s.verifyQuery(s.old, image: true, filter: nil)
            for attempt in 0..<8 {
                tries += 1
                let first = try run(oldQ)
                try waitForInsertsInFlight(into: s, reason: "before reading \(s.new)")
                let rows = compare(first, try run(s.verifyQuery(s.new, image: false, filter: nil)))
                let second = try run(oldQ).rows
                if first.rows != second {
                    clock.sleep(0.2 * Double(attempt + 1))
                    continue
                }
                quiet = rows
                if rows.allSatisfy(\.matches) { mismatchSeen = 0; break }
                mismatchSeen += 1
                if mismatchSeen >= 3 { break }
                clock.sleep(0.3)
            }
            report.notes.append(sliceSummary(state))
            if let quiet, quiet.allSatisfy(\.matches) || mismatchSeen >= 3 {
                report.rows = quiet
                report.notes.append("whole tables compared per partition at a moment two reads of \(s.old) agreed")
            } else {
                // Only numbers read at one quiet moment are a comparison; none came.
                let seconds = String(format: "%.1f", clock.now() - began)
                var why = "whole tables not compared: writes to \(s.old) never paused long enough for two reads of it to agree (\(tries) tries in \(seconds) s)"
                if let quiet {
                    let parts = quiet.filter { !$0.matches }.map(\.partition).joined(separator: ", ")
                    why += "; a difference in \(parts) seen \(mismatchSeen) time(s) was never confirmed"
                }
                report.uncompared.append(why)
            }
        }
        return report
    }

    // MARK: - cut-over

    package func cutover(_ m: MigrationDef) throws {
        try locked(m, takeOver: false) { state in
            try cutoverLocked(m, sqlFor(m), state)
        }
    }

    func cutoverLocked(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws {
        if state.phase == .cutOver || state.phase == .finished {
            return reporter.info("\(m.name): already \(state.phase == .finished ? "finished" : "cut over")")
        }
        guard state.phase == .verified else {
            throw MigrationError.wrongPhase(migration: m.name, phase: state.phase, action: "cut over", hint: "apply (and verify) first")
        }
        try fault("cutover.before")
        let carry = try viewCarry(m)
        if let refusal = carry.refusal { throw MigrationError.unsupported(refusal) }
        switch m.cutover {
        case .versioned:
            try carryViews(m, carry, state)
            try store.write(m.name, [("cutover", encodeJSON(CutoverRecord(mode: .versioned, method: .none))), ("phase", MigrationPhase.cutOver.rawValue)])
            reporter.info("\(m.name): cut over (versioned): read and write \(s.newDistributed ?? s.new); the bridge forwards rows still written to \(s.oldDistributed ?? s.old) until finish")
        case .swap where cluster != nil:
            throw MigrationError.unsupported(MigrationSQL.swapOnClusterRefusal)
        case .swap:
            guard m.transform == nil else {
                throw MigrationError.unsupported("swap cut-over keeps the bridge as a reverse sync, which a transform cannot run backwards; use versioned cut-over")
            }
            if capabilities.exchangeTables {
                try swapByExchange(m, s, state)
            } else {
                try swapByRename(m, s, state)
            }
        }
    }

    /// The views reading the old version, from the live catalog.
    func viewCarry(_ m: MigrationDef) throws -> ViewCarry {
        let db = m.from.database ?? database
        // Most databases have no views besides the bridge: skip the full catalog read then.
        let views = try run(CatalogQueries.viewCount(db)).scalar.flatMap { Int($0) } ?? 0
        guard views > 1 else { return ViewCarry(views: []) }
        let catalog = try CatalogReader(transport: transport, database: db).read()
        return sqlFor(m, catalog: catalog).viewCarry(catalog)
    }

    /// Moves the old version's views to the new one (see `DependentView`): T is
    /// placed in the future so that creating the copies and narrowing the
    /// originals changes nothing for rows written meanwhile; cut-over returns
    /// once T has passed, so writers that move afterwards write rows >= T.
    func carryViews(_ m: MigrationDef, _ carry: ViewCarry, _ state: MigrationState) throws {
        guard !carry.isEmpty else { return }
        let s = sqlFor(m)
        let recorded = state.values[MigrationState.viewsCutoffKey].flatMap { Int($0) }
        let t = try recorded ?? (serverNow() + cutoffMarginSeconds)
        if recorded == nil {
            try store.write(m.name, [(MigrationState.viewsCutoffKey, String(t)),
                                     (MigrationState.carriedViewsKey, encodeJSON(carry.materialized))])
        }
        for sql in s.carryViews(carry, cutoff: t) { try run(sql) }
        let now = try serverNow()
        if now >= t && !carry.materialized.isEmpty {
            reporter.warning("\(m.name): the views were moved \(now - t + 1) s after T = \(t): rows written to \(s.old) in that time with \(carry.timeColumn ?? "") >= T may reach the views' targets twice")
        }
        for v in carry.views {
            reporter.info(v.kind == .materialized
                ? "\(m.name): view \(v.name) now takes rows before T = \(t); its copy \(s.twinName(v)) on \(s.new) takes rows from T"
                : "\(m.name): view \(v.name) now reads \(s.new)")
        }
        while try serverNow() <= t { clock.sleep(0.25) }
    }

    func uuid(_ name: String) throws -> String {
        try run(CatalogQueries.uuid(database, name)).scalar ?? ""
    }

    func swapByExchange(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws {
        // The UUID recorded before tells, after a crash, whether the exchange happened.
        let recorded = state.values["swap_new_uuid"] ?? ""
        let newUUID = recorded.isEmpty ? try uuid(s.newName) : recorded
        if recorded.isEmpty {
            try store.write(m.name, "swap_new_uuid", newUUID)
        }
        let db = m.to.database ?? database
        if try uuid(s.oldName) != newUUID {
            // Parts the old data gets after this mark come from inserts that may
            // straddle the exchange; merges stop so they stay apart.
            try run(s.stopMerges(s.old))
            let mark = try maxBlock(db, s.oldName)
            try store.write(m.name, "swap_mark", String(mark))
            try run(s.exchange)
        }
        try fault("cutover.renamed")
        if let mark = Int(try store.load(m.name).values["swap_mark"] ?? "") {
            clock.sleep(fenceSettleSeconds)
            // The old data now lives under the new version's name.
            try repairStraddlers(s, db: db, table: s.newName, mark: mark) { parts in
                let late = try parts.filter { try !reachedTarget(s, part: $0, source: s.new, target: s.old) }
                guard !late.isEmpty else { return }
                try run(s.catchUpForward(parts: late.map(\.name)))
                reporter.info("copied \(late.count) part(s) written during the exchange into \(s.old)")
            }
            _ = try? run(s.startMerges(s.new))
            try store.write(m.name, "swap_mark", "")
        }
        try store.write(m.name, [("cutover", encodeJSON(CutoverRecord(mode: .swap, method: .exchange))), ("phase", MigrationPhase.cutOver.rawValue)])
        reporter.info("\(m.name): cut over (swap): \(s.old) now holds the new layout; the bridge copies its inserts into \(s.new) (old data) until finish, so rollback loses nothing")
    }

    /// 18.x: no EXCHANGE. Stop merges, note the part list, drop the bridge, swap
    /// names in one RENAME, then copy rows that reached the old data in between.
    func swapByRename(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws {
        reporter.warning("ClickHouse \(capabilities.version) has no EXCHANGE TABLES: swapping with RENAME; inserts that hit the instant of the rename can fail and must be retried by writers, and rows written meanwhile are caught up afterwards")
        let db = m.to.database ?? database
        var pBefore = state.decode([String: [BlockRange]].self, "swap_parts")
        if pBefore == nil {
            try run(s.stopMerges(s.old))
            try store.write(m.name, "merges_stopped", encodeJSON([s.old]))
            let parts = try activeParts(db, s.oldName)
            let ranges = Dictionary(grouping: parts, by: \.partition).mapValues { $0.map(\.range) }
            let engineNew = try run(CatalogQueries.engineFull(db, s.newName)).scalar ?? ""
            try store.write(m.name, [("swap_parts", encodeJSON(ranges)), ("swap_new_engine", engineNew)])
            pBefore = ranges
        }
        let engineNew = try store.load(m.name).values["swap_new_engine"] ?? ""
        let engineAtOld = try run(CatalogQueries.engineFull(db, s.oldName)).scalar ?? ""
        if engineAtOld != engineNew || engineNew.isEmpty {
            try run(s.drop(s.bridge, isView: true))
            // Everything the new data gets after this mark arrived after the
            // switch (or is a straggler the old data also has): rollback copies
            // it back. Merges stop so the mark stays meaningful.
            try run(s.stopMerges(s.new))
            let mark = try maxBlock(db, s.newName)
            try store.write(m.name, "swap_mark", String(mark))
            try run(s.renameSwap)
        }
        try fault("cutover.renamed")
        // Inserts in flight at the rename still commit into the old data: let them land.
        clock.sleep(fenceSettleSeconds)
        // Now s.new holds the old data: copy parts it got after the snapshot that
        // the bridge did not forward.
        var late: [String] = []
        for part in try activeParts(db, s.newName) {
            switch coverage(part.range, by: pBefore?[part.partition] ?? []) {
            case .inside: continue
            case .mixed: throw MigrationError.inconsistent("part \(part.name) merged during the swap; check \(s.new) against \(s.old) by hand")
            case .outside:
                if try !reachedTarget(s, part: part, source: s.new, target: s.old) { late.append(part.name) }
            }
        }
        if !late.isEmpty {
            try run(s.catchUpForward(parts: late))
            reporter.info("caught up \(late.count) part(s) written during the swap")
        }
        _ = try? run(s.startMerges(s.new))
        try run(s.stopMerges(s.old))  // the new data, under the old name now
        let mark = Int(try store.load(m.name).values["swap_mark"] ?? "") ?? 0
        try store.write(m.name, [
            ("merges_stopped", encodeJSON([s.old])),
            ("cutover", encodeJSON(CutoverRecord(mode: .swap, method: .rename, blockMark: mark))),
            ("phase", MigrationPhase.cutOver.rawValue),
        ])
        reporter.info("\(m.name): cut over (swap by rename): \(s.old) holds the new layout, \(s.new) the old data; merges on \(s.old) stay stopped until finish or rollback")
    }

    // MARK: - rollback

    /// Before cut-over: drops what the migration made. After: switches back, losing no row.
    package func rollback(_ m: MigrationDef) throws {
        let s = sqlFor(m)
        try locked(m, takeOver: false) { state in
            if state.phase == .finished {
                throw MigrationError.wrongPhase(migration: m.name, phase: .finished, action: "roll back", hint: "the bridge and the old version are gone")
            }
            if state.phase == .cutOver, let c = state.cutover {
                switch c.method {
                case .exchange:
                    try rollbackExchange(m, s)
                    try store.write(m.name, [("cutover", ""), ("swap_new_uuid", ""), ("phase", MigrationPhase.verified.rawValue)])
                    reporter.info("\(m.name): switched back; \(s.old) holds the old data again (kept current by the bridge); cut over again or roll back once more to drop \(s.new)")
                    return
                case .rename:
                    try rollbackRename(m, s, c)
                case .none:
                    let carried = state.decode([DependentView].self, MigrationState.carriedViewsKey) ?? []
                    if !carried.isEmpty {
                        throw MigrationError.unsupported("cut-over moved view(s) \(carried.map(\.name).joined(separator: ", ")) to \(s.new) with a split at T = \(state.values[MigrationState.viewsCutoffKey] ?? "?"); moving them back exactly is not supported: keep \(s.new), or restore the views by hand")
                    }
                    try store.write(m.name, [("cutover", ""), ("phase", MigrationPhase.verified.rawValue)])
                    reporter.info("\(m.name): cut-over undone; consumers go back to \(s.old) (rows written there were kept); roll back once more to drop \(s.new)")
                    return
                }
            }
            try dropCreated(m, s, try store.load(m.name))
        }
    }

    /// Exchanges back. An insert in flight at the instant of the exchange can
    /// land in the new layout without passing the bridge, so parts the new
    /// layout gets after a mark taken just before are checked and copied back.
    func rollbackExchange(_ m: MigrationDef, _ s: MigrationSQL) throws {
        let db = m.to.database ?? database
        // Until the exchange, the old name holds the new layout.
        try run(s.stopMerges(s.old))
        let mark = try maxBlock(db, s.oldName)
        try run(s.exchange)
        clock.sleep(fenceSettleSeconds)
        // s.new holds the new layout again: its parts after the mark must have reached the old data.
        try repairStraddlers(s, db: db, table: s.newName, mark: mark) { parts in
            var late: [String] = []
            for part in parts where try !reachedTarget(s, part: part, source: s.new, target: s.old) { late.append(part.name) }
            guard !late.isEmpty else { return }
            try run(s.catchUpBack(parts: late))
            reporter.info("copied \(late.count) part(s) written during the switch back to \(s.old)")
        }
        _ = try? run(s.startMerges(s.new))
    }

    func maxBlock(_ db: String, _ table: String) throws -> Int {
        try run(CatalogQueries.maxBlock(db, table)).scalar.flatMap { Int($0) } ?? 0
    }

    /// After an EXCHANGE with the bridge in place. An insert that straddles it
    /// writes into the table it resolved (now under another name) and, through
    /// the bridge resolving its target by name afterwards, into that same table
    /// again: two parts with the same rows in `table`, none on the other side.
    /// Drops the extra copy; `ensureReached` then makes sure the remaining late
    /// parts reached the other side.
    func repairStraddlers(
        _ s: MigrationSQL, db: String, table: String, mark: Int, ensureReached: ([Part]) throws -> Void
    ) throws {
        let late = try activeParts(db, table).filter { $0.range.min > mark }
        guard !late.isEmpty else { return }
        let kept = Set(try dropTwins(s, db: db, table: table, parts: late.map(\.name)))
        try ensureReached(late.filter { kept.contains($0.name) })
    }

    /// Of parts holding exactly the same rows (count and checksum), keeps the
    /// first and drops the others from `table`; returns the names kept.
    func dropTwins(_ s: MigrationSQL, db: String, table: String, parts: [String]) throws -> [String] {
        guard parts.count > 1 else { return parts }
        let target = qualified(db, table)
        let r = try run(s.partChecksums(target, parts: parts))
        var seen = Set<String>()
        var kept: [String] = []
        for row in r.rows where row.count >= 3 {
            guard let name = row[0] else { continue }
            if seen.insert("\(row[1] ?? "")/\(row[2] ?? "")").inserted {
                kept.append(name)
            } else {
                try run(s.dropPart(target, part: name))
                reporter.warning("dropped part \(name) of \(target): a second copy written by an insert that straddled the exchange")
            }
        }
        return kept
    }

    func rollbackRename(_ m: MigrationDef, _ s: MigrationSQL, _ c: CutoverRecord) throws {
        let db = m.to.database ?? database
        try run(s.renameSwap)
        // Inserts in flight at the rename still commit into the new data: let them land.
        clock.sleep(fenceSettleSeconds)
        // s.new holds the new layout again: copy what it got after the mark back.
        var late: [String] = []
        for part in try activeParts(db, s.newName) where part.range.max > (c.blockMark ?? Int.max) {
            guard part.range.min > (c.blockMark ?? Int.max) else {
                throw MigrationError.inconsistent("part \(part.name) of \(s.new) merged across the cut-over mark; merges were restarted")
            }
            // Catch-up rows and bridge stragglers are in the old data already.
            if try !reachedTarget(s, part: part, source: s.new, target: s.old) { late.append(part.name) }
        }
        if !late.isEmpty {
            try run(s.catchUpBack(parts: late))
            reporter.info("copied \(late.count) part(s) written after the cut-over back to \(s.old)")
        }
    }

    func dropCreated(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState) throws {
        let db = m.to.database ?? database
        if let cluster {
            // Bridge first (it writes into the new table), then stages on every replica, then the version.
            try run(s.dropEverywhere(s.bridge, isView: true))
            try dropClusterStages(s, cluster, db: db)
            for sql in s.dropVersion(old: false) { try run(sql) }
            var reset: [(String, String)] = state.values.keys.filter { $0 != "lock" && $0 != "phase" }.map { ($0, "") }
            reset.append(("phase", MigrationPhase.rolledBack.rawValue))
            try store.write(m.name, reset)
            return reporter.info("\(m.name): rolled back on cluster \(cluster.info.name); \(s.old) is untouched")
        }
        try run(s.drop(s.bridge, isView: true))
        try restartMerges(m, state)
        let stages = try run(CatalogQueries.tables(db, prefix: s.stagePrefix)).rows
        for row in stages { if let n = row.first ?? nil { try run(s.drop(qualified(db, n))) } }
        try run(s.drop(s.new))
        var reset: [(String, String)] = state.values.keys.filter { $0 != "lock" && $0 != "phase" }.map { ($0, "") }
        reset.append(("phase", MigrationPhase.rolledBack.rawValue))
        try store.write(m.name, reset)
        reporter.info("\(m.name): rolled back; \(s.old) is untouched")
    }

    // MARK: - finish

    /// Drops the bridge, then the old version unless `keepOld`.
    package func finish(_ m: MigrationDef, keepOld: Bool) throws {
        let s = sqlFor(m)
        try locked(m, takeOver: false) { state in
            if state.phase == .finished { return reporter.info("\(m.name): already finished") }
            guard state.phase == .cutOver else {
                throw MigrationError.wrongPhase(migration: m.name, phase: state.phase, action: "finish", hint: "cut over first")
            }
            if cluster != nil {
                try run(s.dropEverywhere(s.bridge, isView: true))
                if !keepOld { for sql in s.dropVersion(old: true) { try run(sql) } }
                try store.write(m.name, "phase", MigrationPhase.finished.rawValue)
                return reporter.info("\(m.name): finished on cluster \(cluster!.info.name); bridge dropped\(keepOld ? ", \(s.old) kept" : ", \(s.old) dropped")")
            }
            // After a swap the old data lives under the new version's name.
            let swapped = state.cutover?.mode == .swap
            let oldData = swapped ? s.new : s.old
            let carried = state.decode([DependentView].self, MigrationState.carriedViewsKey) ?? []
            if !keepOld {
                // Never drop a table a view still reads: the view would fail on every read or insert.
                let db = m.to.database ?? database
                let oldDB = swapped ? db : m.from.database ?? database
                let catalog = try CatalogReader(transport: transport, database: oldDB).read()
                let still = catalog.views(reading: swapped ? s.newName : s.oldName, database: oldDB,
                                          except: Set(["\(db).\(m.bridge)"] + carried.map { "\($0.database).\($0.name)" }))
                if !still.isEmpty {
                    throw MigrationError.unsupported("\(oldData) is still read by view(s) \(still.map(\.qualifiedName).joined(separator: ", ")): drop or move them first, or `finish \(m.name) keep`; nothing was dropped")
                }
            }
            try run(s.drop(s.bridge, isView: true))
            // The originals were narrowed to rows before T; their copies on the new version carry on.
            for v in carried { try run(s.drop(v.qualifiedName, isView: true)) }
            try restartMerges(m, state)
            if !keepOld { try run(s.drop(oldData)) }
            try store.write(m.name, "phase", MigrationPhase.finished.rawValue)
            reporter.info("\(m.name): finished; bridge dropped\(keepOld ? ", \(oldData) kept" : ", \(oldData) dropped")")
        }
    }

    // MARK: - status

    package func status(_ m: MigrationDef?) throws -> [MigrationStatus] {
        let names = try m.map { [$0.name] } ?? store.migrations()
        return try names.map { name in
            let st = try store.load(name)
            let slices = st.slices ?? []
            let done = slices.filter { st.slice($0.id)?.state == .done }
            let copied = done.reduce(0) { $0 + (st.slice($1.id)?.rows ?? 0) }
            let total = slices.reduce(0) { $0 + $1.rows }
            let parts = Dictionary(grouping: slices, by: \.partition)
            let partsDone = parts.values.filter { $0.allSatisfy { st.slice($0.id)?.state == .done } }.count
            var rate = 0.0
            if let t0 = st.values["backfill_started"].flatMap({ Int($0) }), copied > 0 {
                let lastAt = done.compactMap { st.writtenAt["slice/" + $0.id] }.max() ?? st.serverNow
                rate = Double(copied) / Double(max(lastAt - t0, 1))
            }
            let eta: Int? = (rate > 0 && st.phase < .backfilled && total > copied) ? Int(Double(total - copied) / rate) : nil
            return MigrationStatus(
                migration: name, phase: st.phase, strategy: st.strategy, cutoff: st.cutoff,
                rowsCopied: copied, rowsTotal: total, slicesDone: done.count, slicesTotal: slices.count,
                partitionsDone: partsDone, partitionsLeft: parts.count - partsDone, rowsPerSecond: rate,
                etaSeconds: eta, lockOwner: st.lock?.owner, lockSince: st.lock?.since,
                lockAgeSeconds: st.lock == nil ? nil : st.lockAge)
        }
    }
}
