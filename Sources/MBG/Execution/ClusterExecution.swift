import Foundation

/// A migration on a cluster runs through the coordinator node (first replica
/// of the first shard): the ON CLUSTER DDL, the state and the lock go there,
/// whichever node mbg was pointed at, so two runs started through different
/// nodes meet at one lock. Backfill and verification run per shard on one
/// replica of each shard, local table to local table.
extension MigrationRunner {
    /// The runner that carries a clustered migration out: connects to every
    /// host (a host that does not answer stops everything before any change),
    /// and refuses shards whose Distributed inserts would reach every replica.
    func clusterRunner(for m: MigrationDef, probeReplication: Bool) throws -> MigrationRunner {
        guard let name = m.to.cluster ?? m.from.cluster, cluster == nil, shardOf == nil else { return self }
        let nodes = try ClusterNodes(connected: transport, cluster: name)
        let coordinator = nodes.transport(nodes.coordinator)
        if probeReplication && (m.to.distributedBy != nil || m.from.distributedBy != nil) && (m.to.isReplicated || m.from.isReplicated) {
            let off = try ClusterReader(transport: coordinator).shardsWithoutInternalReplication(nodes.info, database: database)
            if !off.isEmpty { throw ClusterError.internalReplicationOff(cluster: name, shards: off) }
        }
        let runner = MigrationRunner(
            transport: coordinator, capabilities: capabilities, database: database, reporter: reporter, owner: owner,
            clock: clock, cluster: nodes)
        runner.copySettings(from: self)
        // The bridge is created ON CLUSTER, which waits for every host: T gets more room.
        runner.cutoffMarginSeconds = max(cutoffMarginSeconds, 6)
        return runner
    }

    func copySettings(from other: MigrationRunner) {
        staleLockSeconds = other.staleLockSeconds
        mutexAbandonedSeconds = other.mutexAbandonedSeconds
        cutoffMarginSeconds = other.cutoffMarginSeconds
        fenceSettleSeconds = other.fenceSettleSeconds
        lockWaitSeconds = other.lockWaitSeconds
        lockPollSeconds = other.lockPollSeconds
        faultHook = other.faultHook
    }

    /// A runner on one replica of `shard`: its reads and writes of tables go to
    /// that node, its state to the coordinator.
    func shardRunner(_ nodes: ClusterNodes, _ host: ClusterHost) -> MigrationRunner {
        let r = MigrationRunner(
            transport: nodes.transport(host), capabilities: capabilities, database: database, reporter: reporter,
            owner: owner, clock: clock, stateTransport: nodes.transport(nodes.coordinator), shardOf: host)
        r.copySettings(from: self)
        return r
    }

    /// The replica of each shard that does the shard's work: the first one.
    func workers(_ nodes: ClusterNodes) -> [(shard: Int, runner: MigrationRunner)] {
        nodes.info.shards.map { ($0, shardRunner(nodes, nodes.info.hosts(shard: $0)[0])) }
    }

