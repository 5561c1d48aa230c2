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

            let writers = Writers(seedScenario: ctx)
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
            let acked = writers.ackedIDs
            let present = try ctx.transport.execute(Query(
                "SELECT count() FROM \(t) WHERE id IN (\(acked.joined(separator: ", ")))")).scalar
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

extension Writers {
    /// The seed scenario's columns; ids `w0-1`, `w1-1`, … never clash with seeded ones.
    convenience init(seedScenario ctx: LaneContext) {
        self.init(
            transport: { try ctx.transportInDatabase() }, database: ctx.database, table: "events_0_0", threads: 2,
            label: "\(ctx.lane)",
            batch: { w, seq in (0..<10).map { quoteString("w\(w)-\(seq * 10 + $0)") } },
            insert: { table, list in "INSERT INTO \(table) (id, name, created_at) SELECT arrayJoin([\(list)]), 'writer', now()" })
    }
}
