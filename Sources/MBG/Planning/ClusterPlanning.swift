/// Clusters in the plan: the same steps as on one server, ON CLUSTER, plus one
/// backfill and one verification step per shard (the hosts come from the
/// catalog's topology; without it, dry-run shows one representative step).

extension MigrationSQL {
    /// Why a swap cut-over is refused on a cluster.
    static let swapOnClusterReason =
        "RENAME ON CLUSTER runs on each node at its own moment, so for a while some nodes would route writes to the new layout and others to the old, and the bridge (dropped first on 18.16) would miss rows written in between"
    static let swapOnClusterRefusal =
        "swap is refused on a cluster: \(swapOnClusterReason); use versioned cut-over (consumers move to the new name)"

    /// After the switch the bridge would run the transform's SELECT over rows
    /// of the new layout (a renamed column is gone, a retyped one differs) and
    /// fail every insert, or write them wrongly into the old data.
    static let swapWithTransformRefusal =
        "swap is refused with a transform: after the switch the bridge keeps the old data in step by running its SELECT over inserts into the old name, which then holds the new layout; the transform's SELECT expects the old layout, so it cannot run backwards. Use versioned cut-over (consumers move to the new name)"

    static let fenceOnClusterRefusal =
        "the fence strategy is refused on a cluster: it stops merges and reads part lists, which differ per replica of a Replicated table; declare a cutoff column (cutoff created_at lateness 5s)"

    /// Empties `table` on the node it is sent to; on a Replicated table the
    /// other replicas of that shard follow by replication.
    package func truncate(_ table: String) -> String { "TRUNCATE TABLE \(table)" }

    /// Makes a replica apply everything its replication queue holds.
    package func syncReplica(_ table: String) -> String { "SYSTEM SYNC REPLICA \(table)" }
}

extension Planner {
    /// Where a clustered table is described in notes: `mbg_cluster: 2 shard(s) x 2 replica(s): h1, h2, …`.
    func clusterNote(_ name: String) -> String {
        guard let c = inputs.catalog.topology?.cluster(name) else {
            return "cluster \(name): hosts are read from system.clusters when apply runs; every host must answer before anything is created"
        }
        let replicas = c.shards.map { c.hosts(shard: $0).count }.max() ?? 0
        return "cluster \(name): \(c.shards.count) shard(s) x \(replicas) replica(s): " + c.hosts.map(\.label).joined(separator: ", ")
    }

    /// A clustered (or Replicated) declared table that does not exist yet.
    func clusteredTableStep(_ t: TableDef) -> PlanStep {
        let sql = createTableStatements(t, database: inputs.database, capabilities: inputs.capabilities)
        var notes: [String] = []
        if let c = t.cluster { notes.append(clusterNote(c)) }
        if t.distributedBy != nil {
            notes.append("\(t.dataName) holds the rows on every node; \(t.physicalName) is the Distributed table consumers read and write")
        }
        if t.isReplicated && t.explicitReplicationPath == nil {
            notes.append(inputs.capabilities.atomicDatabase
                ? "ZooKeeper path {uuid}: unique to this table even after RENAME (Atomic database)"
                : "ZooKeeper path unique to \(t.dataName): a later version never shares it")
        }
        let summary = t.distributedBy == nil ? "create table \(t.physicalName)" : "create table \(t.dataName) and the Distributed table \(t.physicalName)"
        return PlanStep(.createTable, target: t.physicalName, summary: summary, sql: sql, notes: notes)
    }

