import Foundation
import TestSupport
import XCTest

@testable import MBG

/// `mbg run --wait`: a second run of the same command while the first holds
/// the migration's lock waits for it and then finishes; without --wait it
/// exits 73 at once; with --wait-timeout it gives up (73) after that long.
final class LockWaitTests: XCTestCase {
    static let rows = 200_000

    /// Seeds `ev_0_0`; returns a script that applies its migration in about
    /// five seconds of throttled backfill: long enough to meet its lock.
    func seededApply(_ lane: LaneContext) throws -> String {
        try TransformLiveTests.seed(lane, rows: Self.rows)
        return try scriptFile(TransformLiveTests.oldTable + """
            table ev v0.1 order_by ts, id
            migrate ev v0.0 -> v0.1 strategy fence throttle 40000
            apply ev

            """)
    }

    func testSecondRunWaitsForTheFirst() throws {
        onEveryLane(timeout: 240) { lane in
            let script = try seededApply(lane)
            let base = ["--url", lane.url.absoluteString, "--database", lane.database]
            let first = Background { try runMBG(["run", script] + base, timeout: 180) }
            let store = StateStore(transport: lane.transport, database: lane.database, owner: "probe", clock: .system)
            var holder: String?
            for _ in 0..<200 where holder == nil {
                Thread.sleep(forTimeInterval: 0.05)
                holder = (try? store.load("ev"))?.lock?.owner
            }
            guard let holder else { return XCTFail("[\(lane.name)] the first run never took the lock") }

            // Without --wait: 73 at once, naming the holder.
            let refused = try runMBG(["run", script] + base)
            XCTAssertEqual(refused.status, 73, "[\(lane.name)] \(refused.stderr)")
            XCTAssertTrue(refused.stderr.contains(holder), "[\(lane.name)] \(refused.stderr)")

            // With --wait: waits, says for what and how long, then finishes.
            let started = Date()
            let waited = try runMBG(["run", script, "--wait"] + base, timeout: 180)
            let took = Date().timeIntervalSince(started)
            guard let one = try first.wait(seconds: 180)?.get() else { return XCTFail("[\(lane.name)] the first run did not end") }
            XCTAssertEqual(one.status, 0, "[\(lane.name)] first run: \(one.stderr)")
            XCTAssertEqual(waited.status, 0, "[\(lane.name)] waiting run: \(waited.stderr)")
            XCTAssertTrue(waited.stderr.contains("waiting for the lock held by \(holder)") && waited.stderr.contains("s so far"), "[\(lane.name)] \(waited.stderr)")
            print("[\(lane.name)] refused: \(refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines)); --wait run took \(String(format: "%.1f", took)) s: \(waited.stderr.split(separator: "\n").filter { $0.contains("waiting") }.first ?? "")")

            // Exactly once: every row in the new table once.
            let r = try lane.transport.run("SELECT count(), uniqExact(id) FROM \(qualified(lane.database, "ev_0_1"))").rows.first ?? []
            XCTAssertEqual(r.map { $0 ?? "" }, [String(Self.rows), String(Self.rows)], "[\(lane.name)]")
            XCTAssertEqual(try store.load("ev").phase, .verified)

            // A lock of another host that is never released: --wait-timeout gives up with 73.
            let lock = #"{"owner":"other-host:4242","since":"2024-01-01T00:00:00Z"}"#
            try lane.transport.run("INSERT INTO \(qualified(lane.database, "_mbg_state")) (migration, key, value, owner, seq) VALUES ('ev', 'lock', \(quoteString(lock)), 'other-host:4242', 9000000000000000000)")
            let t0 = Date()
            let gaveUp = try runMBG(["run", script, "--wait-timeout", "2s"] + base)
            XCTAssertEqual(gaveUp.status, 73, "[\(lane.name)] \(gaveUp.stderr)")
            XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 2)
            XCTAssertTrue(gaveUp.stderr.contains("gave up waiting for the lock held by other-host:4242 after 2 s"), "[\(lane.name)] \(gaveUp.stderr)")
            let bad = try runMBG(["run", script, "--wait-timeout", "soon"] + base)
            XCTAssertEqual(bad.status, 64, "[\(lane.name)] \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains("--wait-timeout 'soon'"), bad.stderr)
        }
    }

    /// kill -9 of `mbg run` (apply) at several moments, each followed at once
    /// by the same command: never exit 73 (the dead local owner's lock is
    /// taken over, with a warning), and in the end every row of the old
    /// table, and every row writers added meanwhile, is in the new one once.
    func testKilledApplyRerunAtOnce() throws {
        onEveryLane(timeout: 300) { lane in
            let script = try seededApply(lane)
            let args = ["run", script, "--url", lane.url.absoluteString, "--database", lane.database]
            let writers = Writers(env: lane, table: "ev_0_0", count: 2)
            writers.start()
            defer { writers.stop() }
            var takeovers = 0
            for (i, delay) in [1.0, 2.0, 3.0].enumerated() {
                let log = NSTemporaryDirectory() + "mbg-kill-\(UUID().uuidString).log"
                FileManager.default.createFile(atPath: log, contents: nil)
                defer { try? FileManager.default.removeItem(atPath: log) }
                let p = Process()
                p.executableURL = productsDirectory().appendingPathComponent("mbg")
                p.arguments = args
                p.environment = ProcessInfo.processInfo.environment.merging(["MBG_HOME": repositoryRoot().path]) { $1 }
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle(forWritingAtPath: log)
                try p.run()
                Thread.sleep(forTimeInterval: delay)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                let err = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                // Still at work when killed: not refused by the lock of the run killed before.
                XCTAssertEqual(p.terminationReason, .uncaughtSignal, "[\(lane.name)] run \(i) ended by itself (\(p.terminationStatus)): \(err)")
                XCTAssertFalse(err.contains("is locked by"), "[\(lane.name)] run \(i): \(err)")
                if err.contains("taking over the lock of") && err.contains("no longer exists") { takeovers += 1 }
            }
            let again = try runMBG(args, timeout: 180)
            XCTAssertEqual(again.status, 0, "[\(lane.name)] re-run after kill -9: \(again.stderr)")
            if again.stderr.contains("taking over the lock of") && again.stderr.contains("no longer exists") { takeovers += 1 }
            XCTAssertFalse(again.stderr.contains("is locked by"), "[\(lane.name)] \(again.stderr)")
            XCTAssertGreaterThanOrEqual(takeovers, 1, "[\(lane.name)] a run after a kill took the lock over at once")
            Thread.sleep(forTimeInterval: 0.5)
            writers.stop()
            // Writers wrote the old table throughout: the bridge forwarded their rows.
            let c = try lane.count("ev_0_1", writers: writers)
            print("[\(lane.name)] kill -9 x3 then re-run: lock taken over \(takeovers) time(s) at once; seed \(c.seed)/\(Self.rows), writer rows \(c.writerUnique)/\(writers.acked), lost \(c.lost), duplicated \(c.duplicated)")
            XCTAssertEqual(c.seed, Self.rows)
            XCTAssertEqual(c.seedDuplicated, 0)
            XCTAssertEqual(c.lost, 0)
            XCTAssertEqual(c.duplicated, 0)
            XCTAssertEqual(writers.unresolved, 0)
        }
    }
}
