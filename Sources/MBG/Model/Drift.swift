/// How a live table differs from its declaration, one readable line per
/// difference; empty when they match. Expressions are compared after
/// normalising whitespace, identifier quoting and keyword case, so a table
/// created from a `TableDef` and read back shows no drift.
package func catalogTableDiff(declared: TableDef, live: TableDef) -> [String] {
    if declared == live { return [] }  // the common case, and the cheap one
    var diffs: [String] = []

    // Columns.
    let liveByName = Dictionary(live.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let declaredNames = Set(declared.columns.map(\.name))
    for column in declared.columns {
        guard let other = liveByName[column.name] else {
            diffs.append("column \(quoteIdentifier(column.name)) is declared but not on the server")
            continue
        }
        let name = quoteIdentifier(column.name)
        if normalizedSQL(column.type) != normalizedSQL(other.type) {
            diffs.append("column \(name): type \(column.type) declared, \(other.type) on the server")
        }
        let kind = column.kind == .ordinary ? nil : column.kind.rawValue
        let otherKind = other.kind == .ordinary ? nil : other.kind.rawValue
        if kind != otherKind
            || normalizedDefault(column.defaultExpression, type: column.type)
                != normalizedDefault(other.defaultExpression, type: other.type)
        {
            diffs.append(
                "column \(name): \(describeDefault(kind, column.defaultExpression)) declared, "
                    + "\(describeDefault(otherKind, other.defaultExpression)) on the server")
        }
        if normalizedSQL(column.codec ?? "") != normalizedSQL(other.codec ?? "") {
            diffs.append(
                "column \(name): codec \(column.codec.map { "CODEC(\($0))" } ?? "none") declared, "
                    + "\(other.codec.map { "CODEC(\($0))" } ?? "none") on the server")
        }
        if (column.comment ?? "") != (other.comment ?? "") {
            diffs.append(
                "column \(name): comment \(describeComment(column.comment)) declared, "
                    + "\(describeComment(other.comment)) on the server")
        }
        if normalizedSQL(column.ttl ?? "") != normalizedSQL(other.ttl ?? "") {
            diffs.append(
                "column \(name): ttl \(column.ttl ?? "none") declared, \(other.ttl ?? "none") on the server")
        }
    }
    for column in live.columns where !declaredNames.contains(column.name) {
        diffs.append("column \(quoteIdentifier(column.name)) is on the server but not declared")
    }
    // Order matters for `SELECT *` and positional inserts, which see only ordinary
    // columns (18.x lists MATERIALIZED and ALIAS columns last whatever the declaration).
    let liveNames = Set(live.columns.map(\.name))
    let commonDeclared = declared.columns.filter { $0.defaultKind == nil }.map(\.name)
        .filter { liveNames.contains($0) }
    let commonLive = live.columns.filter { $0.defaultKind == nil }.map(\.name)
        .filter { declaredNames.contains($0) }
    if commonDeclared != commonLive {
        diffs.append(
            "column order: (\(commonDeclared.map(quoteIdentifier).joined(separator: ", "))) declared, "
                + "(\(commonLive.map(quoteIdentifier).joined(separator: ", "))) on the server")
    }

    // Engine and clauses.
    if normalizedEngine(declared.engine) != normalizedEngine(live.engine) {
        diffs.append("engine: \(declared.engine) declared, \(live.engine) on the server")
    }
    let declaredOrder = declared.effectiveOrderBy
    let liveOrder = live.effectiveOrderBy
    if declaredOrder.map(normalizedSQL) != liveOrder.map(normalizedSQL) {
        diffs.append(
            "order by: \(keyTuple(declaredOrder)) declared, \(keyTuple(liveOrder)) on the server")
    }
    // Without a PRIMARY KEY clause the sorting key is the primary key.
    let declaredPrimary = declared.effectivePrimaryKey ?? declaredOrder
    let livePrimary = live.effectivePrimaryKey ?? liveOrder
    if declaredPrimary.map(normalizedSQL) != livePrimary.map(normalizedSQL) {
        diffs.append(
            "primary key: \(keyTuple(declaredPrimary)) declared, "
                + "\(keyTuple(livePrimary)) on the server")
    }
    if normalizedSQL(declared.partitionBy ?? "") != normalizedSQL(live.partitionBy ?? "") {
        diffs.append(
            "partition by: \(declared.partitionBy ?? "none") declared, "
                + "\(live.partitionBy ?? "none") on the server")
    }
    if normalizedSQL(declared.ttl ?? "") != normalizedSQL(live.ttl ?? "") {
        diffs.append("ttl: \(declared.ttl ?? "none") declared, \(live.ttl ?? "none") on the server")
    }

    if normalizedSQL(declared.sampleBy ?? "") != normalizedSQL(live.sampleBy ?? "") {
        diffs.append(
            "sample by: \(declared.sampleBy ?? "none") declared, \(live.sampleBy ?? "none") on the server")
    }
    diffs += namedDiffs(
        "index", declared.indexes, live.indexes, name: \.name, describe: indexSQL,
        same: { a, b in
            normalizedSQL(a.expression) == normalizedSQL(b.expression)
                && normalizedSQL(a.type) == normalizedSQL(b.type) && (a.granularity ?? 1) == (b.granularity ?? 1)
        })
    diffs += namedDiffs(
        "projection", declared.projections, live.projections, name: \.name, describe: projectionSQL,
        same: { a, b in normalizedSQL(a.query) == normalizedSQL(b.query) })
    if (declared.comment ?? "") != (live.comment ?? "") {
        diffs.append(
            "comment: \(describeComment(declared.comment)) declared, \(describeComment(live.comment)) on the server")
    }

    // Settings, leaving out the ones every table has by default.
    let declaredSettings = effectiveSettings(declared.settings)
    let liveSettings = effectiveSettings(live.settings)
    for name in Set(declaredSettings.keys).union(liveSettings.keys).sorted() {
        let a = declaredSettings[name]
        let b = liveSettings[name]
        if a.map(normalizedSQL) != b.map(normalizedSQL) {
            diffs.append("setting \(name): \(a ?? "default") declared, \(b ?? "default") on the server")
        }
    }
    return diffs
}

/// Settings whose values equal the server's defaults are as good as absent.
let defaultTableSettings: [String: String] = ["index_granularity": "8192"]

private func effectiveSettings(_ settings: [SettingDef]) -> [String: String] {
    var out: [String: String] = [:]
    for s in settings where defaultTableSettings[s.name] != normalizedSQL(s.value) {
        out[s.name] = s.value
    }
    return out
}

/// A default expression without the `CAST(x, 'T')` an old server wraps around it
/// when `T` is the column's own type (18.x stores `DEFAULT 0` that way).
private func normalizedDefault(_ expression: String?, type: String) -> String {
    guard let expression else { return "" }
    let tokens = sqlTokens(expression)
    if tokens.count >= 6, tokens[0].isWord("CAST"), tokens[1].text == "(",
        closingIndex(tokens, 1) == tokens.count - 1,
        let comma = tokens.lastIndex(where: { $0.depth == 1 && $0.text == "," && $0.kind == .symbol }),
        comma == tokens.count - 3, tokens[comma + 1].kind == .string,
        normalizedSQL(sqlStringValue(tokens[comma + 1].text)) == normalizedSQL(type)
    {
        return normalizedSQL(String(expression[tokens[2].range.lowerBound..<tokens[comma - 1].range.upperBound]))
    }
    return normalizedSQL(expression)
}

/// `MergeTree()` and `MergeTree` are the same engine.
func normalizedEngine(_ engine: String) -> String {
    var n = normalizedSQL(engine)
    if n.hasSuffix("()") { n.removeLast(2) }
    return n
}

private func describeDefault(_ kind: String?, _ expression: String?) -> String {
    guard let kind else { return "no default" }
    guard let expression else { return kind }
    return "\(kind) \(expression)"
}

private func describeComment(_ comment: String?) -> String {
    guard let comment, !comment.isEmpty else { return "none" }
    return quoteString(comment)
}

/// Differences between two lists of named things (indexes, projections), by name.
private func namedDiffs<T>(
    _ what: String, _ declared: [T], _ live: [T], name: (T) -> String, describe: (T) -> String,
    same: (T, T) -> Bool
) -> [String] {
    var diffs: [String] = []
    let liveByName = Dictionary(live.map { (name($0), $0) }, uniquingKeysWith: { a, _ in a })
    let declaredNames = Set(declared.map(name))
    for d in declared {
        guard let l = liveByName[name(d)] else {
            diffs.append("\(what) \(quoteIdentifier(name(d))) is declared but not on the server")
            continue
        }
        if !same(d, l) { diffs.append("\(what) \(quoteIdentifier(name(d))): \(describe(d)) declared, \(describe(l)) on the server") }
    }
    for l in live where !declaredNames.contains(name(l)) {
        diffs.append("\(what) \(quoteIdentifier(name(l))) is on the server but not declared")
    }
    return diffs
}
