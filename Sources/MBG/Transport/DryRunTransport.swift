import Foundation

/// Reaches no server: records every statement in order and answers with no rows.
public final class DryRunTransport: Transport, @unchecked Sendable {
    private let lock = NSLock()
    private var _statements: [String] = []

    public init() {}

    public func execute(_ query: Query) throws -> QueryResult {
        lock.lock()
        defer { lock.unlock() }
        _statements.append(query.sql)
        return .empty
    }

    public func cancel(queryID: String) throws {}

    public var displayURL: String { "dry-run" }
    public var isDryRun: Bool { true }

    /// Every statement received so far.
    public var statements: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _statements
    }
}
