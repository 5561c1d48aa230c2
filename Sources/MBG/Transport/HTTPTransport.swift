import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// ClickHouse's HTTP interface over URLSession. (Filled in by the transport work.)
public final class HTTPTransport: Transport, @unchecked Sendable {
    public let options: ConnectionOptions

    public init(options: ConnectionOptions) throws {
        self.options = options
    }

    public func execute(_ query: Query) throws -> QueryResult {
        throw TransportError.connection(url: displayURL, reason: "not implemented yet")
    }

    public func cancel(queryID: String) throws {}

    public var displayURL: String { redactedURL(options.url) }
}
