/// How the backfill goes through stage tables. A slice is a whole partition
/// unless `batch` or `throttle` ask for smaller ones. When every slice is a
/// whole partition of the same partitioning, the partitions are dealt into a
/// few groups, and each group is one stage table filled by one INSERT and then
/// moved into the new table partition by partition: the copy runs at the
/// engine's own rate instead of paying a dozen statements per partition. A
/// slice still moves in whole (a move is atomic), and it is recorded staged
/// before any of its group moves, so a retry never counts it twice.
package enum BackfillGroups {
    /// Whole partitions share a stage only when nothing asks for smaller
    /// slices and a partition of the old table is a partition of the stage.
    package static func apply(to m: MigrationDef, clustered: Bool) -> Bool {
        !clustered && m.throttle == nil && m.batch == nil && m.transform == nil && m.from.partitionBy == m.to.partitionBy
    }

    /// At most this many partitions in one INSERT: the server refuses a block
    /// that spans more than `max_partitions_per_insert_block` (100 by default).
    package static let maxPartitions = 50

    /// Positions of `rows` (one entry a partition) dealt into `workers` groups of
    /// about equal rows (more groups where one would exceed `maxPartitions`);
    /// each group in position order, the groups by their first position.
    package static func deal(_ rows: [Int], workers: Int) -> [[Int]] {
        guard !rows.isEmpty else { return [] }
        let count = min(rows.count, max(max(1, workers), (rows.count + maxPartitions - 1) / maxPartitions))
        var groups = Array(repeating: [Int](), count: count)
        var load = Array(repeating: 0, count: count)
        for i in rows.indices.sorted(by: { rows[$0] != rows[$1] ? rows[$0] > rows[$1] : $0 < $1 }) {
            let g = load.indices.filter { groups[$0].count < maxPartitions }.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 } ?? 0
            groups[g].append(i)
            load[g] += rows[i]
        }
        return groups.map { $0.sorted() }.filter { !$0.isEmpty }.sorted { $0[0] < $1[0] }
    }
}
