import Foundation
import XCTest

@testable import MBG

/// Answers the catalog and state queries the runner sends; records everything.
final class ScriptedTransport: Transport, @unchecked Sendable {
    private let lock = NSLock()
    var tables: Set<String> = []
    var stateExists = false
    /// key → (value, owner, written at)
    var state: [String: (String, String, Int)] = [:]
    var now = 1_800_000_000
    private(set) var statements: [String] = []

    func execute(_ query: Query) throws -> QueryResult {
        let sql = query.sql
        return lock.withLock {
            statements.append(sql)
            if sql.contains("toUnixTimestamp(now())") && !sql.contains("argMax") {
                return QueryResult(rows: [[String(now)]])
            }
            if sql.contains("FROM system.tables") && sql.contains("'_mbg_state'") {
                return QueryResult(rows: [[stateExists ? "1" : "0"]])
            }
            if sql.contains("FROM system.tables") && sql.contains("name IN") {
                return QueryResult(rows: tables.sorted().filter { sql.contains("'\($0)'") }.map { [$0, "MergeTree"] })
            }
            if sql.contains("argMax(value, seq)") {
                let rows: [[String?]] = state.map { [$0.key, $0.value.0, $0.value.1, String($0.value.2), String(now)] }
                // Several migrations at once: each row led by its migration (the state is the first one's).
                guard sql.hasPrefix("SELECT migration, key"), let open = sql.range(of: "IN ('") else { return QueryResult(rows: rows) }
                let first = String(sql[open.upperBound...].prefix { $0 != "'" })
                return QueryResult(rows: rows.map { [first] + $0 })
            }
            return .empty
        }
    }
    func cancel(queryID: String) throws {}
    var displayURL: String { "scripted" }
}

final class MigrationPlanTests: XCTestCase {
    let cols = [ColumnDef(name: "id", type: "UInt64"), ColumnDef(name: "ts", type: "DateTime"), ColumnDef(name: "payload", type: "String")]

    func migration(cutoff: String? = nil, strategy: BackfillStrategy? = nil, mode: CutoverMode = .versioned) -> MigrationDef {
        let from = TableDef(name: "ev", version: Version([0, 0]), columns: cols, orderBy: ["ts", "id"], partitionBy: "toYYYYMM(ts)")
        var to = from
        to.version = Version([0, 1])
        to.orderBy = ["id"]
        return MigrationDef(name: "ev", from: from, to: to, bridge: "mv_ev_to_0_1", cutoffColumn: cutoff, lateness: 5,
                            strategy: strategy, cutover: mode)
    }

    func runner(_ t: any Transport, _ caps: Capabilities = .modern, owner: String = "me:1") -> MigrationRunner {
        let clock = MigrationClock(now: { 1_800_000_000 }, sleep: { _ in })
        return MigrationRunner(transport: t, capabilities: caps, database: "db", reporter: CollectingReporter(), owner: owner, clock: clock)
    }

    let catalog = Catalog(capabilities: .modern, database: "db", tables: [])
    let old18 = Capabilities.detect(version: "18.16.1", databaseEngine: "Ordinary")

    /// The pure planner over a catalog holding `tables` and a recorded state.
    func plan(
        _ m: MigrationDef, tables: [String] = [], _ caps: Capabilities = .modern, recorded: [String: String] = [:]
    ) -> [PlanStep] {
        let catalog = Catalog(
            capabilities: caps, database: "db",
            tables: tables.map { CatalogTable(database: "db", name: $0, engine: "MergeTree", engineFull: "MergeTree", definition: TableDef(name: $0), createQuery: "") })
        var state = MigrationState()
        state.values = recorded
        let inputs = PlanningInputs(catalog: catalog, recorded: recorded.isEmpty ? [:] : [m.name: state], now: 1_800_000_000)
        return Planner(inputs).migrationSteps(m)
    }

    func testStrategyChoice() {
        let r = runner(ScriptedTransport())
        XCTAssertEqual(r.strategy(for: migration(cutoff: "ts")).0, .cutoff)
        let (fence, why) = r.strategy(for: migration())
        XCTAssertEqual(fence, .fence)
        XCTAssertTrue(why.contains("cutoff ts lateness"), "suggests the time column in the key: \(why)")
        XCTAssertEqual(r.strategy(for: migration(cutoff: "ts", strategy: .fence)).0, .fence)
        XCTAssertEqual(r.strategy(for: migration(strategy: .cutoff)).0, .fence, "cutoff needs a column")
    }

