/// The system-table reads a migration makes (which tables exist, their parts,
/// engines and ids), in one place; the runner sends them and parses the answers.
enum CatalogQueries {
    static let serverNow = "SELECT toUnixTimestamp(now())"

    /// `name, value` of the ZooKeeper nodes under `path` (servers with ZooKeeper only).
    static func zooKeeperChildren(_ path: String) -> String {
        "SELECT name, value FROM system.zookeeper WHERE path = \(quoteString(path))"
    }

    static let currentDatabase = "SELECT currentDatabase()"

    static func databaseExists(_ database: String) -> String {
        "SELECT count() FROM system.databases WHERE name = \(quoteString(database))"
    }

    /// `name, engine` of those of `names` that exist in `db`.
    static func tables(_ db: String, _ names: [String]) -> String {
        "SELECT name, engine FROM system.tables WHERE database = \(quoteString(db)) AND name IN (\(names.map(quoteString).joined(separator: ", ")))"
    }

    /// When `db`.`name` was created or last altered (unix seconds); no row when it does not exist.
    static func createdAt(_ db: String, _ name: String) -> String {
        "SELECT toUnixTimestamp(metadata_modification_time) FROM system.tables WHERE database = \(quoteString(db)) AND name = \(quoteString(name))"
    }

    /// `name, create_table_query` of those of `names` that exist in `db`.
    static func tableDefinitions(_ db: String, _ names: [String]) -> String {
        "SELECT name, create_table_query FROM system.tables WHERE database = \(quoteString(db)) AND name IN (\(names.map(quoteString).joined(separator: ", ")))"
    }

    /// 1 when `db`.`name` exists, else 0.
    static func tableCount(_ db: String, _ name: String) -> String {
        "SELECT count() FROM system.tables WHERE database = \(quoteString(db)) AND name = \(quoteString(name))"
    }

    /// Names of the tables in `db` starting with `prefix` (stage tables left behind).
    static func tables(_ db: String, prefix: String) -> String {
        "SELECT name FROM system.tables WHERE database = \(quoteString(db)) AND startsWith(name, \(quoteString(prefix)))"
    }

    static func engineFull(_ db: String, _ name: String) -> String {
        "SELECT engine_full FROM system.tables WHERE database = \(quoteString(db)) AND name = \(quoteString(name))"
    }

    static func uuid(_ db: String, _ name: String) -> String {
        "SELECT toString(uuid) FROM system.tables WHERE database = \(quoteString(db)) AND name = \(quoteString(name))"
    }

    /// `name, partition_id, min_block_number, max_block_number, rows` of the active parts.
    static func activeParts(_ db: String, _ table: String) -> String {
        "SELECT name, partition_id, min_block_number, max_block_number, rows FROM system.parts WHERE database = \(quoteString(db)) AND table = \(quoteString(table)) AND active ORDER BY partition_id, min_block_number"
    }

    /// `table, name, partition_id, rows, hash` of the active parts of `tables`; the
    /// hash of the part's files (kept by a move) where the server has it, else ''.
    static func partFiles(_ db: String, _ tables: [String], fileHash: Bool) -> String {
        "SELECT table, name, partition_id, rows, \(fileHash ? "hash_of_all_files" : "''") FROM system.parts WHERE database = \(quoteString(db)) AND table IN (\(tables.map(quoteString).joined(separator: ", "))) AND active"
    }

    /// The server's default thread count (`auto(2)` on current servers, `2` on 18.x).
    static let maxThreads = "SELECT value FROM system.settings WHERE name = 'max_threads'"

    /// Active parts of `table` written after `since` (unix seconds): inserts, merges too where they run.
    static func partsWritten(_ db: String, _ table: String, since: Int) -> String {
        "SELECT count() FROM system.parts WHERE database = \(quoteString(db)) AND table = \(quoteString(table)) AND active AND modification_time > toDateTime(\(since))"
    }

    static func maxBlock(_ db: String, _ table: String) -> String {
        "SELECT max(max_block_number) FROM system.parts WHERE database = \(quoteString(db)) AND table = \(quoteString(table)) AND active"
    }

    /// How many views (plain and materialized) a database holds.
    static func viewCount(_ db: String) -> String {
        "SELECT count() FROM system.tables WHERE database = \(quoteString(db)) AND engine IN ('View', 'MaterializedView')"
    }

    /// Inserts naming `table` that have run for at least `seconds`: those that
    /// began before a moment `seconds` ago (the bridge's creation) and are still going.
    static func insertsRunning(into table: String, forAtLeast seconds: Int) -> String {
        "SELECT count() FROM system.processes WHERE \(insertInto(table)) AND elapsed >= \(max(0, seconds))"
    }

    /// The query ids of the inserts naming `table` that are running now.
    static func insertsInFlight(into table: String) -> String {
        "SELECT query_id FROM system.processes WHERE \(insertInto(table))"
    }

    /// How many of the queries `ids` are still running.
    static func stillRunning(_ ids: [String]) -> String {
        "SELECT count() FROM system.processes WHERE query_id IN (\(ids.map(quoteString).joined(separator: ", ")))"
    }

    private static func insertInto(_ table: String) -> String {
        "positionCaseInsensitive(query, 'INSERT') > 0 AND position(query, \(quoteString(table))) > 0 AND position(query, 'system.processes') = 0"
    }

    /// Seconds since `db`.`name` was created or last altered (its metadata file's time).
    static func secondsSinceModified(_ db: String, _ name: String) -> String {
        "SELECT toUnixTimestamp(now()) - toUnixTimestamp(metadata_modification_time) FROM system.tables WHERE database = \(quoteString(db)) AND name = \(quoteString(name))"
    }
}
