import Foundation

/// A small mutex wrapper so model types need not import Synchronization.
public final class NSLockShim: @unchecked Sendable {
    private let lock = NSLock()
    public init() {}
    public func with<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
