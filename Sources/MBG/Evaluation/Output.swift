/// Where the interpreter writes what statements print. The CLI renders tables
/// for a terminal or as JSON; tests collect.
public protocol OutputSink: AnyObject {
    /// A line from `print`, or a message.
    func line(_ text: String)
    /// The result of a `sql` statement.
    func table(_ result: QueryResult)
    /// The result of `plan`.
    func plan(_ plan: Plan, name: String?)
    /// A warning (stderr).
    func warning(_ text: String)
    /// A message about what was done (`created table …`), not a result: `--quiet` leaves it out.
    func info(_ text: String)
}

extension OutputSink {
    public func info(_ text: String) { line(text) }
}

/// Keeps everything as text lines (tests, embedding).
public final class CollectingOutput: OutputSink {
    public private(set) var lines: [String] = []
    public private(set) var plans: [Plan] = []
    public private(set) var warnings: [String] = []
    public init() {}
    public func line(_ text: String) { lines.append(text) }
    public func table(_ result: QueryResult) {
        lines.append(result.columns.map(\.name).joined(separator: "\t"))
        for row in result.rows { lines.append(row.map { $0 ?? "NULL" }.joined(separator: "\t")) }
    }
    public func plan(_ plan: Plan, name: String?) {
        plans.append(plan)
        lines.append(plan.render())
    }
    public func warning(_ text: String) { warnings.append(text) }
    public var text: String { lines.joined(separator: "\n") }
}
