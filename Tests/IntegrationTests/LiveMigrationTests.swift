import Foundation
import XCTest

@testable import MBG

/// Live migrations against real servers, with writers inserting uniquely
/// numbered rows throughout; afterwards every number must be in the live
/// table exactly once. Engines: `eval "$(scripts/engines-up)"`.
final class LiveMigrationTests: XCTestCase {
    static let seedRows = 1_000_000
    static let writerBase = 100_000_000

    // MARK: cases, per server

    func test26CutoffVersioned() { live(.v26, .cutoff, .versioned) }
    func test26FenceSwap() { live(.v26, .fence, .swap) }
    func test26FenceVersioned() { live(.v26, .fence, .versioned) }
    func test26CutoffSwapRollbackAfterCutover() { live(.v26, .cutoff, .swap, rollbackAfterCutover: true) }
    func test26FenceSwapRollbackAfterCutover() { live(.v26, .fence, .swap, rollbackAfterCutover: true) }
    func test26CrashAndResume() { live(.v26, .fence, .swap, crashes: crashPoints) }
    func test26CutoffCrashAndResume() { live(.v26, .cutoff, .versioned, crashes: ["bridge.after", "backfill.moved", "verify.after"]) }
    func test26VerificationMismatchNamesPartition() { mismatch(.v26) }
    func test26Throttle() { throttle(.v26) }

    func test18CutoffVersioned() { live(.v18, .cutoff, .versioned) }
    func test18FenceSwap() { live(.v18, .fence, .swap) }
    func test18FenceVersioned() { live(.v18, .fence, .versioned) }
    func test18CutoffSwapRollbackAfterCutover() { live(.v18, .cutoff, .swap, rollbackAfterCutover: true) }
    func test18CrashAndResume() { live(.v18, .fence, .swap, crashes: crashPoints) }
    func test18VerificationMismatchNamesPartition() { mismatch(.v18) }

    let crashPoints = ["bridge.before", "bridge.after", "backfill.staged", "backfill.moved", "verify.after", "cutover.renamed"]

    // MARK: scenario

    func live(
        _ lane: Lane, _ strategy: BackfillStrategy, _ mode: CutoverMode,
        rollbackAfterCutover: Bool = false, crashes: [String] = []
    ) {
        onSeededLane(lane, rows: Self.seedRows, strategy: strategy, mode: mode) { env, m in
            let writers = Writers(env: env, table: m.from.physicalName, count: 2)
            writers.start()
            Thread.sleep(forTimeInterval: 1)

            // Crash at each point in turn, then run again: state says what is done.
            let pending = FaultPlan(crashes)
            let runner = env.runner()
            runner.faultHook = { point in try pending.hit(point) }
            var attempts = 0
            while true {
                attempts += 1
                do {
                    try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
                    try runner.cutover(m)
                    break
                } catch MigrationError.injectedFault(let point) {
                    print("[\(env.name)] crashed at \(point), resuming")
                    XCTAssertLessThan(attempts, 20)
                }
            }
            XCTAssertTrue(pending.remaining.isEmpty, "fault points never reached: \(pending.remaining)")
            if mode == .versioned { writers.retarget(m.to.physicalName) }
            Thread.sleep(forTimeInterval: 1)
            let live: String
            if rollbackAfterCutover {
                try runner.rollback(m)  // switch back
                Thread.sleep(forTimeInterval: 1)
                if mode == .versioned { writers.retarget(m.from.physicalName) }
                try runner.rollback(m)  // drop what the migration made (a no-op if already)
                live = m.from.physicalName
            } else {
                try runner.finish(m, keepOld: false)
                live = mode == .swap ? m.from.physicalName : m.to.physicalName
            }
            Thread.sleep(forTimeInterval: 0.5)
            writers.stop()
            let result = try env.count(live, writers: writers)
            print("[\(env.name)] \(strategy) \(mode)\(rollbackAfterCutover ? " rollback" : "")\(crashes.isEmpty ? "" : " crashes=\(crashes.count)"): seed \(result.seed)/\(Self.seedRows), writer rows \(result.writerUnique)/\(writers.acked) acked, lost \(result.lost), duplicated \(result.duplicated), failed requests \(writers.failures) (retried without duplicates)")
            XCTAssertEqual(result.seed, Self.seedRows)
            XCTAssertEqual(result.seedDuplicated, 0)
            XCTAssertEqual(result.lost, 0)
            XCTAssertEqual(result.duplicated, 0)
            XCTAssertEqual(writers.unresolved, 0, "writer requests whose outcome stayed unknown")
            if lane == .v26 { XCTAssertEqual(writers.failures, 0, "writers saw errors on 26.9") }
            let st = try runner.status(m).first
            XCTAssertEqual(st?.phase, rollbackAfterCutover ? .rolledBack : .finished)
        }
    }

