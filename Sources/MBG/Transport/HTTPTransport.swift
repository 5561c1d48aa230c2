import Dispatch
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// ClickHouse's HTTP interface over URLSession: one statement per POST.
///
/// `execute` blocks its caller and may be called from several threads at once.
/// Every statement runs under a query id (the caller's, or a fresh one), so
/// another thread — a Ctrl-C handler — can stop it with `cancel(queryID:)` or
/// `cancelAll()`; the blocked call then returns an error.
public final class HTTPTransport: Transport, @unchecked Sendable {
    package let options: ConnectionOptions
    /// How long a cancelled call waits for the server to confirm before it gives up locally.
    package let cancelGrace: Double

    private let session: URLSession
    private let delegate = SessionDelegate()
    private let lock = NSLock()
    /// Calls in flight by query id. Guarded by `lock`.
    private var running: [String: Call] = [:]

    public init(options: ConnectionOptions, cancelGrace: Double = 3) throws {
        guard let scheme = options.url.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else {
            throw TransportError.unsupportedScheme(options.url.scheme ?? "")
        }
        self.options = options
        self.cancelGrace = cancelGrace
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.urlCredentialStorage = nil
        // A delegate, not completion handlers: on Linux a 401 with `WWW-Authenticate`
        // (18.x on a wrong password) never completes otherwise, and the body with the
        // server's error only reaches a data delegate.
        self.session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    public var displayURL: String { redactedURL(options.url) }

    // MARK: Statements

    public func execute(_ query: Query) throws -> QueryResult {
        var query = query
        let id = query.queryID ?? UUID().uuidString
        query.queryID = id
        let request = ClickHouseHTTP.request(for: query, options: options)
        let call = Call()
        register(call, id: id)
        defer { unregister(call, id: id) }
        let answer = try perform(request, call: call, queryID: id)
        return try interpret(answer, format: request.bodyFormat)
    }

    /// Checks that the server answers `/ping`.
    package func ping() throws {
        let request = ClickHouseHTTP.Request(
            url: ClickHouseHTTP.pingURL(options), headers: [:], body: Data(),
            timeout: min(options.timeout, 30), bodyFormat: .rows)
        let answer = try perform(request, call: Call(), queryID: nil, method: "GET")
        guard (200..<300).contains(answer.status) else {
            throw TransportError.protocolError(
                url: displayURL, reason: "/ping answered HTTP \(answer.status)")
        }
    }

    // MARK: Cancelling

    /// Asks the server to stop the statement with this query id (`KILL QUERY … ASYNC`).
    /// A call of ours running it returns an error: the server's, or after
    /// `cancelGrace` seconds without one, a local `QUERY_WAS_CANCELLED`.
    public func cancel(queryID: String) throws {
        let call = runningCall(queryID)
        call?.markCancelled()
        do {
            _ = try execute(
                Query(
                    "KILL QUERY WHERE query_id = \(quoteString(queryID)) ASYNC",
                    timeout: min(options.timeout, 10)))
        } catch {
            // The server cannot be told: stop waiting for it right away.
            call?.abort()
            throw error
        }
        if let call {
            DispatchQueue.global().asyncAfter(deadline: .now() + cancelGrace) { call.abort() }
        }
    }

    /// Cancels every statement this transport is running (for a Ctrl-C handler).
    package func cancelAll() {
        for id in runningQueryIDs { try? cancel(queryID: id) }
    }

    /// Query ids of the statements in flight.
    package var runningQueryIDs: [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(running.keys).sorted()
    }

    private func register(_ call: Call, id: String) {
        lock.lock()
        running[id] = call
        lock.unlock()
    }

    private func unregister(_ call: Call, id: String) {
        lock.lock()
        if running[id] === call { running[id] = nil }
        lock.unlock()
    }

    private func runningCall(_ id: String) -> Call? {
        lock.lock()
        defer { lock.unlock() }
        return running[id]
    }

    // MARK: The wire

    private struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// Sends a request and waits for the whole answer, or the deadline.
    private func perform(
        _ request: ClickHouseHTTP.Request, call: Call, queryID: String?, method: String = "POST"
    ) throws -> Answer {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = method
        if method == "POST" { urlRequest.httpBody = request.body }
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        // The idle timeout outlasts the deadline below, which is the one that counts.
        urlRequest.timeoutInterval = request.timeout + 5

        let task = session.dataTask(with: urlRequest)
        delegate.add(task, call)
        call.start(task)
        if call.done.wait(timeout: .now() + request.timeout) == .timedOut {
            call.abort()
            if let queryID {
                // Don't leave the statement running on the server.
                let transport = self
                DispatchQueue.global().async {
                    _ = try? transport.execute(
                        Query("KILL QUERY WHERE query_id = \(quoteString(queryID)) ASYNC", timeout: 10))
                }
            }
            throw TransportError.timeout(url: displayURL, seconds: request.timeout)
        }

        let (data, response, error, cancelled) = call.outcome()
        if let error {
            if cancelled {
                throw TransportError.server(
                    code: 394, name: "QUERY_WAS_CANCELLED",
                    message: "Query was cancelled (the server did not confirm in time)", url: displayURL)
            }
            throw mapNetworkError(error, timeout: request.timeout)
        }
        guard let http = response as? HTTPURLResponse else {
            throw TransportError.protocolError(url: displayURL, reason: "not an HTTP answer")
        }
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return Answer(status: http.statusCode, headers: headers, body: data)
    }

    /// Turns an answer into rows, or the server's exception into an error.
    private func interpret(_ answer: Answer, format: ClickHouseHTTP.BodyFormat) throws -> QueryResult {
        let codeHeader = answer.headers["x-clickhouse-exception-code"]
        if !(200..<300).contains(answer.status) || codeHeader != nil {
            let text = String(decoding: answer.body, as: UTF8.self)
            if let error = ClickHouseHTTP.parseServerError(text, codeHeader: codeHeader) {
                throw serverError(error)
            }
            throw TransportError.protocolError(
                url: displayURL, reason: "HTTP \(answer.status): \(redact(String(text.prefix(200))))")
        }
        if let (error, _) = ClickHouseHTTP.trailingError(in: answer.body) {
            throw serverError(error)
        }
        do {
            var result = try ClickHouseHTTP.decode(answer.body, format: format)
            result.writtenRows = ClickHouseHTTP.writtenRows(
                summaryHeader: answer.headers["x-clickhouse-summary"])
            return result
        } catch {
            throw TransportError.protocolError(url: displayURL, reason: error.description)
        }
    }

    private func serverError(_ error: ClickHouseHTTP.ServerError) -> TransportError {
        .server(code: error.code, name: error.name, message: redact(error.message), url: displayURL)
    }

    private func mapNetworkError(_ error: any Error, timeout: Double) -> TransportError {
        guard let urlError = error as? URLError else {
            return .connection(url: displayURL, reason: "request failed")
        }
        let reason: String
        switch urlError.code {
        case .timedOut: return .timeout(url: displayURL, seconds: timeout)
        case .cannotConnectToHost: reason = "connection refused"
        case .cannotFindHost, .dnsLookupFailed: reason = "host not found"
        case .networkConnectionLost: reason = "connection lost"
        case .notConnectedToInternet: reason = "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            reason = "TLS handshake failed"
        case .badServerResponse: reason = "bad answer from server"
        case .cancelled: reason = "request cancelled"
        default:
            // libcurl's own words (e.g. "SSL certificate problem: …") say more than a code.
            let text = urlError.localizedDescription
            reason = text.isEmpty || text.hasPrefix("The operation") ? "network error \(urlError.code.rawValue)" : redact(text)
        }
        return .connection(url: displayURL, reason: reason)
    }

    /// Servers echo SQL in messages; a password must never travel on in an error.
    private func redact(_ text: String) -> String {
        let password = ClickHouseHTTP.endpoint(options).password
        guard let password, password.count >= 3 else { return text }
        return text.replacingOccurrences(of: password, with: "******")
    }
}

/// Routes URLSession's events to the call each task belongs to.
private final class SessionDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var calls: [Int: Call] = [:]

