import Foundation

/// A small mutex wrapper so model types need not import Synchronization.
package final class NSLockShim: @unchecked Sendable {
    private let lock = NSLock()
    package init() {}
    package func with<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
