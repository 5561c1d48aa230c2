import Foundation
import XCTest

@testable import MBG

/// Verification reports only what it measured. Under writers that never
/// pause, the fence's parts (held unmerged on both sides) are compared in one
/// read of each; when a slice's moved parts are not known only whole tables are
/// left, which it says were not compared (a distinct outcome) until the
/// writers stop, and then the numbers are the tables' own.
final class VerificationTests: XCTestCase {
    func test18NeverQuietIsNotFullyCompared() throws { try neverQuiet("18") }
    func test26NeverQuietIsNotFullyCompared() throws { try neverQuiet("26") }

    func neverQuiet(_ server: String) throws {
        onSeededLane(Lane(server: server), rows: 200_000) { env, m in
            let runner = env.runner()
            runner.fenceSettleSeconds = 0.2
            runner.faultHook = { point in if point == "verify.before" { throw MigrationError.injectedFault(point) } }
            XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false))
            runner.faultHook = nil
            XCTAssertEqual(try runner.status(m).first?.phase, .backfilled)

            // Writers with no pause between inserts: two reads of the old table never agree.
            let stop = Flag()
            let old = qualified(env.database, m.from.physicalName)
            var threads: [Background<Int>] = []
            for w in 0..<3 {
                threads.append(Background {
                    let t = try HTTPTransport(options: env.transport.options)
                    var n = 0
                    while !stop.isSet {
                        try t.run("INSERT INTO \(old) (id, ts, payload) SELECT \(LiveMigrationTests.writerBase + w * 10_000_000) + \(n), now(), 'w'")
                        n += 1
                    }
                    return n
                })
            }
            Thread.sleep(forTimeInterval: 0.5)
            // The parts nothing can change any more: compared while the writers go on.
            let fenced = try runner.verify(m)
            XCTAssertTrue(fenced.ok && fenced.fullyCompared, "\(fenced)")
            // The backfilled 200 000, plus the bridged rows when a moment came with no insert in flight.
            XCTAssertGreaterThanOrEqual(fenced.rows.reduce(0) { $0 + $1.oldRows }, 200_000)
            XCTAssertEqual(fenced.rows.reduce(0) { $0 + $1.newRows }, fenced.rows.reduce(0) { $0 + $1.oldRows })
            XCTAssertTrue(fenced.notes.contains { $0.contains("fenced part(s)") }, "\(fenced.notes)")

            // A slice whose moved parts are not known (a record of an earlier
            // version, a resumed move): only whole tables are left to compare.
            let state = try runner.store.load(m.name)
            let slice = try XCTUnwrap(state.slices?.first)
            let record = try XCTUnwrap(state.slice(slice.id))
            try runner.store.write(m.name, "slice/" + slice.id, encodeJSON(SliceRecord(state: .done, rows: record.rows)))
            do {
                // A fast server may still give two agreeing reads between inserts.
                let report = try runner.verify(m)
                XCTAssertTrue(report.ok && report.notes.contains { $0.contains("two reads") }, "\(report)")
                XCTAssertEqual(report.rows.reduce(0) { $0 + $1.oldRows }, report.rows.reduce(0) { $0 + $1.newRows })
            } catch MigrationError.notFullyCompared(_, let reasons, let notes) {
                print("[\(server)] \(reasons) \(notes)")
                XCTAssertTrue(reasons.first?.contains("never paused") == true, "\(reasons)")
                XCTAssertTrue(notes.contains { $0.contains("200000 rows") }, "the backfill's measured rows: \(notes)")
                XCTAssertEqual(MigrationError.notFullyCompared(migration: "ev", reasons: reasons, notes: notes).category, .verification)
            }
            stop.set()
            var written = 0
            for t in threads { written += try t.wait(seconds: 30)?.get() ?? 0 }
            XCTAssertGreaterThan(written, 0)

            // Quiet now: the report's numbers are measured on both sides and match the tables.
            let report = try runner.verify(m)
            XCTAssertTrue(report.ok && report.fullyCompared, "\(report)")
            let total = report.rows.reduce(0) { $0 + $1.oldRows }
            XCTAssertEqual(total, 200_000 + written)
            XCTAssertEqual(report.rows.reduce(0) { $0 + $1.newRows }, total)
            let newCount = try env.transport.run("SELECT count() FROM \(qualified(env.database, m.to.physicalName))").scalar
            XCTAssertEqual(newCount, String(total))
        }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