    func add(_ task: URLSessionTask, _ call: Call) {
        lock.lock()
        calls[task.taskIdentifier] = call
        lock.unlock()
    }

    private func call(_ task: URLSessionTask, remove: Bool = false) -> Call? {
        lock.lock()
        defer { lock.unlock() }
        return remove ? calls.removeValue(forKey: task.taskIdentifier) : calls[task.taskIdentifier]
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        call(dataTask)?.received(response)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        call(dataTask)?.received(data)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        // Credentials travel in headers; a challenge means they were refused.
        call(task)?.challenged()
        completionHandler(.cancelAuthenticationChallenge, nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        call(task, remove: true)?.complete(error)
    }
}

/// One request in flight: its task, what has arrived, and whether it was cancelled.
private final class Call: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var data = Data()
    private var response: URLResponse?
    private var error: (any Error)?
    private var cancelled = false
    private var wasChallenged = false
    private var finished = false

    func start(_ task: URLSessionDataTask) {
        lock.lock()
        self.task = task
        lock.unlock()
        task.resume()
    }

    func received(_ response: URLResponse) {
        lock.lock()
        self.response = response
        lock.unlock()
    }

    func received(_ data: Data) {
        lock.lock()
        self.data.append(data)
        lock.unlock()
    }

    func challenged() {
        lock.lock()
        wasChallenged = true
        lock.unlock()
    }

    func complete(_ error: (any Error)?) {
        lock.lock()
        if finished {
            lock.unlock()
            return
        }
        finished = true
        // A refused challenge ends the task as "cancelled", but the answer is complete.
        self.error = wasChallenged && response != nil && !cancelled ? nil : error
        lock.unlock()
        done.signal()
    }

    func markCancelled() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }

    /// Stops waiting: cancels the task (its completion then reports `cancelled`).
    func abort() {
        lock.lock()
        let task = self.task
        let isFinished = finished
        lock.unlock()
        if !isFinished { task?.cancel() }
    }

    func outcome() -> (Data, URLResponse?, (any Error)?, Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (data, response, error, cancelled)
    }
}