    /// The backfill, once per shard: on one replica of each shard, local to
    /// local (never through Distributed, which would re-shard the rows).
    func clusterBackfillSteps(_ m: MigrationDef, _ s: MigrationSQL, _ backfill: PlanStep, strategy: BackfillStrategy) -> [PlanStep] {
        let name = s.cluster ?? ""
        var base = backfill
        base.notes.append("per shard, on one replica of each shard, shards in parallel; stage tables are local to that replica; the other replicas get the rows by replication")
        if strategy == .fence {
            base.status = .blocked
            base.notes.append(MigrationSQL.fenceOnClusterRefusal)
        }
        guard let c = inputs.catalog.topology?.cluster(name), !c.hosts.isEmpty else {
            base.summary = "backfill \(s.new) from \(s.old) on each shard of \(name), in slices"
            return [base]
        }
        return c.shards.map { shard in
            var step = base
            let host = c.hosts(shard: shard)[0]
            step.target = "\(s.newName)@shard\(shard)"
            step.summary = "backfill shard \(shard) on \(host.endpoint): \(s.new) from \(s.old) in slices"
            return step
        }
    }

    /// Verification per shard, then replica agreement on rows that can no longer change.
    func clusterVerifySteps(_ m: MigrationDef, _ s: MigrationSQL, _ steps: inout [PlanStep], cutoff: Int, done: Bool) {
        guard let verifyIndex = steps.lastIndex(where: { $0.kind == .verify }) else { return }
        var verify = steps[verifyIndex]
        let filter = "\(quoteIdentifier(m.cutoffColumn ?? "")) < toDateTime(\(cutoff))"
        let agree = [s.syncReplica(s.new), s.verifyQuery(s.new, image: false, filter: m.cutoffColumn == nil ? nil : filter)]
        let notes = ["after SYSTEM SYNC REPLICA every replica of a shard must hold the same count and checksum per partition; a mismatch names shard, replica and partition"]
        guard let c = inputs.catalog.topology?.cluster(s.cluster ?? ""), !c.hosts.isEmpty else {
            verify.summary = "verify \(s.new) against \(s.old) per shard and partition"
            steps[verifyIndex] = verify
            steps.insert(PlanStep(.verify, target: m.name, summary: "check that the replicas of every shard agree on \(s.new)",
                                  sql: agree, status: done ? .done : .pending, notes: notes), at: verifyIndex + 1)
            return
        }
        var perShard: [PlanStep] = []
        for shard in c.shards {
            var step = verify
            step.target = "\(m.name)@shard\(shard)"
            step.summary = "verify shard \(shard) on \(c.hosts(shard: shard)[0].endpoint): \(s.new) against \(s.old) per partition"
            perShard.append(step)
        }
        for shard in c.shards {
            let hosts = c.hosts(shard: shard)
            perShard.append(PlanStep(
                .verify, target: "\(m.name)@shard\(shard)",
                summary: "check that replicas \(hosts.map(\.endpoint).joined(separator: ", ")) of shard \(shard) agree on \(s.new)",
                sql: agree, status: done ? .done : .pending, notes: notes))
        }
        steps.replaceSubrange(verifyIndex...verifyIndex, with: perShard)
    }
}

extension Planner {
    /// Drift of a clustered table: its data table against the declaration
    /// with the Replicated arguments mbg would write, and the Distributed
    /// table in front of it (this node's view; the other nodes are checked
    /// when apply connects to them).
    func clusteredDrift(_ t: TableDef, _ live: CatalogTable) -> [String] {
        var declared = t
        declared.distributedBy = nil
        declared.cluster = nil
        let db = t.database ?? inputs.database
        if t.explicitReplicationPath == nil && t.isReplicated {
            declared.engine = replicatedEngine(t.engine, database: db, table: t.dataName, style: inputs.capabilities.atomicDatabase ? .uuid : .named)
        }
        guard t.distributedBy != nil else { return catalogTableDiff(declared: declared, live: live.definition) }
        guard let data = inputs.catalog.table(t.dataName, database: t.database) else {
            return ["\(t.dataName), the data behind the Distributed table \(t.physicalName), is missing on this node"]
        }
        var diffs = catalogTableDiff(declared: declared, live: data.definition)
        if !live.engine.hasPrefix("Distributed") {
            diffs.append("\(t.physicalName) is \(live.engine) on the server, not a Distributed table")
        }
        return diffs
    }
}
