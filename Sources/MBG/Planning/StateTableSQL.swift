/// The SQL of the state table `<db>._mbg_state`, where migrations record their
/// phase, slices and lock.
struct StateTableSQL: Sendable {
    static let tableName = "_mbg_state"
    let database: String

    var table: String { qualified(database, Self.tableName) }

    /// ReplacingMergeTree so old versions of a key eventually merge away; no
    /// feature 18.16 lacks. Reads never rely on merges having happened.
    var createSQL: String {
        """
        CREATE TABLE IF NOT EXISTS \(table)
        (
            migration String,
            key String,
            value String,
            owner String,
            at DateTime DEFAULT now(),
            seq UInt64
        )
        ENGINE = ReplacingMergeTree(seq)
        ORDER BY (migration, key)
        """
    }
}
