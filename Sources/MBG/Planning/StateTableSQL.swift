/// The SQL of the state table `<db>._mbg_state`, where migrations record their
/// phase, slices and lock.
struct StateTableSQL: Sendable {
    static let tableName = "_mbg_state"
    let database: String
    /// On a cluster: created ON CLUSTER, every node a replica of one
    /// replication group (no `{shard}` in the path), so every node sees one state.
    var cluster: String? = nil

    var table: String { qualified(database, Self.tableName) }

    /// ReplacingMergeTree so old versions of a key eventually merge away; no
    /// feature 18.16 lacks. Reads never rely on merges having happened.
    var createSQL: String {
        """
        CREATE TABLE IF NOT EXISTS \(table)\(onCluster(cluster))
        (
            migration String,
            key String,
            value String,
            owner String,
            at DateTime DEFAULT now(),
            seq UInt64
        )
        ENGINE = \(engine)
        ORDER BY (migration, key)
        """
    }

    var engine: String {
        guard cluster != nil else { return "ReplacingMergeTree(seq)" }
        return "ReplicatedReplacingMergeTree('/clickhouse/mbg/\(database.isEmpty ? "<database>" : database)/\(Self.tableName)', '{shard}-{replica}', seq)"
    }
}
