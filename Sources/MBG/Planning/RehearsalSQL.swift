/// The SQL of a rehearsal (`mbg rehearse`): reading a sample and the sizes
/// of a production table, and writing into the local engine's copy.
package enum RehearsalSQL {
    package static let currentDatabase = CatalogQueries.currentDatabase
    package static func createDatabase(_ db: String) -> String { "CREATE DATABASE \(quoteIdentifier(db))" }
    package static func dropDatabase(_ db: String) -> String { "DROP DATABASE IF EXISTS \(quoteIdentifier(db)) SYNC" }

    /// What the sample reads of a column: its value as TabSeparated text that
    /// both 18.16 and 26.9 parse the same. A `DateTime` goes as unix seconds,
    /// so the two servers' time zones cannot shift it.
    package static func sampleExpression(_ column: ColumnDef) -> String {
        let type = column.type.trimmingCharacters(in: .whitespaces)
        if type == "DateTime" || type.hasPrefix("DateTime(") {
            return "toUnixTimestamp(\(quoteIdentifier(column.name)))"
        }
        return quoteIdentifier(column.name)
    }

    /// Up to `limit` rows of one partition (the transport reads them as TabSeparated with names and types).
    package static func samplePartition(_ db: String, _ table: String, _ columns: [ColumnDef], partitionID: String, limit: Int) -> String {
        "SELECT \(columns.map(sampleExpression).joined(separator: ", ")) FROM \(qualified(db, table)) "
            + "WHERE _partition_id = \(quoteString(partitionID)) LIMIT \(max(0, limit))"
    }

    /// An insert of TabSeparated `rows` (each line ending in a newline) into `columns`.
    package static func insertTabSeparated(_ db: String, _ table: String, _ columns: [String], rows: String) -> String {
        "INSERT INTO \(qualified(db, table)) (\(columns.map(quoteIdentifier).joined(separator: ", "))) FORMAT TabSeparated\n" + rows
    }

    /// `rows, bytes_on_disk, partitions` of the active parts of a table.
    package static func tableSize(_ db: String, _ table: String) -> String {
        "SELECT sum(rows), sum(bytes_on_disk), uniqExact(partition_id) FROM system.parts WHERE database = \(quoteString(db)) AND table = \(quoteString(table)) AND active"
    }

    /// `count(), sum(cityHash64(columns))` of a whole table.
    package static func countAndHash(_ db: String, _ table: String, _ columns: [String]) -> String {
        let hash = columns.isEmpty ? "0" : "sum(cityHash64(\(columns.map(quoteIdentifier).joined(separator: ", "))))"
        return "SELECT count(), \(hash) FROM \(qualified(db, table))"
    }

    /// A database that exists now and did before, with its tables: what a test compares to prove nothing changed.
    package static func tablesOf(_ db: String) -> String {
        "SELECT name, engine FROM system.tables WHERE database = \(quoteString(db)) ORDER BY name"
    }
}