    func testCutoffPlanSQL() throws {
        let steps = plan(migration(cutoff: "ts"), tables: ["ev_0_0"])
        XCTAssertEqual(steps.map(\.kind), [.stateTable, .createTable, .createBridge, .backfill, .verify, .cutover, .finish])
        XCTAssertTrue(steps.allSatisfy { $0.status == .pending })
        let bridge = steps[2].sql.joined(separator: "\n")
        XCTAssertTrue(bridge.contains("CREATE MATERIALIZED VIEW IF NOT EXISTS db.mv_ev_to_0_1 TO db.ev_0_1 AS SELECT id, ts, payload FROM db.ev_0_0 WHERE ts >= toDateTime(1800000003)"), bridge)
        XCTAssertFalse(bridge.contains("POPULATE"))
        XCTAssertTrue(steps[2].notes.joined().contains("cutoff on ts"))
        let backfill = steps[3].sql.joined(separator: "\n")
        XCTAssertTrue(backfill.contains("ts < toDateTime(1800000003)"), backfill)
        XCTAssertTrue(backfill.contains("MOVE PARTITION ID '<partition>' TO TABLE db.ev_0_1"), backfill)
        // Slices are not read back: verification reads each side once.
        XCTAssertFalse(backfill.contains("sum(cityHash64"), backfill)
        XCTAssertTrue(steps[4].sql.joined().contains("sum(cityHash64(id, ts, payload))"))
    }

    /// A NULL would make cityHash64 NULL (sums skip the row, hash buckets lose
    /// it) and 18.16 cannot hash a Decimal: those columns are hashed as text.
    func testRowHashHashesNullableAndDecimalAsText() {
        var m = migration()
        let columns = [
            ColumnDef(name: "id", type: "UInt64"), ColumnDef(name: "age", type: "Nullable(UInt8)"),
            ColumnDef(name: "amount", type: "Decimal(18, 4)"), ColumnDef(name: "scores", type: "Array(Nullable(Int32))"),
            ColumnDef(name: "was_null", type: "UInt8"),
        ]
        m.to.columns = columns
        var old = columns
        old[4].type = "Nullable(UInt8)"
        let s = MigrationSQL(m, database: "db", capabilities: .modern, oldColumns: old)
        XCTAssertEqual(s.rowHash, "cityHash64(id, toString(tuple(age)), toString(tuple(amount)), toString(tuple(scores)), toString(tuple(was_null)))")
    }

    func testFencePlanOn18() throws {
        let steps = plan(migration(mode: .swap), tables: ["ev_0_0"], old18)
        let all = steps.flatMap(\.sql).joined(separator: "\n")
        XCTAssertTrue(all.contains("SYSTEM STOP MERGES db.ev_0_0"))
        XCTAssertTrue(all.contains("_partition_id IN ('<partition>') AND _part IN ('<parts of these partitions inside the fence>')"), all)
        XCTAssertTrue(all.contains("ALTER TABLE db.ev_0_1 ATTACH PARTITION ID '<partition>' FROM db._mbg_stage_ev_0_1_0"), all)
        XCTAssertTrue(all.contains("SYSTEM START MERGES db.ev_0_0"))
        XCTAssertTrue(all.contains("RENAME TABLE db.ev_0_0 TO db._mbg_swap_ev_0_1, db.ev_0_1 TO db.ev_0_0, db._mbg_swap_ev_0_1 TO db.ev_0_1"))
        XCTAssertTrue(all.contains("DROP TABLE IF EXISTS db.mv_ev_to_0_1"), "18.16 drops views with DROP TABLE")
        XCTAssertFalse(all.contains("EXCHANGE"))
        XCTAssertFalse(all.contains(" SYNC"), "Ordinary databases have no SYNC")
        XCTAssertTrue(steps[2].notes.joined().contains("code 60"), "warns that writers need retries")
    }

