import Foundation

/// The kinds of step a plan holds. The raw values are the `action` of
/// `plan --json` (docs/plan-schema.json).
public enum StepKind: String, Sendable, Hashable, Codable, CaseIterable {
    case stateTable = "state_table"
    case createTable = "create_table"
    case drift
    case createBridge = "create_bridge"
    case backfill
    case verify
    case cutover
    case finish
    case createView = "create_view"
}

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
    public var kind: StepKind
    /// What the step acts on (physical name or migration name).
    public var target: String
    public var summary: String
    /// SQL in the order it would run. Steps computed at run time (per-slice
    /// backfill) show representative SQL with the values known at plan time.
    public var sql: [String]
    public var status: Status
    /// Why the step is done this way (strategy, capabilities), and risks.
    public var notes: [String]
    /// The migration the step belongs to (nil for plain tables and views); not part of the JSON.
    public internal(set) var migration: String? = nil
    /// For text: the statements of one slice with `<partition>` in place of each
    /// partition, and the partitions they run for. `sql` still holds every statement.
    public internal(set) var repeated: Repetition? = nil

    public struct Repetition: Sendable, Hashable {
        public var sql: [String]
        public var partitions: [String]
    }

    public init(
        _ kind: StepKind, target: String, summary: String, sql: [String] = [],
        status: Status = .pending, notes: [String] = []
    ) {
        self.kind = kind
        self.target = target
        self.summary = summary
        self.sql = sql
        self.status = status
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case kind = "action"
        case target, summary, sql, status, notes
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

    /// Text for people. Statements repeated per partition are shown once, with
    /// the partitions they run for, unless `verbose`.
    public func render(verbose: Bool = false) -> String { String(decoding: renderedBytes(verbose: verbose), as: UTF8.self) }

    /// `render()` as UTF-8, built as bytes: large plans (100k-line scripts)
    /// print megabytes of SQL, and writing the bytes skips a decode and re-encode.
    public func renderedBytes(verbose: Bool = false) -> [UInt8] {
        var renderer = PlanRenderer(verbose: verbose)
        renderer.out.reserveCapacity(steps.reduce(0) { $0 + $1.sql.reduce(64) { $0 + $1.utf8.count + 16 } })
        for step in steps { renderer.append(step) }
        renderer.finish(warnings: warnings)
        return renderer.out
    }
}

/// Renders a plan step by step, so a big plan can be written out as it is made
/// (`mbg plan` streams it) instead of being held whole.
package struct PlanRenderer {
    package var out: [UInt8] = []
    let verbose: Bool
    private(set) var count = 0
    private var wroteAnything = false
    private let indent = Array("     ".utf8)

    package init(verbose: Bool) { self.verbose = verbose }

    private mutating func line(_ text: String) {
        if wroteAnything { out.append(UInt8(ascii: "\n")) }
        wroteAnything = true
        out.append(contentsOf: text.utf8)
    }

    package mutating func append(_ step: PlanStep) {
        count += 1
        let (mark, state) =
            switch step.status {
            case .pending: ("+", "")
            case .done: ("=", " (done, skipped)")
            case .blocked: ("!", " (blocked)")
            }
        line("\(mark) \(count). \(step.summary)\(state)")
        for note in step.notes { line("     note: \(note)") }
        guard step.status != .done else { return }
        if let r = step.repeated, !verbose {
            for sql in r.sql { appendIndented(sql) }
            let shown = r.partitions.count <= 6 ? r.partitions.joined(separator: " ") : "\(r.partitions[0]) … \(r.partitions[r.partitions.count - 1])"
            line("     … × \(r.partitions.count) partitions: \(shown) (every statement: plan --verbose or --json)")
        } else {
            for sql in step.sql { appendIndented(sql) }
        }
    }

    package mutating func finish(warnings: [String]) {
        if count == 0 { line("nothing to do") }
        for w in warnings { line("warning: \(w)") }
    }

    /// Takes what was rendered so far (to write it out).
    package mutating func take() -> [UInt8] {
        defer { out.removeAll(keepingCapacity: true) }
        return out
    }

    /// Appends each line of `text` as a new line starting with the indent.
    /// Whole lines at a time (memchr): per-byte appends dominated big plans.
    private mutating func appendIndented(_ text: String) {
        wroteAnything = true
        var text = text
        let indent = self.indent
        text.withUTF8 { (bytes: UnsafeBufferPointer<UInt8>) -> Void in
            var start = 0
            repeat {
                var end = bytes.count
                if let base = bytes.baseAddress, start < bytes.count,
                    let hit = memchr(base + start, 0x0A, bytes.count - start)
                {
                    end = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                }
                out.append(UInt8(ascii: "\n"))
                out.append(contentsOf: indent)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
                start = end + 1
            } while start <= bytes.count
        }
    }
}

/// Where running work reports what it does: progress lines, notes, warnings.
/// The CLI decides how it looks (a live progress line on a terminal, plain lines otherwise).
public protocol ProgressReporter: AnyObject, Sendable {
    func info(_ line: String)
    func warning(_ line: String)
    /// Backfill progress: rows copied so far of an estimated total, and rows/s.
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double)
    /// The same, with the partition of the slice just copied (where the backfill is).
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double, partition: String?)
}

extension ProgressReporter {
    /// A reporter that does not show partitions reports without it.
    public func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double, partition: String?) {
        progress(label, done: done, total: total, rowsPerSecond: rowsPerSecond)
    }
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
