import Foundation
import XCTest

@testable import MBG

/// A rollup under writers: a SummingMergeTree `daily` fed by the view
/// `daily_mv` on the migrated table. After a versioned cut-over and finish,
/// with writers on both versions (some still on the old one after cut-over),
/// `daily` must count every written row exactly once.
final class RollupTests: XCTestCase {
    static let seedRows = 50_000

    func test26RollupCarriedExactly() {
        onEveryLane([.v26], timeout: 120) { env in
            let (m, oldWriters, runner, cut) = try applied(env)
            // The plan names the views and carries them.
            XCTAssertEqual(cut.status, .pending)
            XCTAssertTrue(cut.notes.contains { $0.contains("daily_mv (materialized") && $0.contains("recent (view)") }, "\(cut.notes)")
            XCTAssertTrue(cut.sql.contains { $0.contains("MODIFY QUERY") && $0.contains("daily_mv") }, "\(cut.sql)")

            try runner.cutover(m)
            // Writers move to the new version; the old ones keep writing for a while.
            let newWriters = writers(env, table: m.to.physicalName, base: 2)
            newWriters.start()
            Thread.sleep(forTimeInterval: 1.5)
            oldWriters.stop()
            Thread.sleep(forTimeInterval: 1)

            // The plain view now reads the new version.
            let recent = try env.transport.run("SELECT create_table_query FROM system.tables WHERE database = \(quoteString(env.database)) AND name = 'recent'").scalar ?? ""
            XCTAssertTrue(recent.contains("ev_0_1") && !recent.contains("ev_0_0"), recent)

            // A view made after cut-over on the old version: finish refuses to drop its source.
            try env.transport.run("CREATE VIEW \(qualified(env.database, "late_view")) AS SELECT count() AS c FROM \(qualified(env.database, "ev_0_0"))")
            XCTAssertThrowsError(try runner.finish(m, keepOld: false)) { error in
                XCTAssertTrue("\(error)".contains("late_view"), "\(error)")
            }
            XCTAssertEqual(try env.transport.run("EXISTS TABLE \(qualified(env.database, "ev_0_0"))").scalar, "1")
            try runner.finish(m, keepOld: true)
            Thread.sleep(forTimeInterval: 0.5)
            newWriters.stop()

            let written = Self.seedRows + oldWriters.acked + newWriters.acked
            let inNew = Int(try env.transport.run("SELECT count() FROM \(qualified(env.database, m.to.physicalName))").scalar ?? "") ?? -1
            let rolled = Int(try env.transport.run("SELECT sum(n) FROM \(qualified(env.database, "daily"))").scalar ?? "") ?? -1
            print("[\(env.name)] rollup: written \(written) (old writers \(oldWriters.acked), new writers \(newWriters.acked)), new version \(inNew), daily \(rolled)")
            XCTAssertGreaterThan(oldWriters.acked, 0)
            XCTAssertGreaterThan(newWriters.acked, 0)
            XCTAssertEqual(inNew, written)
            XCTAssertEqual(rolled, written)
            XCTAssertEqual(oldWriters.unresolved + newWriters.unresolved, 0)
            // Only the copy on the new version is left feeding `daily`.
            let views = try env.transport.run("SELECT name FROM system.tables WHERE database = \(quoteString(env.database)) AND engine = 'MaterializedView' ORDER BY name").rows.map { $0[0] ?? "" }
            XCTAssertEqual(views, ["daily_mv_0_1"])
        }
    }

    /// 18.16 has no MODIFY QUERY: the plan says so, cut-over refuses naming the
    /// view, and the rollup stays exact with writers on the old version.
    func test18RollupRefusedWithReason() {
        onEveryLane([.v18], timeout: 120) { env in
            let (m, oldWriters, runner, cut) = try applied(env)
            XCTAssertEqual(cut.status, .blocked)
            XCTAssertTrue(cut.notes.contains { $0.contains("daily_mv") && $0.contains("MODIFY QUERY") }, "\(cut.notes)")

            XCTAssertThrowsError(try runner.cutover(m)) { error in
                XCTAssertTrue("\(error)".contains("daily_mv") && "\(error)".contains("MODIFY QUERY"), "\(error)")
            }
            XCTAssertEqual(try runner.status(m).first?.phase, .verified)
            Thread.sleep(forTimeInterval: 1)
            oldWriters.stop()
            try runner.rollback(m)

            let written = Self.seedRows + oldWriters.acked
            let rolled = Int(try env.transport.run("SELECT sum(n) FROM \(qualified(env.database, "daily"))").scalar ?? "") ?? -1
            print("[\(env.name)] rollup refused: written \(written), daily \(rolled)")
            XCTAssertGreaterThan(oldWriters.acked, 0)
            XCTAssertEqual(rolled, written)
        }
    }

    /// `ev_0_0` seeded, `daily` fed by `daily_mv`, a plain view `recent`, writers on `ev_0_0` running.
    /// `prepare`d and applied without cut-over; the cut-over step the planner
    /// then shows from the live catalog.
    func applied(_ env: LaneContext) throws -> (MigrationDef, Writers, MigrationRunner, PlanStep) {
        let (m, oldWriters) = try prepare(env)
        let runner = env.runner()
        try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
        let plan = Planner(PlanningInputs(catalog: try readLiveCatalog(env.transport, env.database), now: 0)).migrationSteps(m)
        return (m, oldWriters, runner, try XCTUnwrap(plan.first { $0.kind == .cutover }))
    }

    func prepare(_ env: LaneContext) throws -> (MigrationDef, Writers) {
        let db = env.database
        try env.transport.run(createTableSQL(env.oldTable))
        try env.transport.run("CREATE TABLE \(qualified(db, "daily")) (day Date, n UInt64) ENGINE = SummingMergeTree ORDER BY day")
        try env.transport.run("CREATE MATERIALIZED VIEW \(qualified(db, "daily_mv")) TO \(qualified(db, "daily")) AS SELECT toDate(ts) AS day, count() AS n FROM \(qualified(db, "ev_0_0")) GROUP BY day")
        try env.transport.run("CREATE VIEW \(qualified(db, "recent")) AS SELECT count() AS c FROM \(qualified(db, "ev_0_0")) WHERE ts > now() - 60")
        let n = Self.seedRows
        try env.transport.run("INSERT INTO \(qualified(db, "ev_0_0")) SELECT number, toDateTime('2024-01-01 00:00:00') + intDiv(number * 31536000, \(n)), toString(number) FROM numbers(\(n))")
        let oldWriters = writers(env, table: "ev_0_0", base: 1)
        oldWriters.start()
        Thread.sleep(forTimeInterval: 0.5)
        return (env.migration(strategy: .cutoff, mode: .versioned), oldWriters)
    }

    /// Two threads writing ids from `base` × 100M, `ts = now()`.
    func writers(_ env: LaneContext, table: String, base: Int) -> Writers {
        Writers(
            transport: { try HTTPTransport(options: env.transport.options) }, database: env.database, table: table,
            threads: 2, label: env.name,
            batch: { w, seq in (0..<10).map { String(base * 100_000_000 + w * 10_000_000 + seq * 10 + $0) } },
            insert: { table, list in "INSERT INTO \(table) (id, ts, payload) SELECT arrayJoin([\(list)]) AS id, now(), 'w'" })
    }
}
