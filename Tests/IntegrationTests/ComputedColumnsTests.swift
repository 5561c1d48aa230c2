import Foundation
import XCTest

@testable import MBG

/// A sessions table in Plausible's style with computed columns (MATERIALIZED,
/// ALIAS, DEFAULT), codecs and TTL where the server has them, migrated to a new
/// ORDER BY while writers insert: the bridge must never make their inserts
/// fail, and a failed apply must leave them working.
final class ComputedColumnsTests: XCTestCase {
    static let seedRows = 200_000
    static let writerBase: UInt64 = 100_000_000

    func test18MigratesUnderWriters() throws { try migrate("18") }
    func test26MigratesUnderWriters() throws { try migrate("26") }
    func test18BackfillServerErrorKeepsWritersWorking() throws { try backfillFails("18") }
    func test26BackfillServerErrorKeepsWritersWorking() throws { try backfillFails("26") }
    func test18BrokenBridgeIsDropped() throws { try brokenBridge("18") }
    func test26BrokenBridgeIsDropped() throws { try brokenBridge("26") }

    // MARK: scenarios

    func migrate(_ server: String) throws {
        underWriters(server) { env, m, _ in
            let runner = env.runner()
            runner.fenceSettleSeconds = 0.5
            try runner.apply(m, catalog: env.catalog(), cutover: true, takeOverLock: false)
        }
    }

