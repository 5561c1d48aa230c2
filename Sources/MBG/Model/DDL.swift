/// SQL text for creating and dropping what the model describes.

func onCluster(_ cluster: String?) -> String {
    guard let cluster, !cluster.isEmpty else { return "" }
    return " ON CLUSTER \(quoteIdentifier(cluster))"
}

/// `tuple()` for none, the expression for one, `(a, b)` for several.
func keyTuple(_ expressions: [String]) -> String {
    switch expressions.count {
    case 0: return "tuple()"
    case 1: return expressions[0]
    default: return "(" + expressions.joined(separator: ", ") + ")"
    }
}

/// `CREATE TABLE` for a declared table. Clauses come in the order ClickHouse
/// itself prints them (`engine_full`), which every server version accepts.
public func createTableSQL(_ t: TableDef, ifNotExists: Bool = true, name: String? = nil) -> String {
    var sql = "CREATE TABLE "
    if ifNotExists { sql += "IF NOT EXISTS " }
    sql += name.map { qualified(t.database, $0) } ?? t.qualifiedName
    sql += onCluster(t.cluster)
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

/// `CREATE MATERIALIZED VIEW … TO … AS SELECT …`.
public func createViewSQL(_ v: ViewDef, ifNotExists: Bool = true) -> String {
    let target = qualified(v.targetDatabase ?? v.database, v.target)
    return "CREATE MATERIALIZED VIEW \(ifNotExists ? "IF NOT EXISTS " : "")\(v.qualifiedName)\(onCluster(v.cluster)) TO \(target) AS\n\(v.select)"
}

/// `DROP TABLE`; views use `DROP VIEW` where the server knows it (18.16 does not).
public func dropSQL(
    _ database: String?, _ name: String, isView: Bool = false, cluster: String? = nil,
    capabilities: Capabilities = .modern
) -> String {
    let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
    let sync = capabilities.atomicDatabase ? " SYNC" : ""
    return "DROP \(kind) IF EXISTS \(qualified(database, name))\(onCluster(cluster))\(sync)"
}
