import Foundation

/// ClickHouse's HTTP interface as pure functions: the request for a statement,
/// and the meaning of an answer. `HTTPTransport` only moves bytes; everything
/// here can be tested without a network.
package enum ClickHouseHTTP {
    /// The format appended to statements that return rows.
    package static let rowsFormat = "TabSeparatedWithNamesAndTypes"

    /// How to read a response body.
    package enum BodyFormat: Sendable, Equatable {
        /// Header lines with names and types, then rows.
        case namesAndTypes
        /// A header line with names, then rows.
        case names
        /// Rows only (TabSeparated, the server's default).
        case rows
        /// The caller chose another format: the body is not decoded.
        case opaque
    }

    /// One HTTP request, before it becomes a `URLRequest`.
    package struct Request: Sendable, Equatable {
        package var url: URL
        package var headers: [String: String]
        package var body: Data
        /// Seconds allowed for the whole answer.
        package var timeout: Double
        package var bodyFormat: BodyFormat
    }

    /// An exception reported by the server.
    package struct ServerError: Sendable, Equatable {
        package var code: Int
        package var name: String?
        package var message: String
    }

    // MARK: Requests

    /// The server URL with any user and password taken out, and those credentials.
    /// Explicit options win over credentials written into the URL.
    static func endpoint(_ options: ConnectionOptions) -> (
        components: URLComponents, user: String?, password: String?
    ) {
        var parts =
            URLComponents(url: options.url, resolvingAgainstBaseURL: false) ?? URLComponents()
        var user = parts.user
        var password = parts.password
        parts.user = nil
        parts.password = nil
        // `?user=…&password=…` in the URL are credentials too: move them to headers.
        var kept: [URLQueryItem] = []
        for item in parts.queryItems ?? [] {
            switch item.name {
            case "user": user = user ?? item.value
            case "password": password = password ?? item.value
            default: kept.append(item)
            }
        }
        parts.percentEncodedQuery =
            kept.isEmpty ? nil : kept.map { encodeQueryItem($0.name, $0.value ?? "") }.joined(separator: "&")
        if parts.path.isEmpty { parts.path = "/" }
        return (parts, options.user ?? user, options.password ?? password)
    }

    /// The POST for one statement: SQL in the body; database, settings and query id
    /// as URL parameters; user and password in headers, never in the URL.
    package static func request(for query: Query, options: ConnectionOptions) -> Request {
        let (base, user, password) = endpoint(options)
        var params: [(String, String)] = []
        if let db = options.database, !db.isEmpty { params.append(("database", db)) }
        for key in query.settings.keys.sorted() where key != "database" && key != "query_id" {
            params.append((key, query.settings[key]!))
        }
        if let id = query.queryID { params.append(("query_id", id)) }

        var parts = base
        let encoded = params.map { encodeQueryItem($0.0, $0.1) }
        let existing = parts.percentEncodedQuery.map { [$0] } ?? []
        let all = existing + encoded
        parts.percentEncodedQuery = all.isEmpty ? nil : all.joined(separator: "&")

        var headers = ["Content-Type": "text/plain; charset=UTF-8"]
        if let user { headers["X-ClickHouse-User"] = user }
        if let password { headers["X-ClickHouse-Key"] = password }

        let (sql, format) = prepareSQL(query.sql)
        return Request(
            url: parts.url ?? options.url, headers: headers, body: Data(sql.utf8),
            timeout: query.timeout ?? options.timeout, bodyFormat: format)
    }

    /// `/ping` under the server URL (credentials removed).
    package static func pingURL(_ options: ConnectionOptions) -> URL {
        var parts = endpoint(options).components
        parts.percentEncodedQuery = nil
        if !parts.path.hasSuffix("/") { parts.path += "/" }
        parts.path += "ping"
        return parts.url ?? options.url
    }

    /// Percent-encodes everything but unreserved characters: `+` must not reach the
    /// server raw, it would read it as a space.
    static func encodeQueryItem(_ name: String, _ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let n = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
        let v = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
        return "\(n)=\(v)"
    }

    // MARK: Statements

    private static let rowKeywords: Set<String> = [
        "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN",
    ]

    /// The first keyword of a statement, upper-case, after comments and whitespace;
    /// `(` counts as `SELECT` (a parenthesised query).
    package static func leadingKeyword(_ sql: String) -> String? {
        guard let first = sqlTokens(sql).first else { return nil }
        if first.kind == .symbol && first.text == "(" { return "SELECT" }
        return first.kind == .word ? first.text.uppercased() : nil
    }

    /// The format a statement names in its own `FORMAT x` clause, if it has one.
    package static func formatClause(_ sql: String) -> String? {
        let tokens = sqlTokens(sql)
        var k = tokens.count - 1
        while k >= 1 {
            let t = tokens[k - 1]
            let name = tokens[k]
            if t.depth == 0 && t.isWord("FORMAT")
                && (name.kind == .word || name.kind == .quotedIdentifier)
            {
                // FORMAT ends the statement (26.x also allows SETTINGS after it).
                let rest = tokens[(k + 1)...].filter { !($0.kind == .symbol && $0.text == ";") }
                if rest.isEmpty || rest.first!.isWord("SETTINGS") { return name.text }
            }
            k -= 1
        }
        return nil
    }

    /// The SQL to send and how to read the answer. Statements that return rows get
    /// `FORMAT TabSeparatedWithNamesAndTypes` unless they name a format themselves.
    package static func prepareSQL(_ sql: String) -> (sql: String, format: BodyFormat) {
        guard let keyword = leadingKeyword(sql), rowKeywords.contains(keyword) else {
            return (sql, .rows)
        }
        if let format = formatClause(sql) {
            switch format.lowercased() {
            case "tabseparatedwithnamesandtypes", "tsvwithnamesandtypes": return (sql, .namesAndTypes)
            case "tabseparatedwithnames", "tsvwithnames": return (sql, .names)
            case "tabseparated", "tsv": return (sql, .rows)
            default: return (sql, .opaque)
            }
        }
        // Cut after the last token: a trailing `;` or `-- comment` would swallow the clause.
        let tokens = sqlTokens(sql)
        var lastIndex = tokens.count - 1
        while lastIndex >= 0 && tokens[lastIndex].kind == .symbol && tokens[lastIndex].text == ";" {
            lastIndex -= 1
        }
        guard lastIndex >= 0 else { return (sql, .rows) }
        let body = sql[sql.startIndex..<tokens[lastIndex].range.upperBound]
        return (body + "\nFORMAT " + rowsFormat, .namesAndTypes)
    }

    // MARK: Answers

    /// Rows written, from `X-ClickHouse-Summary` (`{"written_rows":"10",…}`).
    package static func writtenRows(summaryHeader: String?) -> Int? {
        guard let summaryHeader, let data = summaryHeader.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let value = object["written_rows"]
        else { return nil }
        if let s = value as? String { return Int(s) }
        if let n = value as? NSNumber { return n.intValue }
        return nil
    }

    /// Reads an exception text in either server's form:
    /// `Code: 62. DB::Exception: … (SYNTAX_ERROR) (version 26.9.2.1)` or
    /// `Code: 62, e.displayText() = DB::Exception: …, e.what() = DB::Exception` (18.x).
    /// The code header, when present, wins over the body.
    package static func parseServerError(_ text: String, codeHeader: String? = nil) -> ServerError? {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        var code = codeHeader.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let range = body.range(of: "Code: ") {
            body = body[range.upperBound...]
            let digits = body.prefix { $0.isASCII && $0.isNumber }
            if code == nil { code = Int(digits) }
            body = body.dropFirst(digits.count)
        } else if code == nil {
            return nil
        }
        guard let code else { return nil }
        if let range = body.range(of: "DB::Exception: ") {
            body = body[range.upperBound...]
        } else {
            body = body.drop { $0 == "." || $0 == "," || $0 == " " }
        }
        // Stack traces and the 18.x suffix say nothing to a user.
        if let range = body.range(of: "\nStack trace") { body = body[..<range.lowerBound] }
        if let range = body.range(of: ", e.what() = ") { body = body[..<range.lowerBound] }
        var message = String(body).trimmingCharacters(in: .whitespacesAndNewlines)
        if let range = message.range(of: " (version ", options: .backwards), message.hasSuffix(")") {
            message = String(message[..<range.lowerBound])
        }
        var name: String?
        if message.hasSuffix(")"), let open = message.lastIndex(of: "(") {
            let candidate = message[message.index(after: open)..<message.index(before: message.endIndex)]
            if !candidate.isEmpty, candidate.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isUppercase || $0.isNumber)) }),
                candidate.first?.isLetter == true
            {
                name = String(candidate)
                message = String(message[..<open]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        if message.hasSuffix(".") && name != nil { message.removeLast() }
        return ServerError(code: code, name: name ?? knownErrorNames[code], message: message)
    }

    /// An exception the server wrote at the end of a successful (200) answer, after
    /// some rows: the error and where the good data ends.
    package static func trailingError(in body: Data) -> (error: ServerError, dataEnd: Int)? {
        let window = 64 * 1024
        let tailStart = max(0, body.count - window)
        let bytes = [UInt8](body[(body.startIndex + tailStart)...])
        let marker = Array("Code: ".utf8)
        var k = bytes.count - marker.count
        while k >= 0 {
            if (k == 0 && tailStart == 0 || k > 0 && bytes[k - 1] == UInt8(ascii: "\n"))
                && Array(bytes[k..<(k + marker.count)]) == marker
            {
                let text = String(decoding: bytes[k...], as: UTF8.self)
                if isExceptionLine(text) {
                    // Newer servers wrap the text in `__exception__` markers and a tag line.
                    // ("\r\n" is one Character in Swift: make lines plain first.)
                    let cleaned = text.replacingOccurrences(of: "\r\n", with: "\n")
                        .split(separator: "\n", omittingEmptySubsequences: false)
                        .map(String.init)
                        .filter { $0 != "__exception__" && !isTagLine($0) }
                        .joined(separator: "\n")
                    if let error = parseServerError(cleaned) {
                        var end = tailStart + k
                        let prefix = [UInt8](body[body.startIndex..<(body.startIndex + end)])
                        if let r = findLast(Array("__exception__".utf8), in: prefix) { end = r }
                        return (error, end)
                    }
                }
            }
            k -= 1
        }
        return nil
    }

    private static func isExceptionLine(_ text: String) -> Bool {
        let digits = text.dropFirst(6).prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return false }
        let rest = text.dropFirst(6 + digits.count)
        return rest.hasPrefix(". DB::Exception") || rest.hasPrefix(", e.displayText() = DB::Exception")
    }

    private static func isTagLine(_ line: String) -> Bool {
        // `<length> <tag>` after the exception text in the marked form.
        let pieces = line.split(separator: " ")
        return pieces.count == 2 && pieces[0].allSatisfy { $0.isASCII && $0.isNumber }
            && !pieces[1].contains(":")
    }

    private static func findLast(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var k = haystack.count - needle.count
        while k >= 0 {
            if Array(haystack[k..<(k + needle.count)]) == needle { return k }
            k -= 1
        }
        return nil
    }

    /// Names for common codes, for servers (18.x) that do not send them.
    static let knownErrorNames: [Int: String] = [
        16: "NO_SUCH_COLUMN_IN_TABLE", 27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
        36: "BAD_ARGUMENTS", 44: "ILLEGAL_COLUMN", 46: "UNKNOWN_FUNCTION", 47: "UNKNOWN_IDENTIFIER",
        48: "NOT_IMPLEMENTED", 53: "TYPE_MISMATCH", 57: "TABLE_ALREADY_EXISTS",
        60: "UNKNOWN_TABLE", 62: "SYNTAX_ERROR", 81: "UNKNOWN_DATABASE", 82: "DATABASE_ALREADY_EXISTS",
        115: "UNKNOWN_SETTING", 159: "TIMEOUT_EXCEEDED", 164: "READONLY",
        192: "UNKNOWN_USER", 193: "WRONG_PASSWORD", 194: "REQUIRED_PASSWORD",
        241: "MEMORY_LIMIT_EXCEEDED", 336: "UNKNOWN_DATABASE_ENGINE", 394: "QUERY_WAS_CANCELLED",
        395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", 497: "ACCESS_DENIED", 516: "AUTHENTICATION_FAILED",
    ]

    /// Decodes a body in the given TabSeparated flavour.
    package static func decode(_ body: Data, format: BodyFormat) throws(TabSeparatedError) -> QueryResult {
        switch format {
        case .opaque:
            return QueryResult(text: String(decoding: body, as: UTF8.self))
        case .rows:
            return QueryResult(columns: [], rows: try TabSeparated.decodeRows(body))
        case .names:
            var rows = try TabSeparated.decodeRows(body)
            guard !rows.isEmpty else { return QueryResult() }
            let names = rows.removeFirst()
            return QueryResult(columns: names.map { ResultColumn(name: $0 ?? "", type: "") }, rows: rows)
        case .namesAndTypes:
            // Names, then types; the types say which fields are quoted literals.
            let newline = UInt8(ascii: "\n")
            guard let nameEnd = body.firstIndex(of: newline),
                let typeEnd = body[(nameEnd + 1)...].firstIndex(of: newline)
            else {
                // DDL sent with FORMAT answers nothing at all.
                if body.isEmpty { return QueryResult() }
                throw TabSeparatedError(reason: "no header lines")
            }
            let header = try TabSeparated.decodeRows(Data(body[..<typeEnd]))
            let names = header[0]
            let types = header.count > 1 ? header[1] : [""]
            guard names.count == types.count else {
                throw TabSeparatedError(reason: "header has \(names.count) names but \(types.count) types")
            }
            let quoted = types.map { TabSeparated.isQuotedType($0 ?? "") }
            let rows = try TabSeparated.decodeRows(Data(body[(typeEnd + 1)...])) { quoted[$0 % quoted.count] }
            let columns = zip(names, types).map { ResultColumn(name: $0 ?? "", type: $1 ?? "") }
            if let bad = rows.firstIndex(where: { $0.count != columns.count }) {
                throw TabSeparatedError(
                    reason: "row \(bad + 1) has \(rows[bad].count) fields, expected \(columns.count)")
            }
            return QueryResult(columns: columns, rows: rows)
        }
    }
}
