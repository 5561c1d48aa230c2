/// What `apply` would do, step by step, with the SQL of each step.
public struct PlanStep: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// Will run.
        case pending
        /// Already true on the server: skipped.
        case done
        /// Cannot run; see the notes.
        case blocked
    }
    /// A stable identifier: `create_table`, `create_bridge`, `backfill`, `verify`, …
    public var action: String
    /// What the step acts on (physical name or migration name).
    public var target: String
    public var summary: String
    /// SQL in the order it would run. Steps computed at run time (per-slice
    /// backfill) show representative SQL with the values known at plan time.
    public var sql: [String]
    public var status: Status
    /// Why the step is done this way (strategy, capabilities), and risks.
    public var notes: [String]

    public init(
        action: String, target: String, summary: String, sql: [String] = [],
        status: Status = .pending, notes: [String] = []
    ) {
        self.action = action
        self.target = target
        self.summary = summary
        self.sql = sql
        self.status = status
        self.notes = notes
    }
}

public struct Plan: Sendable, Hashable, Codable {
    public var steps: [PlanStep]
    public var warnings: [String]

    public init(steps: [PlanStep] = [], warnings: [String] = []) {
        self.steps = steps
        self.warnings = warnings
    }

    /// True when the server is not yet as declared: steps to apply, or drift
    /// that blocks (`plan --detailed-exitcode` exits 2 for both).
    public var hasChanges: Bool { steps.contains { $0.status != .done } }

    /// Text for people.
    public func render() -> String {
        var out: [String] = []
        if steps.isEmpty { out.append("nothing to do") }
        for (i, step) in steps.enumerated() {
            let mark =
                switch step.status {
                case .pending: "+"
                case .done: "="
                case .blocked: "!"
                }
            let state =
                switch step.status {
                case .pending: ""
                case .done: " (done, skipped)"
                case .blocked: " (blocked)"
                }
            out.append("\(mark) \(i + 1). \(step.summary)\(state)")
            for note in step.notes { out.append("     note: \(note)") }
            if step.status != .done {
                for sql in step.sql {
                    // Split on bytes: splitting on Characters dominated large plans.
                    let lines = sql.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    out.append(lines.map { "     " + String(decoding: $0, as: UTF8.self) }.joined(separator: "\n"))
                }
            }
        }
        for w in warnings { out.append("warning: \(w)") }
        return out.joined(separator: "\n")
    }
}

/// Where running work reports what it does: progress lines, notes, warnings.
/// The CLI decides how it looks (a live progress line on a terminal, plain lines otherwise).
public protocol ProgressReporter: AnyObject, Sendable {
    func info(_ line: String)
    func warning(_ line: String)
    /// Backfill progress: rows copied so far of an estimated total, and rows/s.
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double)
}

/// Collects reports in memory (tests, embedding).
public final class CollectingReporter: ProgressReporter, @unchecked Sendable {
    public private(set) var lines: [String] = []
    private let lock = NSLockShim()
    public init() {}
    public func info(_ line: String) { lock.with { lines.append(line) } }
    public func warning(_ line: String) { lock.with { lines.append("warning: " + line) } }
    public func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {
        lock.with { lines.append("\(label): \(done)/\(total)") }
    }
}
