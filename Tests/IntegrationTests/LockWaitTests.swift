import Foundation
import TestSupport
import XCTest

@testable import MBG

/// `mbg run --wait`: a second run of the same command while the first holds
/// the migration's lock waits for it and then finishes; without --wait it
/// exits 73 at once; with --wait-timeout it gives up (73) after that long.
final class LockWaitTests: XCTestCase {
    static let rows = 200_000

    func testSecondRunWaitsForTheFirst() throws {
        onEveryLane(timeout: 240) { lane in
            try TransformLiveTests.seed(lane, rows: Self.rows)
            // About five seconds of backfill at the throttle: long enough to meet the lock.
            let script = try scriptFile(TransformLiveTests.oldTable + """
                table ev v0.1 order_by ts, id
                migrate ev v0.0 -> v0.1 strategy fence throttle 40000
                apply ev

                """)
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
}