    func testSwapOnModernUsesExchange() throws {
        let steps = plan(migration(mode: .swap))
        XCTAssertEqual(steps[5].sql.filter { $0.hasPrefix("EXCHANGE") }, ["EXCHANGE TABLES db.ev_0_0 AND db.ev_0_1"])
        XCTAssertEqual(steps[5].sql.first, "SYSTEM STOP MERGES db.ev_0_1", "merges stop on both tables before the marks")
        XCTAssertEqual(steps[1].status, .blocked, "the old table is not in the catalog")
        var m = migration(mode: .swap)
        m.transform = "SELECT id, ts, payload FROM db.ev_0_0"
        XCTAssertEqual(plan(m)[5].status, .blocked)
    }

    func testDoneStepsAreSkipped() throws {
        let steps = plan(
            migration(), tables: ["ev_0_0", "ev_0_1", "mv_ev_to_0_1", "_mbg_state"],
            recorded: ["phase": "backfilled", "strategy": "fence"])
        XCTAssertEqual(steps.map(\.status), [.done, .done, .done, .done, .pending, .pending, .pending])
        let text = Plan(steps: steps).render()
        XCTAssertTrue(text.contains("(done, skipped)"))
    }

    /// What planning reads from the state table and the clock: one round trip
    /// when the catalog already told whether the state table exists.
    func testPlanningStateReadsAtOnce() throws {
        let t = ScriptedTransport()
        t.stateExists = true
        t.now = 1_800_000_123
        t.state = ["phase": ("backfilled", "x", 7), "strategy": ("fence", "x", 0)]
        let engine = RunnerEngine(runner: runner(t))
        let state = try engine.planningState(["ev", "other"], stateTableExists: true)
        XCTAssertEqual(t.statements.count, 2, "\(t.statements)")
        XCTAssertTrue(t.statements.contains { $0.contains("WHERE migration IN ('ev', 'other') GROUP BY migration, key") })
        XCTAssertEqual(state.now, 1_800_000_123)
        let single = try engine.recordedState("ev")
        XCTAssertEqual(state.recorded["ev"]?.values, single.values)
        XCTAssertEqual(state.recorded["ev"]?.values["phase"], "backfilled")
        XCTAssertEqual(state.recorded["ev"]?.writtenAt, single.writtenAt)
        XCTAssertEqual(state.recorded["ev"]?.serverNow, 1_800_000_123)
        // No rows for it: empty, at the runner's clock (as `recordedState` gives it).
        XCTAssertEqual(state.recorded["other"]?.values, [:])
        XCTAssertEqual(state.recorded["other"]?.serverNow, 1_800_000_000)

        // Not known: asked; absent: nothing loaded.
        let u = ScriptedTransport()
        let none = try RunnerEngine(runner: runner(u)).planningState(["ev"], stateTableExists: nil)
        XCTAssertEqual(u.statements.count, 2, "\(u.statements)")
        XCTAssertFalse(u.statements.contains { $0.contains("argMax") })
        XCTAssertEqual(none.recorded["ev"]?.values, [:])
        XCTAssertEqual(none.now, u.now)
    }

    func testApplySkipsWhatExists() throws {
        let t = ScriptedTransport()
        t.tables = ["ev_0_0", "ev_0_1", "mv_ev_to_0_1"]
        t.stateExists = true
        t.state = ["phase": ("verified", "x", 0), "strategy": ("fence", "x", 0)]
        try runner(t).apply(migration(), catalog: catalog, cutover: false, takeOverLock: false)
        XCTAssertFalse(t.statements.contains { $0.hasPrefix("CREATE TABLE IF NOT EXISTS db.ev_0_1") })
        XCTAssertFalse(t.statements.contains { $0.hasPrefix("CREATE MATERIALIZED VIEW") })
        XCTAssertFalse(t.statements.contains { $0.hasPrefix("INSERT INTO db._mbg_stage") })
    }

