import Foundation

/// Reaches no server: records every statement in order and answers with no rows.
public final class DryRunTransport: Transport, @unchecked Sendable {
    private let lock = NSLock()
    private var _statements: [String] = []

    /// Called with each statement as it arrives (the CLI prints it).
    private let onStatement: (@Sendable (String) -> Void)?

    public init(onStatement: (@Sendable (String) -> Void)? = nil) {
        self.onStatement = onStatement
    }

    public func execute(_ query: Query) throws -> QueryResult {
        lock.lock()
        _statements.append(query.sql)
        lock.unlock()
        onStatement?(query.sql)
        return .empty
    }

    public func cancel(queryID: String) throws {}

    public var displayURL: String { "dry-run" }

    /// Every statement received so far.
    public var statements: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _statements
    }
}
