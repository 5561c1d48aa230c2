/// The SQL of `<db>._mbg_state`, the append-only table of migration state.
enum StateTableSQL {
    static let tableName = "_mbg_state"

    /// ReplacingMergeTree so old versions of a key eventually merge away; no
    /// feature 18.16 lacks. Reads never rely on merges having happened.
    /// On a cluster (`cluster` set): created ON CLUSTER, every node a replica
    /// of one replication group (no `{shard}` in the path), so every node
    /// sees one state.
    static func create(_ table: String, cluster: String? = nil, database: String = "") -> String {
        let engine: String
        if cluster == nil {
            engine = "ReplacingMergeTree(seq)"
        } else {
            engine = "ReplicatedReplacingMergeTree('/clickhouse/mbg/\(database.isEmpty ? "<database>" : database)/\(tableName)', '{shard}-{replica}', seq)"
        }
        return """
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

    /// Latest value, owner and write time per key, and the server's time.
    static func load(_ table: String, migration: String) -> String {
        """
        SELECT key, argMax(value, seq), argMax(owner, seq), toUnixTimestamp(argMax(at, seq)), toUnixTimestamp(now())
        FROM \(table) WHERE migration = \(quoteString(migration)) GROUP BY key
        """
    }

    /// `load` of several migrations at once, each row led by its migration.
    static func load(_ table: String, migrations: [String]) -> String {
        """
        SELECT migration, key, argMax(value, seq), argMax(owner, seq), toUnixTimestamp(argMax(at, seq)), toUnixTimestamp(now())
        FROM \(table) WHERE migration IN (\(migrations.map(quoteString).joined(separator: ", "))) GROUP BY migration, key
        """
    }

    static func migrations(_ table: String) -> String { "SELECT DISTINCT migration FROM \(table) ORDER BY migration" }

    struct Row {
        var migration, key, value, owner: String
        var seq: UInt64
    }

    static func insert(_ table: String, _ rows: [Row]) -> String {
        let values = rows.map { r in
            "(\(quoteString(r.migration)), \(quoteString(r.key)), \(quoteString(r.value)), \(quoteString(r.owner)), \(r.seq))"
        }
        return "INSERT INTO \(table) (migration, key, value, owner, seq) VALUES " + values.joined(separator: ", ")
    }

    // MARK: - The lock mutex (see `MigrationRunner.withLockMutex`)

    /// `_mbg_mutex_<migration>`: letters and digits of the name kept, the rest `_`.
    static func mutexName(_ migration: String) -> String {
        "_mbg_mutex_" + migration.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// Without `IF NOT EXISTS`: succeeds for one caller only, the mutex's holder.
    static func createMutex(_ table: String) -> String { "CREATE TABLE \(table) (owner String) ENGINE = Memory" }

    static func dropMutex(_ table: String) -> String { "DROP TABLE IF EXISTS \(table)" }
}
