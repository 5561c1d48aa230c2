import Foundation
import TestSupport
import XCTest

@testable import MBG

/// Typed state records keep the JSON stored in `_mbg_state`; a lock is taken
/// over at once only when its owner is a dead process on this host.
final class RunnerStateTests: XCTestCase {
    func testRecordsKeepTheirJSON() throws {
        XCTAssertEqual(encodeJSON(SliceRecord(state: .done, rows: 3, checksum: "7")), #"{"checksum":"7","rows":3,"state":"done"}"#)
        XCTAssertEqual(encodeJSON(CutoverRecord(mode: .swap, method: .rename, blockMark: 9)), #"{"blockMark":9,"method":"rename","mode":"swap"}"#)
        // State written by earlier versions still reads.
        var st = MigrationState()
        st.values["slice/202401"] = #"{"checksum":"1","rows":2,"state":"staged"}"#
        st.values["cutover"] = #"{"method":"exchange","mode":"swap"}"#
        XCTAssertEqual(st.slice("202401")?.state, .staged)
        XCTAssertEqual(st.cutover?.method, .exchange)
        st.values["cutover"] = #"{"method":"none","mode":"versioned"}"#
        XCTAssertEqual(st.cutover?.method, CutoverRecord.Method.none)
    }

    func testDeadOwnerIsRecognisedOnlyOnThisHost() {
        let here = ProcessInfo.processInfo.hostName
        let dead = deadPid()
        XCTAssertEqual(MigrationRunner.deadOwnerOnThisHost("\(here):\(dead)"), dead)
        XCTAssertNil(MigrationRunner.deadOwnerOnThisHost("\(here):\(getpid())"), "alive")
        XCTAssertNil(MigrationRunner.deadOwnerOnThisHost("elsewhere-host:\(dead)"), "another host")
        XCTAssertNil(MigrationRunner.deadOwnerOnThisHost("\(here):notapid"))
    }

    func lockedTransport(owner: String) -> ScriptedTransport {
        let t = ScriptedTransport()
        t.stateExists = true
        // A fresh heartbeat (1 s old): only the owner's death allows taking it.
        t.state = ["lock": (#"{"owner":"\#(owner)","since":"x"}"#, owner, t.now - 1)]
        return t
    }

    let catalog = Catalog(capabilities: .modern, database: "db", tables: [])
    var migration: MigrationDef {
        let cols = [ColumnDef(name: "id", type: "UInt64"), ColumnDef(name: "ts", type: "DateTime")]
        let from = TableDef(name: "ev", version: Version([0, 0]), columns: cols, orderBy: ["id"])
        var to = from
        to.version = Version([0, 1])
        to.orderBy = ["ts", "id"]
        return MigrationDef(name: "ev", from: from, to: to, bridge: "mv_ev_to_0_1")
    }

    func runner(_ t: ScriptedTransport, _ reporter: CollectingReporter) -> MigrationRunner {
        MigrationRunner(transport: t, capabilities: .modern, database: "db", reporter: reporter, owner: "me:1",
                        clock: MigrationClock(now: { 1_800_000_000 }, sleep: { _ in }))
    }

    func testLiveOrRemoteOwnerStillLocks() throws {
        let here = ProcessInfo.processInfo.hostName
        for owner in ["another-host-\(UUID().uuidString.prefix(6)):\(deadPid())", "\(here):\(getpid())"] {
            let t = lockedTransport(owner: owner)
            XCTAssertThrowsError(try runner(t, CollectingReporter()).apply(migration, catalog: catalog, cutover: false, takeOverLock: false)) { error in
                guard case MigrationError.locked(_, let o, _, _, _) = error else { return XCTFail("expected locked, got \(error)") }
                XCTAssertEqual(o, owner)
            }
            XCTAssertFalse(t.statements.contains { $0.contains(#"{"owner":"me:1""#) }, owner)
        }
    }
}
