/// A transport that only reads: every statement goes with `readonly=1` (the
/// server refuses writes itself), and one that is not a read is refused before
/// it is sent. `mbg rehearse` reaches the production server through it.
package final class ReadOnlyTransport: Transport, @unchecked Sendable {
    let base: any Transport

    package init(_ base: any Transport) { self.base = base }

    package static let readKeywords: Set<String> = ["SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS"]

    package func execute(_ query: Query) throws -> QueryResult {
        let keyword = ClickHouseHTTP.leadingKeyword(query.sql) ?? ""
        guard Self.readKeywords.contains(keyword) else {
            throw TransportError.protocolError(
                url: base.displayURL, reason: "refused to send a \(keyword.isEmpty ? "statement" : keyword) statement: this connection only reads")
        }
        var q = query
        // A readonly=1 user may not change settings, other than this one to its own value.
        q.settings = ["readonly": "1"]
        return try base.execute(q)
    }

    package func cancel(queryID: String) throws { try base.cancel(queryID: queryID) }
    package var displayURL: String { base.displayURL }
}
