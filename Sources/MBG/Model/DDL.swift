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

/// `CREATE TABLE` for a declared table, every name quoted as needed. Clauses that
/// only the MergeTree family knows (ORDER BY, PRIMARY KEY) are left out for others.
public func createTableSQL(_ t: TableDef, ifNotExists: Bool = true, name: String? = nil) -> String {
    let target = name.map { qualified(t.database, $0) } ?? t.qualifiedName
    var sql = "CREATE TABLE \(ifNotExists ? "IF NOT EXISTS " : "")\(target)\(onCluster(t.cluster))\n(\n"
    sql += t.columns.map { "    " + columnSQL($0) }.joined(separator: ",\n")
    sql += "\n)\nENGINE = \(t.engine)"
    if let p = t.partitionBy, !p.isEmpty { sql += "\nPARTITION BY \(p)" }
    let orderBy = t.effectiveOrderBy
    let isMergeTree = t.engine.contains("MergeTree")
    if isMergeTree || !orderBy.isEmpty { sql += "\nORDER BY \(keyTuple(orderBy))" }
    if isMergeTree, let pk = t.effectivePrimaryKey { sql += "\nPRIMARY KEY \(keyTuple(pk))" }
    if let ttl = t.ttl, !ttl.isEmpty { sql += "\nTTL \(ttl)" }
    if !t.settings.isEmpty {
        sql += "\nSETTINGS " + t.settings.map { "\($0.name) = \($0.value)" }.joined(separator: ", ")
    }
    return sql
}

/// `` `name` Type DEFAULT expr CODEC(c) `` (or MATERIALIZED/ALIAS/EPHEMERAL expr).
func columnSQL(_ c: ColumnDef) -> String {
    var line = "\(quoteIdentifier(c.name)) \(c.type)"
    if let d = c.defaultExpression, !d.isEmpty { line += " \(c.defaultKind ?? "DEFAULT") \(d)" }
    if let codec = c.codec, !codec.isEmpty { line += " CODEC(\(codec))" }
    return line
}

/// `CREATE MATERIALIZED VIEW … TO … AS SELECT …`.
public func createViewSQL(_ v: ViewDef, ifNotExists: Bool = true) -> String {
    // An unqualified target resolves in the current database, as ClickHouse does.
    let target = qualified(v.targetDatabase, v.target)
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
