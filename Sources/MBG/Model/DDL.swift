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

/// `CREATE TABLE` for a declared table, every name quoted as needed, in the
/// order ClickHouse itself prints: columns, INDEX and PROJECTION lines, then
/// ENGINE, PARTITION BY, PRIMARY KEY, ORDER BY, SAMPLE BY, TTL, SETTINGS, COMMENT.
/// Clauses that only the MergeTree family knows (ORDER BY, PRIMARY KEY, SAMPLE BY)
/// are left out for others.
package func createTableSQL(_ t: TableDef, ifNotExists: Bool = true, name: String? = nil) -> String {
    let target = name.map { qualified(t.database, $0) } ?? t.qualifiedName
    // Appended into one string: a big plan builds thousands of these.
    var sql = "CREATE TABLE "
    sql.reserveCapacity(128 + 48 * t.columns.count)
    if ifNotExists { sql += "IF NOT EXISTS " }
    sql += target
    sql += onCluster(t.cluster)
    sql += "\n(\n"
    for (i, c) in t.columns.enumerated() {
        sql += i == 0 ? "    " : ",\n    "
        appendColumnSQL(c, to: &sql)
    }
    let others = t.indexes.map(indexSQL) + t.projections.map(projectionSQL)
    for (i, e) in others.enumerated() {
        sql += i == 0 && t.columns.isEmpty ? "    " : ",\n    "
        sql += e
    }
    sql += "\n)\nENGINE = "
    sql += t.engine
    if let p = t.partitionBy, !p.isEmpty { sql += "\nPARTITION BY \(p)" }
    let orderBy = t.effectiveOrderBy
    let isMergeTree = t.engine.containsText("MergeTree")
    // ClickHouse prints PRIMARY KEY before ORDER BY; existing plans print it after,
    // and both parse the same, so the established order stays.
    if isMergeTree || !orderBy.isEmpty { sql += "\nORDER BY \(keyTuple(orderBy))" }
    if isMergeTree, let pk = t.effectivePrimaryKey { sql += "\nPRIMARY KEY \(keyTuple(pk))" }
    if isMergeTree, let s = t.sampleBy, !s.isEmpty { sql += "\nSAMPLE BY \(s)" }
    if let ttl = t.ttl, !ttl.isEmpty { sql += "\nTTL \(ttl)" }
    if !t.settings.isEmpty {
        sql += "\nSETTINGS " + t.settings.map { "\($0.name) = \($0.value)" }.joined(separator: ", ")
    }
    if let comment = t.comment, !comment.isEmpty { sql += "\nCOMMENT \(quoteString(comment))" }
    return sql
}

/// Appends `` `name` Type DEFAULT expr COMMENT 'c' CODEC(c) TTL expr `` to `line`, in the order ClickHouse
/// prints (MATERIALIZED/ALIAS/EPHEMERAL in place of DEFAULT; EPHEMERAL may stand alone).
func appendColumnSQL(_ c: ColumnDef, to line: inout String) {
    line += quoteIdentifier(c.name)
    line += " "
    line += c.type
    if let d = c.defaultExpression, !d.isEmpty {
        line += " "
        line += c.defaultKind ?? "DEFAULT"
        line += " "
        line += d
    } else if c.kind == .ephemeral {
        line += " EPHEMERAL"
    }
    if let comment = c.comment, !comment.isEmpty { line += " COMMENT \(quoteString(comment))" }
    if let codec = c.codec, !codec.isEmpty { line += " CODEC(\(codec))" }
    if let ttl = c.ttl, !ttl.isEmpty { line += " TTL \(ttl)" }
}

/// `INDEX name expr TYPE type GRANULARITY n`.
func indexSQL(_ i: IndexDef) -> String {
    var line = "INDEX \(quoteIdentifier(i.name)) \(i.expression) TYPE \(i.type)"
    if let g = i.granularity { line += " GRANULARITY \(g)" }
    return line
}

/// `PROJECTION name (SELECT …)`.
func projectionSQL(_ p: ProjectionDef) -> String {
    "PROJECTION \(quoteIdentifier(p.name)) (\(p.query))"
}

/// `CREATE MATERIALIZED VIEW … TO … AS SELECT …`.
package func createViewSQL(_ v: ViewDef, ifNotExists: Bool = true) -> String {
    // An unqualified target resolves in the current database, as ClickHouse does.
    let target = qualified(v.targetDatabase, v.target)
    return "CREATE MATERIALIZED VIEW \(ifNotExists ? "IF NOT EXISTS " : "")\(v.qualifiedName)\(onCluster(v.cluster)) TO \(target) AS\n\(v.select)"
}

/// `DROP TABLE`; views use `DROP VIEW` where the server knows it (18.16 does not).
package func dropSQL(
    _ database: String?, _ name: String, isView: Bool = false, cluster: String? = nil,
    capabilities: Capabilities = .modern
) -> String {
    let kind = isView && capabilities.dropView ? "VIEW" : "TABLE"
    let sync = capabilities.atomicDatabase ? " SYNC" : ""
    return "DROP \(kind) IF EXISTS \(qualified(database, name))\(onCluster(cluster))\(sync)"
}
