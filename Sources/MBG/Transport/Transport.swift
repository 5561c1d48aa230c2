import Foundation

/// One statement to send to ClickHouse.
public struct Query: Sendable, Equatable {
    public var sql: String
    /// ClickHouse settings sent alongside the statement (`max_threads`, …).
    public var settings: [String: String]
    /// Lets a caller cancel the statement later with `KILL QUERY`.
    public var queryID: String?
    /// Seconds to wait for the whole response; nil uses the transport's default.
    public var timeout: Double?

    public init(
        _ sql: String, settings: [String: String] = [:], queryID: String? = nil,
        timeout: Double? = nil
    ) {
        self.sql = sql
        self.settings = settings
        self.queryID = queryID
        self.timeout = timeout
    }
}

/// A column of a result: its name and its ClickHouse type.
public struct ResultColumn: Sendable, Equatable, Codable {
    public var name: String
    public var type: String
    public init(name: String, type: String) {
        self.name = name
        self.type = type
    }
}

/// Rows as ClickHouse rendered them (TabSeparated text, unescaped); nil is NULL.
/// Kept as text so 64-bit integers and decimals survive exactly.
public struct QueryResult: Sendable, Equatable {
    public var columns: [ResultColumn]
    public var rows: [[String?]]
    /// Rows written, as the server reported (`X-ClickHouse-Summary`), when known.
    public var writtenRows: Int?
    /// The answer as text when the statement chose its own output format
    /// (`FORMAT JSON`, …) and so was not decoded into rows.
    public var text: String?

    public init(
        columns: [ResultColumn] = [], rows: [[String?]] = [], writtenRows: Int? = nil,
        text: String? = nil
    ) {
        self.columns = columns
        self.rows = rows
        self.writtenRows = writtenRows
        self.text = text
    }

    public static let empty = QueryResult()

    /// The first cell of the first row, if any.
    public var scalar: String? { rows.first?.first ?? nil }

    public func column(_ name: String) -> Int? { columns.firstIndex { $0.name == name } }
}

/// Carries SQL to a ClickHouse server. Implementations are picked by URL scheme
/// through `TransportRegistry`; a host program can register its own.
public protocol Transport: AnyObject, Sendable {
    /// Runs one statement and returns its rows (empty for DDL and inserts).
    func execute(_ query: Query) throws -> QueryResult
    /// Asks the server to stop a running statement.
    func cancel(queryID: String) throws
    /// Where this transport points, safe to print: never holds a password.
    var displayURL: String { get }
}

extension Transport {
    @discardableResult
    public func run(_ sql: String, settings: [String: String] = [:]) throws -> QueryResult {
        try execute(Query(sql, settings: settings))
    }
}

/// How to reach a server: everything a transport needs but the URL scheme.
public struct ConnectionOptions: Sendable {
    public var url: URL
    public var user: String?
    /// Held in memory only; never printed, logged or written anywhere.
    public var password: String?
    public var database: String?
    public var timeout: Double

    public init(
        url: URL, user: String? = nil, password: String? = nil, database: String? = nil,
        timeout: Double = 300
    ) {
        self.url = url
        self.user = user
        self.password = password
        self.database = database
        self.timeout = timeout
    }
}

/// Errors from talking to ClickHouse.
public enum TransportError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The server answered with an exception.
    case server(code: Int, name: String?, message: String, url: String)
    /// The server could not be reached or the connection broke.
    case connection(url: String, reason: String)
    /// No answer within the time allowed.
    case timeout(url: String, seconds: Double)
    /// The server answered something that is not ClickHouse's protocol.
    case protocolError(url: String, reason: String)
    /// No transport is registered for the URL's scheme.
    case unsupportedScheme(String)

    public var description: String {
        switch self {
        case .server(let code, let name, let message, let url):
            let n = name.map { " (\($0))" } ?? ""
            return "ClickHouse error \(code)\(n) from \(url): \(message)"
        case .connection(let url, let reason):
            return "cannot reach ClickHouse at \(url): \(reason)"
        case .timeout(let url, let seconds):
            return "ClickHouse at \(url) did not answer within \(Int(seconds)) s"
        case .protocolError(let url, let reason):
            return "unexpected answer from \(url): \(reason)"
        case .unsupportedScheme(let scheme):
            return "no transport for URL scheme '\(scheme)' (known: http, https, dry-run)"
        }
    }

    /// The ClickHouse error code, when the server gave one.
    public var serverCode: Int? {
        if case .server(let code, _, _, _) = self { return code }
        return nil
    }
}

/// Picks a transport by URL scheme. Host programs add their own schemes.
public final class TransportRegistry: @unchecked Sendable {
    public typealias Factory = @Sendable (ConnectionOptions) throws -> any Transport
    private var factories: [String: Factory] = [:]
    private let lock = NSLock()

    public init() {}

    public func register(scheme: String, _ factory: @escaping Factory) {
        lock.lock()
        defer { lock.unlock() }
        factories[scheme.lowercased()] = factory
    }

    public func make(_ options: ConnectionOptions) throws -> any Transport {
        let scheme = (options.url.scheme ?? "").lowercased()
        lock.lock()
        let factory = factories[scheme]
        lock.unlock()
        guard let factory else { throw TransportError.unsupportedScheme(scheme) }
        return try factory(options)
    }

    /// http, https and dry-run.
    public static func standard() -> TransportRegistry {
        let registry = TransportRegistry()
        registry.register(scheme: "http") { try HTTPTransport(options: $0) }
        registry.register(scheme: "https") { try HTTPTransport(options: $0) }
        registry.register(scheme: "dry-run") { _ in DryRunTransport() }
        return registry
    }
}

/// A URL with any user or password removed, for messages.
package func redactedURL(_ url: URL) -> String {
    guard var parts = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
        return "<url>"
    }
    parts.user = nil
    parts.password = nil
    parts.query = nil
    return parts.string ?? "<url>"
}

/// One statement on its own thread, for reads that can overlap other work.
package final class Concurrent: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<QueryResult, any Error> = .failure(CancellationError())

    package init(_ transport: any Transport, _ sql: String) {
        Thread.detachNewThread { [self] in
            outcome = Result { try transport.execute(Query(sql)) }
            done.signal()
        }
    }

    package func wait() -> Result<QueryResult, any Error> {
        done.wait()
        return outcome
    }
}