    func mismatch(_ lane: Lane) {
        onSeededLane(lane, rows: 200_000) { env, m in
            let runner = env.runner()
            let newTable = qualified(env.database, m.to.physicalName)
            runner.faultHook = { point in
                if point == "verify.before" {
                    // One extra row in March 2024 of the new table.
                    try env.transport.run("INSERT INTO \(newTable) (id, ts, payload) VALUES (999999999, toDateTime('2024-03-10 00:00:00'), 'bogus')")
                }
            }
            XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: true, takeOverLock: false)) { error in
                guard case MigrationError.verificationMismatch(_, let parts) = error else {
                    return XCTFail("expected a verification mismatch, got \(error)")
                }
                XCTAssertEqual(parts.map(\.partition), ["202403"])
                XCTAssertEqual((error as? MigrationError)?.category, .verification)
                print("[\(env.name)] \(error)")
            }
            XCTAssertEqual(try runner.status(m).first?.phase, .backfilled, "stopped before cut-over")
        }
    }

    /// The backfill's average rate stays within 10% of the throttle.
    func throttle(_ lane: Lane) {
        onSeededLane(lane, rows: 600_000) { env, m in
            var m = m
            m.throttle = 200_000
            let reporter = RateReporter()
            let runner = MigrationRunner(transport: env.transport, capabilities: env.capabilities, database: env.database,
                                         reporter: reporter, owner: "throttle")
            runner.fenceSettleSeconds = 0
            try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
            print(String(format: "[%@] throttle 200000 rows/s: backfill averaged %.0f rows/s", env.name, reporter.lastRate))
            // The throttle is a ceiling: however fast the server, never above it
            // (how close it stays below is a benchmark, scripts/bench, not a test).
            XCTAssertLessThanOrEqual(reporter.lastRate, 220_000)
        }
    }
}

// MARK: - helpers

final class RateReporter: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var _rate = 0.0
    var lastRate: Double { lock.withLock { _rate } }
    func info(_ line: String) {}
    func warning(_ line: String) {}
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) { lock.withLock { _rate = rowsPerSecond } }
}

final class PrintReporter: ProgressReporter, @unchecked Sendable {
    let tag: String
    init(_ tag: String) { self.tag = tag }
    func info(_ line: String) { print("[\(tag)] \(line)") }
    func warning(_ line: String) { print("[\(tag)] warning: \(line)") }
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {}
}

/// Throws once at each listed point, in order of arrival.
final class FaultPlan: @unchecked Sendable {
    private let lock = NSLock()
    private var points: Set<String>
    init(_ points: [String]) { self.points = Set(points) }
    var remaining: Set<String> { lock.withLock { points } }
    func hit(_ point: String) throws {
        let fire = lock.withLock { points.remove(point) != nil }
        if fire { throw MigrationError.injectedFault(point) }
    }
}

/// The migration scenario of these tests on a lane's fresh database: table
/// `ev` v0.0 seeded, migrated to v0.1 ordered by (ts, id).
extension LaneContext {
    var columns: [ColumnDef] {
        [ColumnDef(name: "id", type: "UInt64"), ColumnDef(name: "ts", type: "DateTime"), ColumnDef(name: "payload", type: "String")]
    }

    var oldTable: TableDef {
        TableDef(name: "ev", version: Version([0, 0]), database: database, columns: columns, orderBy: ["id"], partitionBy: "toYYYYMM(ts)")
    }

    /// `n` rows over about a year of monthly partitions (never numbers(0): unlimited on 18.16).
    func seed(_ n: Int) throws {
        precondition(n > 0)
        try transport.run(createTableSQL(oldTable))
        try transport.run("INSERT INTO \(qualified(database, "ev_0_0")) SELECT number, toDateTime('2024-01-01 00:00:00') + intDiv(number * 31536000, \(n)), toString(number) FROM numbers(\(n))")
    }

    func migration(strategy: BackfillStrategy, mode: CutoverMode) -> MigrationDef {
        var to = oldTable
        to.version = Version([0, 1])
        to.orderBy = ["ts", "id"]
        return MigrationDef(name: "ev", from: oldTable, to: to, bridge: "mv_ev_to_0_1",
                            cutoffColumn: strategy == .cutoff ? "ts" : nil, lateness: 1,
                            strategy: strategy, cutover: mode)
    }

    func runner(owner: String = "test:\(ProcessInfo.processInfo.processIdentifier)") -> MigrationRunner {
        MigrationRunner(transport: transport, capabilities: capabilities, database: database,
                        reporter: PrintReporter(name), owner: owner)
    }

    func catalog() -> Catalog { Catalog(capabilities: capabilities, database: database, tables: []) }

    struct Counts { var seed = 0, seedDuplicated = 0, writerUnique = 0, lost = 0, duplicated = 0 }

    func count(_ table: String, writers: Writers) throws -> Counts {
        let t = qualified(database, table)
        let base = LiveMigrationTests.writerBase
        let r = try transport.run("SELECT countIf(id < \(base)), uniqExactIf(id, id < \(base)), countIf(id >= \(base)), uniqExactIf(id, id >= \(base)) FROM \(t)")
        let row = (r.rows.first ?? []).map { Int($0 ?? "0") ?? 0 }
        var c = Counts()
        c.seed = row[1]
        c.seedDuplicated = row[0] - row[1]
        c.writerUnique = row[3]
        c.duplicated = row[2] - row[3]
        // Every acknowledged id must be there; ids never acknowledged must not.
        let acked = writers.ackedIDs
        let present = try transport.run("SELECT count() FROM \(t) WHERE id >= \(base)").scalar.flatMap { Int($0) } ?? 0
        c.lost = acked.count - min(present - c.duplicated, acked.count)
        return c
    }
}

extension Writers {
    /// Two columns more than an id: `ts` and `payload`, as `LaneContext.oldTable` has.
    convenience init(env: LaneContext, table: String, count: Int) {
        self.init(
            transport: { try HTTPTransport(options: env.transport.options) }, database: env.database, table: table,
            threads: count, label: env.name,
            batch: { w, seq in (0..<10).map { String(LiveMigrationTests.writerBase + w * 10_000_000 + seq * 10 + $0) } },
            insert: { table, list in "INSERT INTO \(table) (id, ts, payload) SELECT arrayJoin([\(list)]) AS id, now(), 'w'" })
    }
}