    /// The second slice's stage fill hits a real server limit (code 158) while
    /// writers insert: the working bridge stays, writers never fail, and
    /// applying again completes with every row once.
    func backfillFails(_ server: String) throws {
        underWriters(server) { env, m, _ in
            let failing = FailingTransport(env.transport)
            let runner = MigrationRunner(transport: failing, capabilities: env.capabilities, database: env.database,
                                         reporter: PrintReporter(server), owner: "computed")
            runner.fenceSettleSeconds = 0.5
            XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)) { error in
                XCTAssertEqual((error as? TransportError)?.serverCode, 158, "\(error)")
            }
            XCTAssertTrue(failing.fired)
            XCTAssertTrue(try bridgeExists(env, m), "a working bridge stays so a re-run resumes")
            Thread.sleep(forTimeInterval: 1)
            try runner.apply(m, catalog: env.catalog(), cutover: true, takeOverLock: false)
        }
    }

    /// The new table is dropped under the running backfill (an operator's
    /// mistake): the move fails with a server error, and the bridge, which now
    /// makes every insert into the live table fail, is dropped before apply
    /// returns. Applying again starts over and completes exactly once.
    func brokenBridge(_ server: String) throws {
        underWriters(server, writersMayFail: true) { env, m, writers in
            let runner = env.runner()
            runner.fenceSettleSeconds = 0.5
            let once = Counter()
            let newTable = qualified(env.database, m.to.physicalName)
            let sync = env.capabilities.atomicDatabase ? " SYNC" : ""
            runner.faultHook = { point in
                if point == "backfill.staged" && once.next() == 1 { try env.transport.run("DROP TABLE \(newTable)\(sync)") }
            }
            XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)) { error in
                XCTAssertNotNil((error as? TransportError)?.serverCode, "a server error: \(error)")
            }
            let failuresAtReturn = writers.failures
            XCTAssertFalse(try bridgeExists(env, m), "the broken bridge was dropped")
            XCTAssertEqual(try runner.status(m).first?.phase, .rolledBack)
            Thread.sleep(forTimeInterval: 1.5)
            XCTAssertEqual(writers.failures, failuresAtReturn, "writers fail no more once apply returned")
            runner.faultHook = nil
            try runner.apply(m, catalog: env.catalog(), cutover: true, takeOverLock: false)
        }
    }

    // MARK: helpers

    /// On the lane of `server`: seeds the sessions, starts writers, runs `body`
    /// (which ends with the migration applied and cut over), stops the writers
    /// and checks that old and new hold the same rows, every writer row once,
    /// and (unless `writersMayFail`) that no insert of the writers failed.
    func underWriters(
        _ server: String, writersMayFail: Bool = false, _ body: (LaneContext, MigrationDef, Writers) throws -> Void
    ) {
        onEveryLane([Lane(server: server)], timeout: 120) { env in
            let m = try seedSessions(env)
            let writers = sessionWriters(env)
            writers.start()
            defer { writers.stop() }  // also when `body` throws: no writer outlives the database
            Thread.sleep(forTimeInterval: 1)
            try body(env, m, writers)
            Thread.sleep(forTimeInterval: 1)
            writers.stop()
            if !writersMayFail { XCTAssertEqual(writers.failures, 0, "writers saw errors") }
            XCTAssertEqual(writers.unresolved, 0)
            try assertSame(env, m, writers: writers)
        }
    }

    /// The old table, filled, and the migration to ORDER BY (start, session_id)
    /// derived from its live definition (as `table sessions v0.1 order_by …` does).
    func seedSessions(_ env: LaneContext) throws -> MigrationDef {
        let modern = env.capabilities.modernSQL
        // 18.16 has neither codecs nor TTL.
        let codec = { (c: String) in modern ? " CODEC(\(c))" : "" }
        let old = qualified(env.database, "sessions_0_0")
        try env.transport.run(
            """
            CREATE TABLE \(old) (
                session_id UInt64\(codec("Delta, ZSTD(1)")),
                start DateTime\(codec("DoubleDelta, LZ4")),
                hostname String,
                day Date MATERIALIZED toDate(start),
                host_len UInt64 ALIAS length(hostname),
                note String DEFAULT 'x'
            ) ENGINE = MergeTree PARTITION BY toYYYYMM(start) ORDER BY session_id\(modern ? " TTL start + INTERVAL 100 YEAR" : "")
            """)
        let n = Self.seedRows
        try env.transport.run(
            "INSERT INTO \(old) (session_id, start, hostname, note) SELECT number, toDateTime('2024-01-01 00:00:00') + intDiv(number * 31536000, \(n)), concat('host-', toString(number % 97)), if(number % 3 = 0, 'seeded', 'x') FROM numbers(\(n))")
        let catalog = try CatalogReader(transport: env.transport, database: env.database).read()
        guard let from = catalog.table("sessions_0_0", database: env.database)?.definition else {
            throw MigrationError.inconsistent("sessions_0_0 not in the catalog")
        }
        XCTAssertTrue(from.columns.contains { $0.name == "day" && $0.isMaterialized })
        XCTAssertTrue(from.columns.contains { $0.name == "host_len" && !$0.isStored })
        var to = from
        to.version = Version([0, 1])
        to.orderBy = ["start", "session_id"]
        return MigrationDef(name: "sessions", from: from, to: to, bridge: "mv_sessions_to_0_1", lateness: 1,
                            strategy: .fence, cutover: .versioned)
    }

    /// Writers into the old table naming three columns (note takes its DEFAULT,
    /// day is computed); the bridge forwards their rows to the new table.
    func sessionWriters(_ env: LaneContext) -> Writers {
        Writers(
            transport: { try HTTPTransport(options: env.transport.options) }, database: env.database, table: "sessions_0_0",
            threads: 2, label: env.name,
            batch: { w, seq in (0..<10).map { String(Self.writerBase + UInt64(w * 10_000_000 + seq * 10 + $0)) } },
            insert: { table, list in
                "INSERT INTO \(table) (session_id, start, hostname) SELECT arrayJoin([\(list)]) AS session_id, now(), concat('w-', toString(session_id % 13))"
            },
            idColumn: "session_id")
    }

    func bridgeExists(_ env: LaneContext, _ m: MigrationDef) throws -> Bool {
        try env.transport.run(CatalogQueries.tableCount(env.database, m.bridge)).scalar == "1"
    }

    /// Old and new hold the same rows: count, distinct ids and a checksum over
    /// the stored columns including the MATERIALIZED `day` (so the new table
    /// computed it); every acknowledged writer row is there once.
    func assertSame(_ env: LaneContext, _ m: MigrationDef, writers: Writers, file: StaticString = #filePath, line: UInt = #line) throws {
        let sums = "count(), uniqExact(session_id), toString(sum(cityHash64(session_id, start, hostname, note, day))), countIf(session_id >= \(Self.writerBase)), sum(host_len) = sum(length(hostname)), countIf(day != toDate(start))"
        let old = try env.transport.run("SELECT \(sums) FROM \(qualified(env.database, m.from.physicalName))").rows.first ?? []
        let new = try env.transport.run("SELECT \(sums) FROM \(qualified(env.database, m.to.physicalName))").rows.first ?? []
        print("[\(env.name)] old \(old), new \(new), writer rows acked \(writers.acked), failed requests \(writers.failures)")
        XCTAssertEqual(new, old, "rows exact", file: file, line: line)
        XCTAssertEqual(new.first ?? nil, new.dropFirst().first ?? nil, "no duplicates", file: file, line: line)
        XCTAssertEqual(new.count, 6, file: file, line: line)
        guard new.count == 6 else { return }
        XCTAssertEqual(new[3], String(writers.acked), "every acknowledged writer row once", file: file, line: line)
        XCTAssertGreaterThan(writers.acked, 0, file: file, line: line)
        XCTAssertEqual(new[4], "1", "ALIAS computed", file: file, line: line)
        XCTAssertEqual(new[5], "0", "MATERIALIZED computed in the new table", file: file, line: line)
        XCTAssertEqual(Int(new[0] ?? ""), Self.seedRows + writers.acked, file: file, line: line)
    }
}
