import Foundation

/// The query a session is running, for cancelling it from another thread.
public final class RunningQuery: @unchecked Sendable {
    private let lock = NSLockShim()
    private var current: (transport: any Transport, id: String)?

    func start(_ transport: any Transport, _ id: String) { lock.with { current = (transport, id) } }
    func finish() { lock.with { current = nil } }

    /// Asks the server to stop the running query; a no-op when none runs.
    public func cancel() {
        guard let (transport, id) = lock.with({ current }) else { return }
        try? transport.cancel(queryID: id)
    }
}

