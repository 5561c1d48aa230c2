/// Differences between a declared table and the live one, as readable lines.
func tableDrift(declared: TableDef, live: TableDef) -> [String] {
    catalogTableDiff(declared: declared, live: live)
}