    func testLockRefusal() throws {
        let t = ScriptedTransport()
        t.tables = ["ev_0_0"]
        t.stateExists = true
        t.state = ["lock": (#"{"owner":"host-a:4242","since":"2027-01-15T10:00:00Z"}"#, "host-a:4242", t.now - 5)]
        XCTAssertThrowsError(try runner(t).apply(migration(), catalog: catalog, cutover: false, takeOverLock: true)) { error in
            XCTAssertEqual("\(error)", "migration 'ev' is locked by host-a:4242 since 2027-01-15T10:00:00Z; last heartbeat 5 s ago; wait for it to finish (mbg run --wait waits for it)")
        }
        // Stale, but not taken over explicitly.
        t.state["lock"]!.2 = t.now - 600
        XCTAssertThrowsError(try runner(t).apply(migration(), catalog: catalog, cutover: false, takeOverLock: false)) { error in
            XCTAssertTrue("\(error)".contains("600 s old"), "\(error)")
            XCTAssertTrue("\(error)".contains("takeOverLock"))
        }
        XCTAssertFalse(t.statements.contains { $0.contains("CREATE MATERIALIZED VIEW") })
    }

    func testStaleLockTakenOver() throws {
        let t = ScriptedTransport()
        t.stateExists = true
        t.state = ["lock": (#"{"owner":"host-a:4242","since":"x"}"#, "host-a:4242", t.now - 600)]
        // Fails later (the old table is missing), but only after writing its own lock.
        XCTAssertThrowsError(try runner(t).apply(migration(), catalog: catalog, cutover: false, takeOverLock: true))
        XCTAssertTrue(t.statements.contains { $0.contains("INSERT INTO db._mbg_state") && $0.contains(#"{"owner":"me:1""#) }, t.statements.joined(separator: "\n"))
    }

    /// Dry-run is the plan sent to a recording transport: the engine is never asked.
    func testDryRunApplyPrintsSQL() throws {
        let t = DryRunTransport()
        var options = InterpreterOptions(mode: .dryRun, transport: t, database: "db")
        options.makeMigrationEngine = nil
        let interpreter = Interpreter(options: options, output: CollectingOutput())
        try interpreter.evaluate(source: """
            table ev v0.0 { id UInt64  ts DateTime  payload String } order_by ts, id partition_by "toYYYYMM(ts)"
            table ev v0.1 order_by id
            migrate ev v0.0 -> v0.1 cutoff ts lateness 5s
            apply ev
            """)
        let sql = t.statements.joined(separator: "\n")
        XCTAssertTrue(sql.contains("CREATE TABLE IF NOT EXISTS db._mbg_state"))
        XCTAssertTrue(sql.contains("CREATE TABLE IF NOT EXISTS db.ev_0_1"))
        XCTAssertTrue(sql.contains("CREATE MATERIALIZED VIEW IF NOT EXISTS db.mv_ev_to_0_1"))
        XCTAssertFalse(sql.contains("EXCHANGE"), "cut-over is postponed")
    }

    func testStateIsNeverUpdatedInPlace() throws {
        let t = ScriptedTransport()
        t.tables = ["ev_0_0", "ev_0_1", "mv_ev_to_0_1"]
        t.stateExists = true
        t.state = ["phase": ("verified", "x", 0), "strategy": ("fence", "x", 0)]
        try runner(t).cutover(migration())
        XCTAssertFalse(t.statements.contains { $0.contains("ALTER TABLE db._mbg_state") || $0.contains("DELETE") })
        XCTAssertTrue(t.statements.contains { $0.contains("INSERT INTO db._mbg_state") && $0.contains("'cut_over'") })
    }

    func testBackfillGroupsAreBalancedAndBounded() {
        // Rows dealt to the lighter group, largest first; each group in position order.
        XCTAssertEqual(BackfillGroups.deal([10, 1, 5, 5], workers: 2), [[0, 1], [2, 3]])
        XCTAssertEqual(BackfillGroups.deal([3, 3, 3], workers: 8), [[0], [1], [2]])
        XCTAssertEqual(BackfillGroups.deal([], workers: 2), [])
        // 120 partitions: no INSERT spans more than 50, every partition exactly once.
        let groups = BackfillGroups.deal(Array(repeating: 7, count: 120), workers: 2)
        XCTAssertEqual(groups.count, 3)
        XCTAssertTrue(groups.allSatisfy { $0.count <= BackfillGroups.maxPartitions })
        XCTAssertEqual(groups.flatMap { $0 }.sorted(), Array(0..<120))
    }
}
