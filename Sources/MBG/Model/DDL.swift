/// `CREATE TABLE` for a declared table. Clauses come in the order ClickHouse
/// itself prints them (`engine_full`), which every server version accepts.
public func createTableSQL(_ t: TableDef, ifNotExists: Bool) -> String {
    var sql = "CREATE TABLE "
    if ifNotExists { sql += "IF NOT EXISTS " }
    sql += t.qualifiedName
    if let cluster = t.cluster, !cluster.isEmpty { sql += " ON CLUSTER " + quoteIdentifier(cluster) }
    sql += "\n(\n"
    sql += t.columns.map { "    " + columnSQL($0) }.joined(separator: ",\n")
    sql += "\n)\nENGINE = " + t.engine
    if let partitionBy = t.partitionBy, !partitionBy.isEmpty {
        sql += "\nPARTITION BY " + partitionBy
    }
    let isMergeTree = t.engine.contains("MergeTree")
    if let primaryKey = t.effectivePrimaryKey, isMergeTree {
        sql += "\nPRIMARY KEY " + keyTuple(primaryKey)
    }
    let orderBy = t.effectiveOrderBy
    if isMergeTree || !orderBy.isEmpty {
        sql += "\nORDER BY " + keyTuple(orderBy)
    }
    if let ttl = t.ttl, !ttl.isEmpty { sql += "\nTTL " + ttl }
    if !t.settings.isEmpty {
        sql += "\nSETTINGS " + t.settings.map { "\($0.name) = \($0.value)" }.joined(separator: ", ")
    }
    return sql
}

/// `` `name` Type DEFAULT expr CODEC(c) ``
func columnSQL(_ c: ColumnDef) -> String {
    var sql = quoteIdentifier(c.name) + " " + c.type
    if let expression = c.defaultExpression, !expression.isEmpty {
        sql += " " + (c.defaultKind ?? "DEFAULT") + " " + expression
    }
    if let codec = c.codec, !codec.isEmpty { sql += " CODEC(" + codec + ")" }
    return sql
}

/// `tuple()` for none, the expression for one, `(a, b)` for several.
private func keyTuple(_ expressions: [String]) -> String {
    switch expressions.count {
    case 0: return "tuple()"
    case 1: return expressions[0]
    default: return "(" + expressions.joined(separator: ", ") + ")"
    }
}
