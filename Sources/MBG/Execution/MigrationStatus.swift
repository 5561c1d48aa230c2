/// What `status` reports; built from the state table alone, so any process can read it.
package struct MigrationStatus: Sendable, Codable, Equatable {
    package var migration: String
    package var phase: MigrationPhase
    package var strategy: BackfillStrategy?
    package var cutoff: Int?
    package var rowsCopied: Int
    package var rowsTotal: Int
    package var slicesDone: Int
    package var slicesTotal: Int
    /// Partitions of the old table with every slice done / with some left.
    package var partitionsDone: Int
    package var partitionsLeft: Int
    package var rowsPerSecond: Double
    /// Seconds until the backfill ends at the current rate; nil when unknown or done.
    package var etaSeconds: Int?
    package var lockOwner: String?
    package var lockSince: String?
    package var lockAgeSeconds: Int?
    /// On a cluster: the backfill of each shard (empty on one server).
    package var shards: [ShardProgress] = []

    package var summary: String {
        var s = "\(migration): \(phase.rawValue)"
        if let strategy { s += ", strategy \(strategy.rawValue)" }
        if slicesTotal > 0 {
            s += ", \(rowsCopied)/\(rowsTotal) rows, partitions \(partitionsDone) done \(partitionsLeft) left"
        }
        if rowsPerSecond > 0 { s += ", \(Int(rowsPerSecond)) rows/s" }
        if let etaSeconds { s += ", ETA \(etaSeconds) s" }
        if let lockOwner { s += ", locked by \(lockOwner) since \(lockSince ?? "?")" }
        for p in shards { s += "; shard \(p.shard): \(p.rowsCopied)/\(p.rowsTotal) rows, \(p.slicesDone)/\(p.slicesTotal) slice(s)" }
        return s
    }
}

/// One shard's part of a clustered backfill, from the state table's slices.
package struct ShardProgress: Sendable, Codable, Equatable {
    package var shard: Int
    package var rowsCopied: Int
    package var rowsTotal: Int
    package var slicesDone: Int
    package var slicesTotal: Int
}

/// The result of comparing old and new, per partition.
package struct VerificationReport: Sendable, Codable, Equatable {
    package struct Row: Sendable, Codable, Equatable {
        package var partition: String
        package var oldRows: Int
        package var newRows: Int
        package var oldChecksum: String
        package var newChecksum: String
        package var matches: Bool { oldRows == newRows && oldChecksum == newChecksum }
    }
    package var migration: String
    package var rows: [Row]
    /// What was compared and how (e.g. rows still arriving are left out).
    package var notes: [String]
    /// What could not be compared, each with the reason; empty when all was.
    package var uncompared: [String] = []
    package var fullyCompared: Bool { uncompared.isEmpty }
    package var mismatches: [PartitionMismatch] {
        rows.filter { !$0.matches }.map {
            PartitionMismatch(partition: $0.partition, oldRows: $0.oldRows, newRows: $0.newRows,
                              oldChecksum: $0.oldChecksum, newChecksum: $0.newChecksum)
        }
    }
    package var ok: Bool { mismatches.isEmpty }
}
