import Foundation

/// Where a migration is in its lifecycle (SPEC §5).
public enum MigrationPhase: String, Sendable, Codable, Comparable, CaseIterable {
    case declared, started, backfilled, verified
    case cutOver = "cut_over"
    case finished
    case rolledBack = "rolled_back"

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// Progress of one backfill slice, as recorded in the state table.
package struct SliceRecord: Sendable, Codable, Equatable {
    package enum State: String, Sendable, Codable {
        /// The stage table holds the verified slice.
        case staged
        /// Moved into the new table.
        case done
    }
    package var state: State
    package var rows: Int
    /// Written by earlier versions, which compared each slice as it was copied;
    /// the final verification is the comparison now.
    package var checksum: String? = nil
    /// The new table's parts the move made; nil when they could not be told
    /// apart (verification then compares whole tables).
    package var parts: [String]? = nil
    /// The stage table (its number) the slice went through when it shared one
    /// with other whole partitions; nil when the stage was the slice's own.
    package var stage: Int? = nil
}

/// A slice of the backfill: one partition of the old table, or one hash bucket of it.
package struct Slice: Sendable, Codable, Equatable {
    package var partition: String
    /// Bucket `index` of `buckets` by a row hash; buckets == 1 means the whole partition.
    package var index: Int
    package var buckets: Int
    package var rows: Int
    /// On a cluster: the shard whose local tables the slice copies (one replica of it does).
    package var shard: Int? = nil
    package var id: String {
        let local = buckets == 1 ? partition : "\(partition)#\(index)/\(buckets)"
        return shard.map { "shard\($0)/\(local)" } ?? local
    }
}

/// A range of block numbers `[min, max]` (the middle of a part name `p_min_max_level`).
package struct BlockRange: Sendable, Codable, Equatable {
    package var min: Int
    package var max: Int
}

/// Everything the state table says about one migration (latest value per key):
/// read before planning (`MigrationEngine.recordedState`), opaque to hosts.
public struct MigrationState: Sendable {
    public init() {}

    package var values: [String: String] = [:]
    package var owners: [String: String] = [:]
    /// Server time (unix seconds) each key was last written.
    package var writtenAt: [String: Int] = [:]
    /// Server time when the state was read.
    package var serverNow: Int = 0

    package var phase: MigrationPhase { values["phase"].flatMap(MigrationPhase.init(rawValue:)) ?? .declared }
    package var strategy: BackfillStrategy? { values["strategy"].flatMap(BackfillStrategy.init(rawValue:)) }
    package var cutoff: Int? { values["cutoff"].flatMap { Int($0) } }
    package var mergesStopped: [String] { decode([String].self, "merges_stopped") ?? [] }
    /// Block ranges per partition taken before the bridge was created.
    package var fenceStart: [String: [BlockRange]]? { decode([String: [BlockRange]].self, "fence_start") }
    /// Block ranges per partition that the backfill copies (final fence).
    package var fence: [String: [BlockRange]]? { decode([String: [BlockRange]].self, "fence") }
    package var slices: [Slice]? { decode([Slice].self, "slices") }
    package func slice(_ id: String) -> SliceRecord? { decode(SliceRecord.self, "slice/" + id) }
    package var cutover: CutoverRecord? { decode(CutoverRecord.self, "cutover") }
    package var lock: LockRecord? {
        guard let l = decode(LockRecord.self, "lock"), !l.owner.isEmpty else { return nil }
        return l
    }
    /// Seconds since the lock holder last wrote anything.
    package var lockAge: Int { serverNow - (writtenAt["lock"] ?? serverNow) }

    init(serverNow: Int) { self.serverNow = serverNow }

    /// One row of `StateTableSQL.load`: key, value, owner, written at, server time.
    mutating func add(_ row: [String?]) {
        guard let key = row[0] else { return }
        values[key] = row[1] ?? ""
        owners[key] = row[2] ?? ""
        writtenAt[key] = Int(row[3] ?? "") ?? 0
        serverNow = Int(row[4] ?? "") ?? serverNow
    }

    /// Views cut-over moved to the new version (JSON `[DependentView]`): their narrowed originals go at finish.
    static let carriedViewsKey = "carried_views"
    /// The split time T of the carried views, unix seconds.
    static let viewsCutoffKey = "views_cutoff"

