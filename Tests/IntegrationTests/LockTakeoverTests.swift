import Foundation
import TestSupport
import XCTest

@testable import MBG

/// After kill -9 the same command can run at once: a lock whose owner is a
/// process of this host that no longer exists is taken over (with a warning);
/// one held by another host still refuses.
final class LockTakeoverTests: XCTestCase {
    func test18DeadLocalOwner() throws { try deadLocalOwner("18") }
    func test26DeadLocalOwner() throws { try deadLocalOwner("26") }

    func deadLocalOwner(_ server: String) throws {
        onSeededLane(Lane(server: server), rows: 10_000) { env, m in
            let store = StateStore(transport: env.transport, database: env.database, owner: "x", clock: .system)
            try store.ensureTable()

            // Held by another host, heartbeat fresh: refused.
            let remote = "elsewhere-\(UUID().uuidString.prefix(6)):\(deadPid())"
            try store.write(m.name, "lock", encodeJSON(LockRecord(owner: remote, since: "t0")))
            XCTAssertThrowsError(try env.runner().apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)) { error in
                guard case MigrationError.locked(_, let owner, _, _, let stale) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(owner, remote)
                XCTAssertFalse(stale)
            }

            // Held by a process of this host that was killed: taken over at once.
            let dead = "\(ProcessInfo.processInfo.hostName):\(deadPid())"
            try store.write(m.name, "lock", encodeJSON(LockRecord(owner: dead, since: "t1")))
            let reporter = CollectingReporter()
            let runner = MigrationRunner(transport: env.transport, capabilities: env.capabilities, database: env.database,
                                         reporter: reporter, owner: "test:\(getpid())")
            runner.fenceSettleSeconds = 0.2
            try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
            XCTAssertEqual(try runner.status(m).first?.phase, .verified)
            XCTAssertTrue(reporter.lines.contains { $0.hasPrefix("warning: taking over the lock of \(dead)") && $0.contains("no longer exists") }, "\(reporter.lines)")
            let n = try env.transport.run("SELECT count() FROM \(qualified(env.database, m.to.physicalName))").scalar
            XCTAssertEqual(n, "10000")
        }
    }
}

/// Runs that try to take a free lock at the same instant: exactly one gets
/// it. Without the mutex around the read-check-write, two can both read
/// "free" and the earlier writer re-reads before the later row lands.
final class LockRaceTests: XCTestCase {
    func test18OneWinner() throws { try oneWinner(.v18) }
    func test26OneWinner() throws { try oneWinner(.v26) }

    func oneWinner(_ lane: Lane) throws {
        onEveryLane([lane], timeout: 120) { env in
            let m = env.migration(strategy: .fence, mode: .versioned)
            let store = StateStore(transport: env.transport, database: env.database, owner: "x", clock: .system)
            try store.ensureTable()
            for round in 0..<5 {
                let runners = (0..<6).map { i in
                    MigrationRunner(transport: env.transport, capabilities: env.capabilities, database: env.database,
                                    reporter: CollectingReporter(), owner: "race-\(round)-\(i)")
                }
                let winners = Winners()
                DispatchQueue.concurrentPerform(iterations: runners.count) { i in
                    do {
                        try runners[i].acquireLock(m, MigrationState(), takeOver: false)
                        winners.add(i)
                    } catch MigrationError.locked {
                    } catch {
                        winners.fail("\(error)")
                    }
                }
                XCTAssertEqual(winners.list.count, 1, "round \(round): winners \(winners.list), errors \(winners.errors)")
                XCTAssertEqual(winners.errors, [])
                if let w = winners.list.first {
                    XCTAssertEqual(try store.load(m.name).lock?.owner, "race-\(round)-\(w)")
                    runners[w].releaseLock(m)
                }
            }
        }
    }
}

private final class Winners: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [Int] = []
    private var failures: [String] = []
    var list: [Int] { lock.lock(); defer { lock.unlock() }; return ids }
    var errors: [String] { lock.lock(); defer { lock.unlock() }; return failures }
    func add(_ i: Int) { lock.lock(); ids.append(i); lock.unlock() }
    func fail(_ e: String) { lock.lock(); failures.append(e); lock.unlock() }
}
