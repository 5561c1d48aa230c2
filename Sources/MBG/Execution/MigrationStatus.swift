/// What `status` reports; built from the state table alone, so any process can read it.
public struct MigrationStatus: Sendable, Codable, Equatable {
    public var migration: String
    public var phase: MigrationPhase
    public var strategy: BackfillStrategy?
    public var cutoff: Int?
    public var rowsCopied: Int
    public var rowsTotal: Int
    public var slicesDone: Int
    public var slicesTotal: Int
    /// Partitions of the old table with every slice done / with some left.
    public var partitionsDone: Int
    public var partitionsLeft: Int
    public var rowsPerSecond: Double
    /// Seconds until the backfill ends at the current rate; nil when unknown or done.
    public var etaSeconds: Int?
    public var lockOwner: String?
    public var lockSince: String?
    public var lockAgeSeconds: Int?

    public var summary: String {
        var s = "\(migration): \(phase.rawValue)"
        if let strategy { s += ", strategy \(strategy.rawValue)" }
        if slicesTotal > 0 {
            s += ", \(rowsCopied)/\(rowsTotal) rows, partitions \(partitionsDone) done \(partitionsLeft) left"
        }
        if rowsPerSecond > 0 { s += ", \(Int(rowsPerSecond)) rows/s" }
        if let etaSeconds { s += ", ETA \(etaSeconds) s" }
        if let lockOwner { s += ", locked by \(lockOwner) since \(lockSince ?? "?")" }
        return s
    }
}

/// The result of comparing old and new, per partition.
public struct VerificationReport: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        public var partition: String
        public var oldRows: Int
        public var newRows: Int
        public var oldChecksum: String
        public var newChecksum: String
        public var matches: Bool { oldRows == newRows && oldChecksum == newChecksum }
    }
    public var migration: String
    public var rows: [Row]
    /// What was compared and how (e.g. rows still arriving are left out).
    public var notes: [String]
    /// What could not be compared, each with the reason; empty when all was.
    public var uncompared: [String] = []
    public var fullyCompared: Bool { uncompared.isEmpty }
    public var mismatches: [PartitionMismatch] {
        rows.filter { !$0.matches }.map {
            PartitionMismatch(partition: $0.partition, oldRows: $0.oldRows, newRows: $0.newRows,
                              oldChecksum: $0.oldChecksum, newChecksum: $0.newChecksum)
        }
    }
    public var ok: Bool { mismatches.isEmpty }
}
