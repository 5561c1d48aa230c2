import Foundation
import MBG
import TestSupport
import XCTest

/// The seed scenario, examples/events.mbg, run by the real binary on both lanes
/// while writers insert uniquely numbered rows from before `apply` until after
/// cut-over; then `finish` by re-running the whole script. Every seeded and
/// every acknowledged row must be in events_0_1 exactly once.
final class SeedScenarioTests: XCTestCase {
    func testSeedScenarioUnderLiveWrites() {
        onEveryLane { ctx in
            let url = ctx.url.absoluteString
            let common = ["--url", url, "--database", ctx.database, "--yes"]
            let seed = try runMBG(["run"] + common + ["examples/seed-events.mbg"], directory: repositoryRoot(), timeout: 300)
            XCTAssertEqual(seed.status, 0, seed.stderr)

            let example = try String(contentsOf: repositoryRoot().appendingPathComponent("examples/events.mbg"), encoding: .utf8)
            XCTAssertTrue(example.contains("\nfinish events keep"), "the example ends with finish")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-seed-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let untilCutover = dir.appendingPathComponent("events-until-cutover.mbg")
            try example.replacingOccurrences(of: "\nfinish events keep", with: "\n").write(to: untilCutover, atomically: true, encoding: .utf8)

            let writers = SeedWriters(transport: try ctx.transportInDatabase(), table: "events_0_0", lane: "\(ctx.lane)")
            writers.start()
            Thread.sleep(forTimeInterval: 1)
            let run = try runMBG(["run"] + common + [untilCutover.path], directory: repositoryRoot(), timeout: 600)
            Thread.sleep(forTimeInterval: 1)
            writers.stop()
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stderr.contains("cut over"), run.stderr)
            // Re-running the whole script skips what is done and finishes.
            let again = try runMBG(["run"] + common + ["examples/events.mbg"], directory: repositoryRoot(), timeout: 300)
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertTrue(again.stderr.contains("finished"), again.stderr)

            let t = "\(quoteIdentifier(ctx.database)).events_0_1"
            let r = try ctx.transport.execute(Query(
                "SELECT countIf(NOT startsWith(id, 'w')), uniqExactIf(id, NOT startsWith(id, 'w')), countIf(startsWith(id, 'w')), uniqExactIf(id, startsWith(id, 'w')) FROM \(t)"))
            let n = (r.rows.first ?? []).map { Int($0 ?? "") ?? -1 }
            let acked = writers.acked
            let present = try ctx.transport.execute(Query(
                "SELECT count() FROM \(t) WHERE id IN (\(acked.map { quoteString($0) }.joined(separator: ", ")))")).scalar
            print("[\(ctx.lane)] seed rows \(n[0]) (unique \(n[1])), writer rows \(n[2]) (unique \(n[3])), acknowledged \(acked.count), present \(present ?? "?"), failed requests \(writers.failures)")
            XCTAssertEqual(n[0], 1_000_000, "every seeded row, once")
            XCTAssertEqual(n[1], 1_000_000)
            XCTAssertGreaterThan(acked.count, 100, "writers ran during the migration")
            XCTAssertEqual(n[2], n[3], "no writer row twice")
            XCTAssertEqual(present, String(acked.count), "every acknowledged writer row arrived")
            XCTAssertEqual(n[3], acked.count, "and no row that was not acknowledged")
            XCTAssertEqual(writers.unresolved, 0)
            if ctx.lane.isModern { XCTAssertEqual(writers.failures, 0, "writers saw errors on 26.9") }
        }
    }
}

/// Two threads inserting 10 numbered rows every 100 ms into `table`.
final class SeedWriters: @unchecked Sendable {
    let transport: HTTPTransport
    let table: String
    let lane: String
    private let lock = NSLock()
    private var stopping = false
    private var ids: [String] = []
    private var _failures = 0
    private var _unresolved = 0
    private let done = DispatchGroup()

    init(transport: HTTPTransport, table: String, lane: String) {
        self.transport = transport
        self.table = table
        self.lane = lane
    }

    var acked: [String] { lock.withLock { ids } }
    var failures: Int { lock.withLock { _failures } }
    var unresolved: Int { lock.withLock { _unresolved } }

    func start() {
        for w in 0..<2 {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                var next = 0
                while !lock.withLock({ stopping }) {
                    let batch = (next..<next + 10).map { "w\(w)-\($0)" }
                    next += 10
                    insert(batch)
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
        }
    }

    /// A failed insert is retried only when none of its rows landed.
    func insert(_ batch: [String]) {
        let list = batch.map(quoteString).joined(separator: ", ")
        for _ in 0..<20 {
            do {
                try transport.run("INSERT INTO \(table) (id, name, created_at) SELECT arrayJoin([\(list)]), 'writer', now()")
                lock.withLock { ids += batch }
                return
            } catch {
                lock.withLock { _failures += 1 }
                print("[\(lane)] writer insert failed: \(error)")
                Thread.sleep(forTimeInterval: 0.05)
                guard let n = try? transport.execute(Query("SELECT count() FROM \(table) WHERE id IN (\(list))")).scalar.flatMap({ Int($0) }) else { continue }
                if n == batch.count { lock.withLock { ids += batch }; return }
                if n != 0 { lock.withLock { _unresolved += 1 }; return }
            }
        }
        lock.withLock { _unresolved += 1 }
    }

    func stop() {
        lock.withLock { stopping = true }
        done.wait()
    }
}
