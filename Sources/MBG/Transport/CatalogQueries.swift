/// Reads of system tables outside the catalog reader, written in one place.
enum CatalogQueries {
    static let currentDatabase = "SELECT currentDatabase()"

    static func databaseExists(_ database: String) -> String {
        "SELECT count() FROM system.databases WHERE name = \(quoteString(database))"
    }
}
