/// A readable list of differences between a declared table and the live one.
/// Whitespace and identifier quoting are normalised first.
public func catalogTableDiff(declared: TableDef, live: TableDef) -> [String] {
    func norm(_ s: String) -> String {
        s.filter { !$0.isWhitespace && $0 != "`" }
    }
    var out: [String] = []
    let liveColumns = Dictionary(live.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let declaredNames = Set(declared.columns.map(\.name))
    for c in declared.columns {
        if let l = liveColumns[c.name] {
            if norm(l.type) != norm(c.type) { out.append("column \(c.name): declared \(c.type), live \(l.type)") }
        } else {
            out.append("column \(c.name): declared, missing on the server")
        }
    }
    for l in live.columns where !declaredNames.contains(l.name) {
        out.append("column \(l.name): on the server, not declared")
    }
    if norm(declared.engine) != norm(live.engine) { out.append("engine: declared \(declared.engine), live \(live.engine)") }
    let dOrder = declared.effectiveOrderBy.map(norm), lOrder = live.effectiveOrderBy.map(norm)
    if dOrder != lOrder {
        out.append("order_by: declared \(declared.effectiveOrderBy.joined(separator: ", ")), live \(live.effectiveOrderBy.joined(separator: ", "))")
    }
    if declared.partitionBy.map(norm) != live.partitionBy.map(norm) {
        out.append("partition_by: declared \(declared.partitionBy ?? "none"), live \(live.partitionBy ?? "none")")
    }
    return out
}
