/// The SQL of a migration's steps, built from the declaration alone (no server
/// access), so `plan` and `apply` print and send the same text.
package struct MigrationSQL: Sendable {
    package let migration: MigrationDef
    package let database: String
    package let capabilities: Capabilities
    /// Columns of the old table (from the declaration or the catalog).
    package let oldColumns: [ColumnDef]

    // Computed once: plans of big scripts build thousands of statements from these.
    let db: String
    package let oldName: String
    package let newName: String
    package let old: String
    package let new: String
    package let bridge: String
    /// The cluster every DDL of the migration runs ON (stage tables excepted:
    /// a stage is one node's scratch space).
    package let cluster: String?
    /// New-table columns the copy fills: all of them with a transform, else the
    /// ones the old table also has (the rest take their defaults).
    package let copiedColumns: [ColumnDef]
    let columnList: String
    /// `cityHash64(c1, c2, …)` over the copied columns, in the new table's order (see `hashArgument`).
    package let rowHash: String
    /// The SELECT list turning old rows into new ones (with CASTs where types differ).
    private let imageColumns: String
    /// `CAST(expr AS T) AS c` for the new table's stored columns the copy does not
    /// fill (MATERIALIZED, or DEFAULT ones the old table lacks).
    private let computedColumns: [String]
    /// Columns a catch-up back into the old table fills: insertable there, stored in the new one.
    let reverseColumnList: String

    package init(_ m: MigrationDef, database: String, capabilities: Capabilities, oldColumns: [ColumnDef]? = nil) {
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
        stagePrefix = "_mbg_stage_\(newName)_"
        cluster = m.to.cluster ?? m.from.cluster
        old = qualified(m.from.database ?? database, oldName)
        new = qualified(db, newName)
        bridge = qualified(db, m.bridge)
        // Only columns an INSERT may name are filled, and only from columns the
        // old table stores (ALIAS and EPHEMERAL ones are not in its rows).
        let insertable = m.to.columns.filter(\.isCopied)
        if m.transform != nil || oldColumns.isEmpty {
            copiedColumns = insertable
        } else {
            let stored = Set(oldColumns.filter(\.isStored).map(\.name))
            copiedColumns = insertable.filter { stored.contains($0.name) }
        }
        columnList = copiedColumns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let oldTypes = Dictionary(oldColumns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        rowHash = "cityHash64(\(copiedColumns.map { Self.hashArgument($0.name, types: [$0.type, oldTypes[$0.name] ?? ""]) }.joined(separator: ", ")))"
        imageColumns = copiedColumns.map { c -> String in
            let q = quoteIdentifier(c.name)
            if let t = oldTypes[c.name], t != c.type { return "CAST(\(q) AS \(c.type)) AS \(q)" }
            return q
        }.joined(separator: ", ")
        // Stored columns of the new table the copy leaves to their expressions.
        let copied = Set(copiedColumns.map(\.name))
        computedColumns = m.to.columns.filter { c in
            c.isStored && !copied.contains(c.name) && c.defaultExpression.map { !$0.isEmpty } == true
        }.map { "CAST(\($0.defaultExpression!) AS \($0.type)) AS \(quoteIdentifier($0.name))" }
        let newStored = Set(m.to.columns.filter(\.isStored).map(\.name))
        reverseColumnList = oldColumns.filter { $0.isCopied && newStored.contains($0.name) }
            .map { quoteIdentifier($0.name) }.joined(separator: ", ")
    }

    /// A column as `cityHash64` takes it: the text of a one-element tuple when
    /// its type (old or new) holds a Nullable, whose NULL would make the row's
    /// hash NULL (sums skip the row, hash buckets lose it), or a Decimal, which
    /// 18.16 cannot hash; `(NULL)` and `('NULL')` stay apart.
    private static func hashArgument(_ name: String, types: [String]) -> String {
        let q = quoteIdentifier(name)
        return types.contains { $0.containsText("Nullable") || $0.containsText("Decimal") } ? "toString(tuple(\(q)))" : q
    }

    /// `_mbg_stage_<new>_`; stage n is this and n.
    let stagePrefix: String
    package func stageName(_ index: Int) -> String { stagePrefix + String(index) }
    package func stage(_ index: Int) -> String { qualified(db, stageName(index)) }

    /// The old rows as the new table will hold them, restricted by `filter`
    /// (virtual columns such as `_part` allowed). `source` defaults to the old table.
    package func image(filter: String?, source: String? = nil) -> String {
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
    package func createNewTables() -> [String] {
        var t = migration.to
        t.database = db
        if t.cluster == nil && t.distributedBy == nil && !t.isReplicated { return [createTableSQL(t)] }
        return createTableStatements(t, database: db, capabilities: capabilities)
    }

    /// The old version's Distributed table, dropped by finish after its data table.
    package var oldDistributed: String? {
        migration.from.distributedBy == nil ? nil : qualified(migration.from.database ?? database, migration.from.physicalName)
    }
    /// The new version's Distributed table, dropped by rollback.
    package var newDistributed: String? {
        migration.to.distributedBy == nil ? nil : qualified(db, migration.to.physicalName)
    }

    /// The shape a server is expected to accept; `apply` proves it on empty
    /// copies first and falls back to the other one.
    package var defaultBridgeShape: BridgeShape { capabilities.modernSQL ? .copiedOnly : .computedToo }

    /// The bridge never uses POPULATE: rows that existed before it come from the backfill.
    package func createBridge(cutoff: Int?, shape: BridgeShape? = nil) -> String {
        let filter = cutoff.map { "\(quoteIdentifier(migration.cutoffColumn ?? "")) >= toDateTime(\($0))" }
        return "CREATE MATERIALIZED VIEW IF NOT EXISTS \(bridge)\(onCluster(cluster)) TO \(new) AS \(bridgeSelect(filter: filter, source: nil, shape: shape ?? defaultBridgeShape))"
    }

    func bridgeSelect(filter: String?, source: String?, shape: BridgeShape) -> String {
        if let transform = migration.transform {
            guard let source else { return image(filter: filter) }
            return substituteSource(in: transform, with: source)
        }
        var select = image(filter: nil, source: source)
        if shape == .computedToo && !computedColumns.isEmpty {
            let from = " FROM \(source ?? old)"
            if let r = select.range(of: from, options: .backwards) {
                select.replaceSubrange(r, with: ", " + computedColumns.joined(separator: ", ") + from)
            }
        }
        return select + (filter.map { " WHERE " + $0 } ?? "")
    }

    // MARK: - Bridge probe: the bridge's SELECT proven on empty copies

    func probeName(_ role: String) -> String { qualified(db, "_mbg_probe_\(role)_\(newName)") }
    /// A Null-engine copy of the old table: inserts into it reach its views, store nothing.
    package var probeSource: String { probeName("src") }
    package var probeTarget: String { probeName("dst") }
    package var probeBridge: String { probeName("mv") }

    package func createProbeSource() -> String { "CREATE TABLE \(probeSource) AS \(old) ENGINE = Null" }
    /// Same engine as the new table: its write path is what rejects a bad block.
    /// Except the collapsing engines: they reject the probe's row of defaults
    /// for its sign (0, not ±1), which says nothing about the bridge, so there
    /// the copy is a plain MergeTree with the same columns and keys.
    package func createProbeTarget() -> String {
        if migration.to.isReplicated { return localCopyOfNew(named: "_mbg_probe_dst_\(newName)") }
        if migration.to.engine.containsText("CollapsingMergeTree") {
            // The keys stay: 26.9 takes SAMPLE BY from the AS table, and it must be in the key.
            let t = migration.to
            var sql = "CREATE TABLE \(probeTarget) AS \(new) ENGINE = MergeTree"
            if let p = t.partitionBy, !p.isEmpty { sql += " PARTITION BY \(p)" }
            sql += " ORDER BY \(keyTuple(t.effectiveOrderBy))"
            if let pk = t.effectivePrimaryKey { sql += " PRIMARY KEY \(keyTuple(pk))" }
            if let sample = t.sampleBy, !sample.isEmpty { sql += " SAMPLE BY \(sample)" }
            return sql
        }
        return "CREATE TABLE \(probeTarget) AS \(new)"
    }
    /// A table TTL may drop the probe's row of defaults (its time is 1970) before it
    /// is counted: under ttl_only_drop_parts an expired part goes at once. TTL never
    /// rejects a block, so the copy goes without it.
    package var removeProbeTTL: String? { migration.to.ttl == nil ? nil : "ALTER TABLE \(probeTarget) REMOVE TTL" }
    package func createProbeBridge(shape: BridgeShape) -> String {
        "CREATE MATERIALIZED VIEW \(probeBridge) TO \(probeTarget) AS \(bridgeSelect(filter: nil, source: probeSource, shape: shape))"
    }
    /// One row of defaults (an aggregate over no rows gives one row), as a
    /// writer naming a single column would send it.
    package var probeInsert: String {
        let c = quoteIdentifier(oldColumns.first(where: \.isCopied)?.name ?? copiedColumns.first?.name ?? "")
        return "INSERT INTO \(probeSource) (\(c)) SELECT any(\(c)) FROM \(old) WHERE 0"
    }
    package var probeCount: String { "SELECT count() FROM \(probeTarget)" }
    package var dropProbe: [String] { [drop(probeBridge, isView: true), drop(probeTarget), drop(probeSource)] }

    /// Rows the backfill copies, for one strategy and slice.
    package func sliceFilter(strategy: BackfillStrategy, cutoff: Int?, parts: [String]?, slice: Slice?) -> String {
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

    /// Rows of the partitions `ids` (a group of whole-partition slices).
    package func partitionsFilter(_ ids: [String]) -> String {
        "_partition_id IN (\(ids.map(quoteString).joined(separator: ", ")))"
    }

    package func createStage(_ index: Int) -> String {
        guard migration.to.isReplicated else { return "CREATE TABLE \(stage(index)) AS \(new)" }
        return localCopyOfNew(named: stageName(index))
    }

    /// The new table's layout on this node only, without replication: `AS new`
    /// would copy the ZooKeeper path and join the new version's replicas.
    func localCopyOfNew(named name: String) -> String {
        var t = migration.to
        t.database = db
        t.engine = unreplicatedEngine(t.engine)
        (t.cluster, t.distributedBy) = (nil, nil)
        return createTableSQL(t, ifNotExists: false, name: name)
    }

    package func fillStage(_ index: Int, filter: String) -> String {
        "INSERT INTO \(stage(index)) (\(columnList)) \(image(filter: filter))"
    }

    /// count and order-free checksum (sum of row hashes; XOR would cancel duplicated pairs).
    package func checksum(of select: String) -> String {
        "SELECT count(), toString(sum(\(rowHash))) FROM (\(select))"
    }
    package func countTable(_ table: String) -> String { "SELECT count() FROM \(table)" }
    package func checksumTable(_ table: String, where filter: String? = nil) -> String {
        "SELECT count(), toString(sum(\(rowHash))) FROM \(table)\(filter.map { " WHERE " + $0 } ?? "")"
    }

    /// Stage to new, additively: the bridge may be writing into the same partition.
    /// MOVE PARTITION TO TABLE (19.x+) is atomic and empties the stage partition;
    /// 18.16 lacks it, so ATTACH PARTITION FROM (hard links, adds parts) then DROP.
    package func moveStage(_ index: Int, partition: String) -> [String] {
        if capabilities.modernSQL {
            return ["ALTER TABLE \(stage(index)) MOVE PARTITION ID \(quoteString(partition)) TO TABLE \(new)"]
        }
        return [
            "ALTER TABLE \(new) ATTACH PARTITION ID \(quoteString(partition)) FROM \(stage(index))",
            "ALTER TABLE \(stage(index)) DROP PARTITION ID \(quoteString(partition))",
        ]
    }

    // MARK: - Reads and catch-ups the runner composes

    /// Rows per partition of the old table that `filter` selects.
    package func partitionCounts(filter: String) -> String {
        "SELECT _partition_id, count() FROM \(old) WHERE \(filter) GROUP BY _partition_id ORDER BY _partition_id"
    }

    /// How many rows of `part` (of `source`, default the old table) are in `target`.
    package func reachedCount(part: String, source: String?, target: String) -> String {
        let image = self.image(filter: "_part = \(quoteString(part))", source: source)
        return "SELECT count() FROM \(target) WHERE \(rowHash) IN (SELECT \(rowHash) FROM (\(image)))"
    }

    /// Rows whose hash is (or with `among: false`, is not) that of a row of
    /// the old table's image where `filter` holds.
    package func hash(among: Bool, oldRowsWhere filter: String) -> String {
        "\(rowHash) \(among ? "IN" : "NOT IN") (SELECT \(rowHash) FROM (\(image(filter: filter))))"
    }

    package func stagePartitionCount(_ index: Int, partition: String) -> String {
        "SELECT count() FROM \(stage(index)) WHERE _partition_id = \(quoteString(partition))"
    }
    /// Rows of a stage partition already in the new table (an interrupted 18.x move).
    package func stagePartitionReached(_ index: Int, partition: String) -> String {
        "SELECT count() FROM \(new) WHERE \(rowHash) IN (SELECT \(rowHash) FROM \(stage(index)) WHERE _partition_id = \(quoteString(partition)))"
    }
    package func dropStagePartition(_ index: Int, partition: String) -> String {
        "ALTER TABLE \(stage(index)) DROP PARTITION ID \(quoteString(partition))"
    }

    func partFilter(_ parts: [String]) -> String { "_part IN (\(parts.map(quoteString).joined(separator: ", ")))" }

    /// After a swap (the old name holds the new layout): copies `parts` of the
    /// old data (now under the new version's name) into it.
    package func catchUpForward(parts: [String]) -> String {
        "INSERT INTO \(old) (\(columnList)) " + image(filter: partFilter(parts), source: new)
    }

    /// After switching back (the new layout under the new version's name again):
    /// copies `parts` of it into the old data.
    package func catchUpBack(parts: [String]) -> String {
        "INSERT INTO \(old) (\(reverseColumnList)) SELECT \(reverseColumnList) FROM \(new) WHERE \(partFilter(parts))"
    }

    /// count and checksum of each of `parts` of `table`.
    package func partChecksums(_ table: String, parts: [String]) -> String {
        "SELECT _part, count(), toString(sum(\(rowHash))) FROM \(table) WHERE \(partFilter(parts)) GROUP BY _part ORDER BY _part"
    }

    /// The rows of `parts` of the table under the new version's name, as the
    /// table under the old name stores them, and the columns they fill: after a
    /// swap (`forward`, the old data there, the new layout under the old name)
    /// or after switching back (the new layout there again).
    func straddleSource(parts: [String], forward: Bool) -> (select: String, columns: String) {
        forward
            ? (image(filter: partFilter(parts), source: new), columnList)
            : ("SELECT \(reverseColumnList) FROM \(new) WHERE \(partFilter(parts))", reverseColumnList)
    }

    /// Rows `select` yields more often than `targetParts` of `target` hold them:
    /// `h` (the row's hash over `columns`) and `d`, how many copies are missing.
    /// Counting, not matching: a row written twice on purpose is twice on both sides.
    func missingRows(_ select: String, columns: String, target: String, targetParts: [String]) -> String {
        let h = "cityHash64(\(columns))"
        let have = targetParts.isEmpty ? "0" : partFilter(targetParts)
        return "SELECT h, toInt64(countIf(s = 1)) - toInt64(countIf(s = 0)) AS d FROM (SELECT \(h) AS h, 1 AS s FROM (\(select)) UNION ALL SELECT \(h) AS h, 0 AS s FROM \(target) WHERE \(have)) GROUP BY h HAVING d > 0"
    }

    /// How many times over `targetParts` of the table under the old name hold
    /// every row of `part` (see `straddleSource`).
    package func straddleTargetCopies(part: String, targetParts: [String], forward: Bool) -> String {
        let (select, columns) = straddleSource(parts: [part], forward: forward)
        let h = "cityHash64(\(columns))"
        let have = targetParts.isEmpty ? "0" : partFilter(targetParts)
        return "SELECT min(intDiv(t, p)) FROM (SELECT h, countIf(s = 1) AS p, countIf(s = 0) AS t FROM (SELECT \(h) AS h, 1 AS s FROM (\(select)) UNION ALL SELECT \(h) AS h, 0 AS s FROM \(old) WHERE \(have)) GROUP BY h HAVING p > 0)"
    }
    package func dropPart(_ table: String, part: String) -> String { "ALTER TABLE \(table) DROP PART \(quoteString(part))" }

    /// How many rows of `parts` (see `straddleSource`) the table under the old
    /// name lacks among its `targetParts`.
    package func straddleMissingCount(parts: [String], targetParts: [String], forward: Bool) -> String {
        let (select, columns) = straddleSource(parts: parts, forward: forward)
        return "SELECT toInt64(sum(d)) FROM (\(missingRows(select, columns: columns, target: old, targetParts: targetParts)))"
    }

    /// Where the rows an exchange's straddlers missed are gathered: inserted
    /// into the table under the old name they would pass the bridge and reach
    /// the other side a second time; moved in by partition they do not.
    package var straddleStageName: String { "_mbg_straddle_\(newName)" }
    package var straddleStage: String { qualified(db, straddleStageName) }
    package var createStraddleStage: String { "CREATE TABLE \(straddleStage) AS \(old)" }

    /// Fills the straddle stage with each row of `parts` that the table under
    /// the old name lacks among its `targetParts`, as many times as it is
    /// missing (26.9: window functions).
    package func fillStraddleStage(parts: [String], targetParts: [String], forward: Bool) -> String {
        let (select, columns) = straddleSource(parts: parts, forward: forward)
        let missing = missingRows(select, columns: columns, target: old, targetParts: targetParts)
        let numbered = "SELECT *, row_number() OVER (PARTITION BY _mbg_h) AS _mbg_n FROM (SELECT *, cityHash64(\(columns)) AS _mbg_h FROM (\(select)))"
        return "INSERT INTO \(straddleStage) (\(columns)) SELECT \(columns) FROM (\(numbered)) WHERE (_mbg_h, _mbg_n) IN (SELECT h, arrayJoin(range(1, toUInt64(d) + 1)) FROM (\(missing)))"
    }

    package func moveStraddleStage(partition: String) -> String {
        "ALTER TABLE \(straddleStage) MOVE PARTITION ID \(quoteString(partition)) TO TABLE \(old)"
    }

    package func drop(_ table: String, isView: Bool = false) -> String {
        let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
        return "DROP \(kind) IF EXISTS \(table)\(capabilities.atomicDatabase ? " SYNC" : "")"
    }

    /// A drop of what the migration created or replaces: ON CLUSTER on a cluster.
    package func dropEverywhere(_ table: String, isView: Bool = false) -> String {
        guard cluster != nil else { return drop(table, isView: isView) }
        let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
        return "DROP \(kind) IF EXISTS \(table)\(onCluster(cluster))\(capabilities.atomicDatabase ? " SYNC" : "")"
    }

    /// Drops of a version (its Distributed table first, then its data).
    package func dropVersion(old: Bool) -> [String] {
        let distributed = old ? oldDistributed : newDistributed
        return (distributed.map { [dropEverywhere($0)] } ?? []) + [dropEverywhere(old ? self.old : new)]
    }

    package func stopMerges(_ table: String) -> String { "SYSTEM STOP MERGES \(table)" }
    package func startMerges(_ table: String) -> String { Self.startMerges(table) }
    static func startMerges(_ table: String) -> String { "SYSTEM START MERGES \(table)" }

    /// Exact swap on Atomic databases: the bridge stays bound to the old name and
    /// from then on copies new inserts into the old data (lossless rollback).
    package var exchange: String { "EXCHANGE TABLES \(old) AND \(new)" }

    /// 18.x swap: one multi-table RENAME (with the bridge dropped first, because a
    /// view left on the name breaks every insert on 18.16).
    package var renameSwap: String {
        let tmp = qualified(db, "_mbg_swap_\(newName)")
        return "RENAME TABLE \(old) TO \(tmp), \(new) TO \(old), \(tmp) TO \(new)"
    }

    /// Partition label used when comparing old and new: the old partition key,
    /// evaluated on both sides (so it also works when the new layout repartitions).
    package var partitionLabel: String {
        if migration.transform != nil { return "'all'" }
        guard let p = migration.from.partitionBy, !p.isEmpty, p != "tuple()" else { return "'all'" }
        return "toString(\(p))"
    }

    /// Rows and checksum per old partition of `table`, or of the old rows as
    /// the new table holds them (`image`).
    package func verifyQuery(_ table: String, image: Bool, filter: String?) -> String {
        let label = partitionLabel
        if image {
            return "SELECT \(label) AS p, count(), toString(sum(\(rowHash))) FROM (\(self.image(filter: filter))) GROUP BY p ORDER BY p"
        }
        return "SELECT \(label) AS p, count(), toString(sum(\(rowHash))) FROM \(table)\(filter.map { " WHERE " + $0 } ?? "") GROUP BY p ORDER BY p"
    }
}

/// Backfill slices copied at once when a migration does not say (`parallel N`):
/// one slice fills while another is recorded and moved.
package let defaultBackfillParallel = 2

/// How the bridge's SELECT fills the new table's stored columns that the copy
/// does not (MATERIALIZED ones, DEFAULT ones the old table lacks).
package enum BridgeShape: String, Sendable, Codable {
    /// Only the copied columns: the target computes the rest. Current servers
    /// refuse a view whose SELECT outputs a MATERIALIZED column of its target.
    case copiedOnly = "copied_only"
    /// Also every such column, computed from its expression: 18.x pushes a
    /// view's block to its target without computing them (`Expected column day`).
    case computedToo = "computed_too"
}

extension ColumnDef {
    /// The copy writes it: ordinary and DEFAULT columns (MATERIALIZED and ALIAS
    /// are computed by the table, EPHEMERAL ones are not stored to copy from).
    var isCopied: Bool { kind == .ordinary || kind == .defaulted }
    var isMaterialized: Bool { kind == .materialized }
}
