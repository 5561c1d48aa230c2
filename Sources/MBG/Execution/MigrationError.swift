/// Why a migration stopped. Each case maps to one of the CLI's exit categories.
public enum MigrationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Another run holds the migration's lock.
    case locked(migration: String, owner: String, since: String, heartbeatAgeSeconds: Int, stale: Bool)
    /// Old and new disagree; nothing was cut over.
    case verificationMismatch(migration: String, partitions: [PartitionMismatch])
    /// Nothing differed, but not everything could be compared (the reasons say what and why).
    case notFullyCompared(migration: String, reasons: [String], notes: [String])
    /// The step cannot run in the migration's current phase.
    case wrongPhase(migration: String, phase: MigrationPhase, action: String, hint: String)
    /// The server or the migration lacks something the step needs.
    case unsupported(String)
    /// The server's catalog contradicts what the migration expects.
    case inconsistent(String)
    /// A fault injected by a test at a named point.
    case injectedFault(String)

    public enum Category: String, Sendable { case script, clickhouse, verification }

    /// The exit-code family the CLI reports this under.
    public var category: Category {
        switch self {
        case .verificationMismatch, .notFullyCompared: .verification
        case .locked, .inconsistent, .injectedFault: .clickhouse
        case .wrongPhase, .unsupported: .script
        }
    }

    public var description: String {
        switch self {
        case .locked(let m, let owner, let since, let age, let stale):
            let tail =
                stale
                ? "its heartbeat is \(age) s old, so it looks dead; take it over explicitly (apply with takeOverLock) if that process is gone"
                : "last heartbeat \(age) s ago; wait for it to finish"
            return "migration '\(m)' is locked by \(owner) since \(since); \(tail)"
        case .verificationMismatch(let m, let parts):
            let list = parts.map(\.description).joined(separator: "; ")
            return "verification mismatch in migration '\(m)', not cut over: \(list)"
        case .notFullyCompared(let m, let reasons, let notes):
            return "migration '\(m)' not fully compared (nothing differed in what was): " + (reasons + notes).joined(separator: "; ")
        case .wrongPhase(let m, let phase, let action, let hint):
            return "cannot \(action) migration '\(m)' in phase \(phase.rawValue): \(hint)"
        case .unsupported(let s), .inconsistent(let s): return s
        case .injectedFault(let point): return "injected fault at \(point)"
        }
    }
}

/// One partition (or slice) whose old and new sides differ.
public struct PartitionMismatch: Equatable, Sendable, CustomStringConvertible, Codable {
    public var partition: String
    public var oldRows: Int
    public var newRows: Int
    public var oldChecksum: String
    public var newChecksum: String
    public var description: String {
        "partition \(partition): old \(oldRows) rows (checksum \(oldChecksum)), new \(newRows) rows (checksum \(newChecksum))"
    }
}
