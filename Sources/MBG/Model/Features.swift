/// Checks that a table's SAMPLE BY, skip indexes and projections still fit its
/// columns and keys, before anything is created: a derived version keeps them
/// from its base, and a change elsewhere (a new sorting key, a new column list)
/// can leave one pointing at nothing.

/// One feature that does not fit its table, with the way out.
struct FeatureProblem: Equatable {
    enum Feature: Equatable {
        case sampleBy
        case index(String)
        case projection(String)
    }
    var feature: Feature
    var message: String
    var hint: String
}

/// What is wrong with `table`'s SAMPLE BY, indexes and projections; `base` is the
/// version they may have been kept from (its columns tell which names were columns).
/// `dropSampling` spells the way out where the hint names it.
func featureProblems(_ table: TableDef, base: TableDef?, dropSampling: String = "`sample_by none`") -> [FeatureProblem] {
    // Most tables have none of the three: nothing to check, nothing to build.
    if table.sampleBy?.isEmpty ?? true, table.indexes.isEmpty, table.projections.isEmpty { return [] }
    var problems: [FeatureProblem] = []
    let columns = Set(table.columns.map(\.name))
    let known = columns.union(base?.columns.map(\.name) ?? [])
    let label = table.version.map { "\(table.name) v\($0)" } ?? table.name
    func kept(_ inherited: Bool) -> String {
        guard inherited, let base else { return "" }
        return " (kept from \(base.version.map { "\(base.name) v\($0)" } ?? base.physicalName))"
    }
    /// Names the expression reads that were columns and are no longer.
    func lost(_ sql: String) -> [String] {
        referencedNames(sql).filter { known.contains($0) && !columns.contains($0) }
    }

    if let sample = table.sampleBy, !sample.isEmpty, table.engine.containsText("MergeTree") {
        let inherited = base?.sampleBy.map { normalizedSQL($0) == normalizedSQL(sample) } ?? false
        let primary = table.effectivePrimaryKey ?? table.effectiveOrderBy
        if !primary.map(normalizedSQL).contains(normalizedSQL(sample)) {
            problems.append(
                FeatureProblem(
                    feature: .sampleBy,
                    message: "SAMPLE BY \(sample)\(kept(inherited)) is not in the primary key \(keyTuple(primary)) of \(label)",
                    hint: "keep \(sample) in order_by, or drop sampling with \(dropSampling)"))
        }
    }
    for index in table.indexes {
        let inherited = base?.indexes.contains(index) ?? false
        let missing = lost(index.expression)
        let single = sqlTokens(index.expression)
        let unknownColumn =
            single.count == 1 && (single[0].kind == .word || single[0].kind == .quotedIdentifier)
            && !columns.contains(single[0].text) && !missing.contains(single[0].text)
        guard let name = missing.first ?? (unknownColumn ? single[0].text : nil) else { continue }
        problems.append(
            FeatureProblem(
                feature: .index(index.name),
                message: "index \(index.name)\(kept(inherited)) reads column '\(name)', which \(label) does not have",
                hint: "drop it with `index \(index.name) none`, or restate it: index \(index.name) EXPR type \(index.type)"))
    }
    for projection in table.projections {
        let inherited = base?.projections.contains(projection) ?? false
        guard let name = lost(projection.query).first else { continue }
        problems.append(
            FeatureProblem(
                feature: .projection(projection.name),
                message: "projection \(projection.name)\(kept(inherited)) reads column '\(name)', which \(label) does not have",
                hint: "drop it with `projection \(projection.name) none`, or restate it: projection \(projection.name) \"SELECT …\""))
    }
    return problems
}

/// Names an SQL expression mentions that are not function calls: `f(a, b.c)` → a, b, c.
func referencedNames(_ sql: String) -> [String] {
    let tokens = sqlTokens(sql)
    var names: [String] = []
    for (k, t) in tokens.enumerated() where t.kind == .word || t.kind == .quotedIdentifier {
        if k + 1 < tokens.count, tokens[k + 1].kind == .symbol, tokens[k + 1].text == "(" { continue }
        if t.kind == .word, t.text.first?.isNumber == true { continue }
        if !names.contains(t.text) { names.append(t.text) }
    }
    return names
}