    /// Runs `body` for every shard at once; the first error wins.
    func perShard(_ nodes: ClusterNodes, _ body: @escaping @Sendable (Int, MigrationRunner) throws -> Void) throws {
        let list = workers(nodes)
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: list.count) { i in
            do { try body(list[i].shard, list[i].runner) } catch { errors.set(error) }
        }
        if let e = errors.first { throw e }
    }

    // MARK: - backfill per shard

    func clusterBackfill(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState, _ nodes: ClusterNodes) throws {
        guard state.strategy == .cutoff, var t = state.cutoff else {
            throw MigrationError.unsupported(MigrationSQL.fenceOnClusterRefusal)
        }
        if state.slices == nil {
            // A restart of the bridge that a killed run left half done is finished first.
            let pending = state.values[Self.bridgeRestartKey] == "1"
            let late = pending ? [] : try lateBridges(m, nodes, cutoff: t)
            if pending || !late.isEmpty {
                if !late.isEmpty {
                    // A host that was down when the bridge was created (it ran the queued DDL when it came
                    // back), or whose DDL queue was slow: inserts it took before its bridge passed none.
                    reporter.warning("\(m.name): the bridge reached \(late.map(nodes.describe).joined(separator: ", ")) only at or after T = \(t): rows written there in between passed no bridge; nothing is backfilled yet, so the bridge starts over on every host with a new T and \(s.new) emptied")
                }
                try restartBridge(m, s, &state)
                guard let again = state.cutoff else { throw MigrationError.inconsistent("no cutoff recorded after re-creating the bridge") }
                t = again
            }
        }
        try waitForLateness(cutoff: t, m)
        if state.slices == nil {
            let filter = s.sliceFilter(strategy: .cutoff, cutoff: t, parts: nil, slice: nil)
            let cap = min(m.batch ?? Int.max, m.throttle ?? Int.max)
            var list: [Slice] = []
            for (shard, runner) in workers(nodes) {
                let r = try runner.run(s.partitionCounts(filter: filter))
                for row in r.rows {
                    guard let p = row.first ?? nil, let n = Int((row.count > 1 ? row[1] : nil) ?? "") else { continue }
                    let buckets = cap == Int.max ? 1 : max(1, (n + cap - 1) / max(cap, 1))
                    for i in 0..<buckets {
                        list.append(Slice(partition: p, index: i, buckets: buckets, rows: buckets == 1 ? n : n / buckets, shard: shard))
                    }
                }
            }
            try store.write(m.name, [("slices", encodeJSON(list)), ("backfill_started", String(try serverNow()))])
            state = try store.load(m.name)
        }
        let all = state.slices ?? []
        let snapshot = state
        let total = all.reduce(0) { $0 + $1.rows }
        let progress = ProgressCounter(all.reduce(0) { $0 + (snapshot.slice($1.id)?.state == .done ? (snapshot.slice($1.id)?.rows ?? 0) : 0) })
        let started = clock.now()
        let db = m.to.database ?? database
        let label = "backfill \(m.name)"
        let reporter = self.reporter
        let clock = self.clock
        // The throttle is for the whole cluster: each shard gets its share.
        let shardLimit = m.throttle.map { max(1, $0 / max(nodes.info.shards.count, 1)) }
        try perShard(nodes) { shard, runner in
            var copiedHere = 0
            let shardStarted = clock.now()
            let leftovers = Set(
                try runner.run(CatalogQueries.tables(db, prefix: s.stagePrefix))
                    .rows.compactMap { $0.first ?? nil })
            // A run killed between recording a slice done and dropping its stage left the stage.
            for (index, slice) in all.enumerated() where slice.shard == shard && snapshot.slice(slice.id)?.state == .done
                && leftovers.contains(s.stageName(index)) {
                try runner.run(s.drop(s.stage(index)))
            }
            for (index, slice) in all.enumerated() where slice.shard == shard && snapshot.slice(slice.id)?.state != .done {
                let rows = try runner.copySlice(m, s, snapshot, slice, index: index, parts: nil, leftovers: leftovers, settings: [:], moves: NSLock())
                let done = progress.add(rows)
                copiedHere += rows
                if let limit = shardLimit {
                    let due = Double(copiedHere) / Double(limit)
                    let elapsed = clock.now() - shardStarted
                    if due > elapsed { clock.sleep(due - elapsed) }
                }
                reporter.progress(label, done: done, total: max(total, done), rowsPerSecond: Double(done) / max(clock.now() - started, 0.001))
            }
        }
        try fault("backfill.done")
        try store.write(m.name, "phase", MigrationPhase.backfilled.rawValue)
        state = try store.load(m.name)
        reporter.info("\(m.name): backfilled \(progress.value) rows in \(all.count) slice(s) on \(nodes.info.shards.count) shard(s)")
    }

    static let bridgeRestartKey = "bridge_restart"

    /// Drops the bridge everywhere, empties the new table on every shard (it holds
    /// only what the bridge forwarded), and makes the bridge again with a new
    /// T (`start`): rows written meanwhile are before the new T, so the
    /// backfill takes them. Recorded first, so a killed run's successor
    /// finishes the restart before it backfills anything (a new table
    /// holding rows of the old bridge would otherwise get them twice). The
    /// table itself stays: dropping and re-creating a Replicated table at the
    /// same ZooKeeper path fails (code 253) if a drop left its replica path.
    func restartBridge(_ m: MigrationDef, _ s: MigrationSQL, _ state: inout MigrationState) throws {
        try store.write(m.name, [(Self.bridgeRestartKey, "1")])
        try run(s.dropEverywhere(s.bridge, isView: true))
        if let nodes = cluster {
            // Not ON CLUSTER: two replicas of a shard truncating a Replicated table at once each
            // wait, holding the table, for the other's drop to reach them (seen on 18.16: hung for
            // 20 min, and the node's DDL queue with it). One replica per shard; replication does the rest.
            let hosts = m.to.isReplicated ? nodes.info.shards.map { nodes.info.hosts(shard: $0)[0] } : nodes.info.hosts
            for host in hosts { try nodes.transport(host).run(s.truncate(s.new)) }
        }
        try store.write(m.name, [("cutoff", ""), (Self.bridgeRestartKey, ""), ("phase", MigrationPhase.declared.rawValue)])
        state = try store.load(m.name)
        try start(m, s, &state)
    }

    /// Hosts whose bridge is missing or was created at or after T: rows with
    /// `cutoff >= T` written there before it existed reached neither the bridge nor the backfill.
    func lateBridges(_ m: MigrationDef, _ nodes: ClusterNodes, cutoff t: Int) throws -> [ClusterHost] {
        let db = m.to.database ?? database
        return try nodes.info.hosts.filter { host in
            let at = try nodes.transport(host).run(CatalogQueries.createdAt(db, m.bridge)).scalar.flatMap { Int($0) }
            return (at ?? Int.max) >= t
        }
    }

    // MARK: - verification per shard and replica agreement

    func clusterVerify(_ m: MigrationDef, _ s: MigrationSQL, _ state: MigrationState, _ nodes: ClusterNodes) throws -> VerificationReport {
        var report = VerificationReport(migration: m.name, rows: [], notes: [])
        let replicated = m.to.isReplicated
        for (shard, runner) in workers(nodes) {
            if replicated {
                try runner.run(s.syncReplica(s.new))
                if m.from.isReplicated { try runner.run(s.syncReplica(s.old)) }
            }
            let part = try runner.verify(m, s, state)
            report.rows += part.rows.map { var r = $0; r.partition = "shard \(shard) \(r.partition)"; return r }
        }
        report.notes.append("compared per shard on one replica of each (\(nodes.info.shards.count) shard(s))")
        guard replicated, let t = state.cutoff, let column = m.cutoffColumn else { return report }
        // Rows below T no longer change: every replica must hold exactly the same.
        let query = s.verifyQuery(s.new, image: false, filter: "\(quoteIdentifier(column)) < toDateTime(\(t))")
        for shard in nodes.info.shards {
            var reference: (ClusterHost, [String: (Int, String)])?
            for host in nodes.info.hosts(shard: shard) {
                let node = nodes.transport(host)
                try node.run(s.syncReplica(s.new))
                var sums: [String: (Int, String)] = [:]
                for row in try node.run(query).rows where row.count >= 3 {
                    sums[row[0] ?? ""] = (Int(row[1] ?? "") ?? 0, row[2] ?? "0")
                }
                guard let (refHost, ref) = reference else {
                    reference = (host, sums)
                    continue
                }
                for p in Set(ref.keys).union(sums.keys).sorted() {
                    let a = ref[p] ?? (0, "0"), b = sums[p] ?? (0, "0")
                    if a != b {
                        report.rows.append(.init(
                            partition: "shard \(shard): replica \(nodes.describe(host)) differs from \(nodes.describe(refHost)) in partition \(p)",
                            oldRows: a.0, newRows: b.0, oldChecksum: a.1, newChecksum: b.1))
                    }
                }
            }
        }
        report.notes.append("replicas of every shard agree on rows before T")
        return report
    }

    /// `status` of a clustered migration: read on the coordinator (the same
    /// answer through every node), with each shard's backfill progress.
    func clusterStatus(_ m: MigrationDef) throws -> [MigrationStatus] {
        try status(m).map { s in
            var s = s
            let st = try store.load(s.migration)
            let slices = (st.slices ?? []).filter { $0.shard != nil }
            s.shards = Dictionary(grouping: slices) { $0.shard ?? 0 }.keys.sorted().map { shard in
                let mine = slices.filter { $0.shard == shard }
                let done = mine.filter { st.slice($0.id)?.state == .done }
                let copied = done.reduce(0) { $0 + (st.slice($1.id)?.rows ?? 0) }
                // A bucket's rows are an estimate (partition rows / buckets) until it is copied.
                let left = mine.filter { st.slice($0.id)?.state != .done }.reduce(0) { $0 + $1.rows }
                return ShardProgress(shard: shard, rowsCopied: copied, rowsTotal: copied + left, slicesDone: done.count, slicesTotal: mine.count)
            }
            if !s.shards.isEmpty { s.rowsTotal = s.shards.reduce(0) { $0 + $1.rowsTotal } }
            return s
        }
    }

    /// Stage tables an interrupted backfill left on the shards' replicas.
    func dropClusterStages(_ s: MigrationSQL, _ nodes: ClusterNodes, db: String) throws {
        for host in nodes.info.hosts {
            let node = nodes.transport(host)
            let rows = try node.run(CatalogQueries.tables(db, prefix: s.stagePrefix)).rows
            for row in rows { if let n = row.first ?? nil { try node.run(s.drop(qualified(db, n))) } }
        }
    }
}

/// The first error of parallel work.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func set(_ e: any Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
    var first: (any Error)? { lock.lock(); defer { lock.unlock() }; return error }
}

/// Rows copied so far, added to from several shards at once.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int
    init(_ start: Int) { total = start }
    func add(_ n: Int) -> Int { lock.lock(); defer { lock.unlock() }; total += n; return total }
    var value: Int { lock.lock(); defer { lock.unlock() }; return total }
}