    func decode<T: Decodable>(_ type: T.Type, _ key: String) -> T? {
        guard let text = values[key], !text.isEmpty, let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }
}

/// Who holds a migration (never credentials: an owner string such as `host:pid`).
package struct LockRecord: Sendable, Codable, Equatable {
    package var owner: String
    package var since: String
}

/// How the cut-over was done, so rollback and finish can undo or complete it.
package struct CutoverRecord: Sendable, Codable, Equatable {
    package var mode: CutoverMode
    package enum Method: String, Sendable, Codable {
        case exchange
        /// 18.x: no EXCHANGE TABLES.
        case rename
        /// Versioned: nothing switched.
        case none
    }
    package var method: Method
    /// For `rename`: the new-data table's max block number right after the switch.
    package var blockMark: Int?
}

func encodeJSON<T: Encodable>(_ value: T) -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = .sortedKeys
    return String(decoding: (try? enc.encode(value)) ?? Data(), as: UTF8.self)
}

/// Reads and appends rows of `<db>._mbg_state`. Rows are never updated in place
/// (18.16 has no lightweight DELETE or mutations_sync): each write appends a row
/// with a larger `seq`, and readers take `argMax(value, seq)` per key.
struct StateStore {
    let transport: any Transport
    let database: String
    let owner: String
    let clock: MigrationClock
    /// Set on a cluster: the state table is Replicated ON CLUSTER.
    var cluster: String? = nil
    static let tableName = StateTableSQL.tableName
    private let seqSource = SequenceSource()

    var table: String { qualified(database, Self.tableName) }

    var createSQL: String { StateTableSQL.create(table, cluster: cluster, database: database) }

    func ensureTable() throws { try transport.run(createSQL) }

    func exists() throws -> Bool {
        (Int(try transport.run(CatalogQueries.tableCount(database, Self.tableName)).scalar ?? "0") ?? 0) > 0
    }

    func load(_ migration: String) throws -> MigrationState {
        guard try exists() else { return MigrationState(serverNow: Int(clock.now())) }
        let r = try transport.run(StateTableSQL.load(table, migration: migration))
        var s = MigrationState(serverNow: Int(clock.now()))
        for row in r.rows where row.count >= 5 { s.add(row) }
        return s
    }

    /// `load` of each of `migrations`, in one query (none when the table is
    /// known not to exist).
    func load(_ migrations: [String], tableExists: Bool) throws -> [String: MigrationState] {
        let rows = tableExists && !migrations.isEmpty
            ? try transport.run(StateTableSQL.load(table, migrations: migrations)).rows : []
        let empty = MigrationState(serverNow: Int(clock.now()))
        var out = Dictionary(uniqueKeysWithValues: migrations.map { ($0, empty) })
        for row in rows where row.count >= 6 {
            guard let m = row[0], out[m] != nil else { continue }
            out[m]!.add(Array(row.dropFirst()))
        }
        return out
    }

    func migrations() throws -> [String] {
        guard try exists() else { return [] }
        return try transport.run(StateTableSQL.migrations(table)).rows.compactMap { $0.first ?? nil }
    }

    func write(_ migration: String, _ entries: [(String, String)]) throws {
        guard !entries.isEmpty else { return }
        let rows = entries.map { key, value in
            StateTableSQL.Row(migration: migration, key: key, value: value, owner: owner, seq: seqSource.next(clock))
        }
        try transport.run(StateTableSQL.insert(table, rows))
    }

    func write(_ migration: String, _ key: String, _ value: String) throws {
        try write(migration, [(key, value)])
    }
}

/// Strictly increasing sequence numbers: microseconds, bumped past the last one issued.
final class SequenceSource: @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt64 = 0
    func next(_ clock: MigrationClock) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        last = max(last + 1, UInt64(clock.now() * 1_000_000))
        return last
    }
}

/// Time as the runner sees it; tests replace it so waits do not sleep.
package struct MigrationClock: Sendable {
    package var now: @Sendable () -> Double
    package var sleep: @Sendable (Double) -> Void
    package init(now: @escaping @Sendable () -> Double, sleep: @escaping @Sendable (Double) -> Void) {
        self.now = now
        self.sleep = sleep
    }
    package static let system = MigrationClock(
        now: { Date().timeIntervalSince1970 },
        sleep: { s in if s > 0 { Thread.sleep(forTimeInterval: s) } })
}
