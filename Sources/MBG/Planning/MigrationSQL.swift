/// The SQL of a migration's steps, built from the declaration alone (no server
/// access), so `plan` and `apply` print and send the same text.
public struct MigrationSQL: Sendable {
    public let migration: MigrationDef
    public let database: String
    public let capabilities: Capabilities
    /// Columns of the old table (from the declaration or the catalog).
    public let oldColumns: [ColumnDef]

    // Computed once: plans of big scripts build thousands of statements from these.
    let db: String
    public let oldName: String
    public let newName: String
    public let old: String
    public let new: String
    public let bridge: String
    /// The cluster every DDL of the migration runs ON (stage tables excepted:
    /// a stage is one node's scratch space).
    public let cluster: String?
    /// New-table columns the copy fills: all of them with a transform, else the
    /// ones the old table also has (the rest take their defaults).
    public let copiedColumns: [ColumnDef]
    let columnList: String
    /// `cityHash64(c1, c2, …)` over the copied columns, in the new table's order.
    public let rowHash: String
    /// The SELECT list turning old rows into new ones (with CASTs where types differ).
    private let imageColumns: String

    public init(_ m: MigrationDef, database: String, capabilities: Capabilities, oldColumns: [ColumnDef]? = nil) {
        migration = m
        self.database = database
        self.capabilities = capabilities
        let oldColumns = oldColumns ?? m.from.columns
        self.oldColumns = oldColumns
        db = m.to.database ?? database
        // Behind a Distributed table the rows live in `<name>_local`: bridge,
        // backfill and verification work local to local.
        oldName = m.from.dataName
        newName = m.to.dataName
        cluster = m.to.cluster ?? m.from.cluster
        old = qualified(m.from.database ?? database, oldName)
        new = qualified(db, newName)
        bridge = qualified(db, m.bridge)
        if m.transform != nil || oldColumns.isEmpty {
            copiedColumns = m.to.columns
        } else {
            let names = Set(oldColumns.map(\.name))
            copiedColumns = m.to.columns.filter { names.contains($0.name) }
        }
        columnList = copiedColumns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        rowHash = "cityHash64(\(columnList))"
        let oldTypes = Dictionary(oldColumns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        imageColumns = copiedColumns.map { c -> String in
            let q = quoteIdentifier(c.name)
            if let t = oldTypes[c.name], t != c.type { return "CAST(\(q) AS \(c.type)) AS \(q)" }
            return q
        }.joined(separator: ", ")
    }

    public func stageName(_ index: Int) -> String { "_mbg_stage_\(newName)_\(index)" }
    public func stage(_ index: Int) -> String { qualified(db, stageName(index)) }

    /// The old rows as the new table will hold them, restricted by `filter`
    /// (virtual columns such as `_part` allowed). `source` defaults to the old table.
    public func image(filter: String?, source: String? = nil) -> String {
        let src = source ?? old
        if let transform = migration.transform, source == nil {
            let sub = "(SELECT * FROM \(src)\(filter.map { " WHERE " + $0 } ?? ""))"
            return substituteSource(in: transform, with: sub)
        }
        return "SELECT \(imageColumns) FROM \(src)\(filter.map { " WHERE " + $0 } ?? "")"
    }

    /// Replaces the first reference to the old table in a transform with `replacement`.
    func substituteSource(in text: String, with replacement: String) -> String {
        let dbq = quoteIdentifier(migration.from.database ?? database)
        let candidates = [old, "\(dbq).\(quoteIdentifier(oldName))", "`\(oldName)`", quoteIdentifier(oldName), oldName]
        for c in candidates {
            if let r = text.range(of: c) { return text.replacingCharacters(in: r, with: replacement) }
        }
        return text
    }

    /// The new version: its data table, and on a cluster with `distributed`
    /// the Distributed table in front of it.
    public func createNewTables() -> [String] {
        var t = migration.to
        t.database = db
        if t.cluster == nil && t.distributedBy == nil && !t.isReplicated { return [createTableSQL(t)] }
        return createTableStatements(t, database: db, capabilities: capabilities)
    }

    /// The old version's Distributed table, dropped by finish after its data table.
    public var oldDistributed: String? {
        migration.from.distributedBy == nil ? nil : qualified(migration.from.database ?? database, migration.from.physicalName)
    }
    /// The new version's Distributed table, dropped by rollback.
    public var newDistributed: String? {
        migration.to.distributedBy == nil ? nil : qualified(db, migration.to.physicalName)
    }

    /// The bridge never uses POPULATE: rows that existed before it come from the backfill.
    public func createBridge(cutoff: Int?) -> String {
        let filter = cutoff.map { "\(quoteIdentifier(migration.cutoffColumn ?? "")) >= toDateTime(\($0))" }
        let select = image(filter: filter)
        return "CREATE MATERIALIZED VIEW IF NOT EXISTS \(bridge)\(onCluster(cluster)) TO \(new) AS \(select)"
    }

    /// Rows the backfill copies, for one strategy and slice.
    public func sliceFilter(strategy: BackfillStrategy, cutoff: Int?, parts: [String]?, slice: Slice?) -> String {
        var f: [String] = []
        if let slice { f.append("_partition_id = \(quoteString(slice.partition))") }
        switch strategy {
        case .cutoff: f.append("\(quoteIdentifier(migration.cutoffColumn ?? "")) < toDateTime(\(cutoff ?? 0))")
        case .fence:
            if let parts { f.append("_part IN (\(parts.isEmpty ? "''" : parts.map(quoteString).joined(separator: ", ")))") }
        }
        if let slice, slice.buckets > 1 { f.append("\(rowHash) % \(slice.buckets) = \(slice.index)") }
        return f.joined(separator: " AND ")
    }

    public func createStage(_ index: Int) -> String {
        guard migration.to.isReplicated else { return "CREATE TABLE \(stage(index)) AS \(new)" }
        // `AS new` would copy the ZooKeeper path: the stage would join the new version's replicas.
        var t = migration.to
        t.database = db
        t.engine = unreplicatedEngine(t.engine)
        t.cluster = nil
        t.distributedBy = nil
        return createTableSQL(t, ifNotExists: false, name: stageName(index))
    }

    public func fillStage(_ index: Int, filter: String) -> String {
        "INSERT INTO \(stage(index)) (\(columnList)) \(image(filter: filter))"
    }

    /// count and order-free checksum (sum of row hashes; XOR would cancel duplicated pairs).
    public func checksum(of select: String) -> String {
        "SELECT count(), toString(sum(\(rowHash))) FROM (\(select))"
    }
    public func checksumTable(_ table: String, where filter: String? = nil) -> String {
        "SELECT count(), toString(sum(\(rowHash))) FROM \(table)\(filter.map { " WHERE " + $0 } ?? "")"
    }

    /// Stage to new, additively: the bridge may be writing into the same partition.
    /// MOVE PARTITION TO TABLE (19.x+) is atomic and empties the stage partition;
    /// 18.16 lacks it, so ATTACH PARTITION FROM (hard links, adds parts) then DROP.
    public func moveStage(_ index: Int, partition: String) -> [String] {
        if capabilities.modernSQL {
            return ["ALTER TABLE \(stage(index)) MOVE PARTITION ID \(quoteString(partition)) TO TABLE \(new)"]
        }
        return [
            "ALTER TABLE \(new) ATTACH PARTITION ID \(quoteString(partition)) FROM \(stage(index))",
            "ALTER TABLE \(stage(index)) DROP PARTITION ID \(quoteString(partition))",
        ]
    }

    public func drop(_ table: String, isView: Bool = false) -> String {
        let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
        return "DROP \(kind) IF EXISTS \(table)\(capabilities.atomicDatabase ? " SYNC" : "")"
    }

    /// A drop of what the migration created or replaces: ON CLUSTER on a cluster.
    public func dropEverywhere(_ table: String, isView: Bool = false) -> String {
        guard cluster != nil else { return drop(table, isView: isView) }
        let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
        return "DROP \(kind) IF EXISTS \(table)\(onCluster(cluster))\(capabilities.atomicDatabase ? " SYNC" : "")"
    }

    /// Drops of a version (its Distributed table first, then its data).
    public func dropVersion(old: Bool) -> [String] {
        let distributed = old ? oldDistributed : newDistributed
        return (distributed.map { [dropEverywhere($0)] } ?? []) + [dropEverywhere(old ? self.old : new)]
    }

    public func stopMerges(_ table: String) -> String { "SYSTEM STOP MERGES \(table)" }
    public func startMerges(_ table: String) -> String { "SYSTEM START MERGES \(table)" }

    /// Exact swap on Atomic databases: the bridge stays bound to the old name and
    /// from then on copies new inserts into the old data (lossless rollback).
    public var exchange: String { "EXCHANGE TABLES \(old) AND \(new)" }

    /// 18.x swap: one multi-table RENAME (with the bridge dropped first, because a
    /// view left on the name breaks every insert on 18.16).
    public var renameSwap: String {
        let tmp = qualified(db, "_mbg_swap_\(newName)")
        return "RENAME TABLE \(old) TO \(tmp), \(new) TO \(old), \(tmp) TO \(new)"
    }

    /// Partition label used when comparing old and new: the old partition key,
    /// evaluated on both sides (so it also works when the new layout repartitions).
    public var partitionLabel: String {
        if migration.transform != nil { return "'all'" }
        guard let p = migration.from.partitionBy, !p.isEmpty, p != "tuple()" else { return "'all'" }
        return "toString(\(p))"
    }

    public func verifyQuery(_ table: String, image: Bool, filter: String?) -> String {
        if image {
            return "SELECT \(partitionLabel) AS p, count(), toString(sum(\(rowHash))) FROM (\(self.image(filter: filter))) GROUP BY p ORDER BY p"
        }
        return "SELECT \(partitionLabel) AS p, count(), toString(sum(\(rowHash))) FROM \(table)\(filter.map { " WHERE " + $0 } ?? "") GROUP BY p ORDER BY p"
    }
}
