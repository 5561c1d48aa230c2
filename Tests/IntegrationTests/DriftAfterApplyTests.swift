import Foundation
import TestSupport
import XCTest

@testable import MBG

/// `apply` ends with a drift check: the new version as the catalog reads it,
/// compared with its declaration. A clean migration reports nothing; a new
/// table that existed before, made otherwise, is reported.
final class DriftAfterApplyTests: XCTestCase {
    let script = """
        table ev v0.0 {
            id UInt64 key
            ts DateTime
            payload String
        } order_by id partition_by "toYYYYMM(ts)"
        table ev v0.1 order_by ts, id
        migrate ev v0.0 -> v0.1 strategy fence
        apply ev

        """

    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "mbg-drift-\(UUID().uuidString).mbg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func seed(_ lane: LaneContext) throws {
        let t = qualified(lane.database, "ev_0_0")
        try lane.transport.run("CREATE TABLE \(t) (id UInt64, ts DateTime, payload String) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY id")
        try lane.transport.run("INSERT INTO \(t) SELECT number, toDateTime('2024-01-01 00:00:00') + number * 3000, toString(number) FROM numbers(5000)")
    }

    func testCleanApplyReportsNoDrift() throws {
        onEveryLane { lane in
            try seed(lane)
            let r = try runMBG(["run", try file(script), "--url", lane.url.absoluteString, "--database", lane.database])
            XCTAssertEqual(r.status, 0, "[\(lane.name)] \(r.stderr)")
            XCTAssertFalse((r.stdout + r.stderr).contains("drift"), "[\(lane.name)] \(r.stdout)\n\(r.stderr)")
        }
    }

    func testNewTableMadeOtherwiseIsReported() throws {
        onEveryLane { lane in
            try seed(lane)
            // The new version exists already, with another primary key and (26.9) a column
            // the declaration does not have (18.16's bridge cannot fill a column its SELECT lacks).
            let extra = lane.lane.isModern ? ", note String DEFAULT 'x'" : ""
            try lane.transport.run("CREATE TABLE \(qualified(lane.database, "ev_0_1")) (id UInt64, ts DateTime, payload String\(extra)) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (ts, id) PRIMARY KEY ts")
            let r = try runMBG(["run", try file(script), "--url", lane.url.absoluteString, "--database", lane.database])
            XCTAssertEqual(r.status, 0, "[\(lane.name)] \(r.stderr)")
            let out = r.stdout + r.stderr
            if lane.lane.isModern {
                XCTAssertTrue(out.contains("drift: ev_0_1 differs from the declaration of ev v0.1: column note is on the server but not declared"), "[\(lane.name)] \(out)")
            }
            XCTAssertTrue(out.contains("drift: ev_0_1 differs from the declaration of ev v0.1: primary key: (ts, id) declared, ts on the server"), "[\(lane.name)] \(out)")
            print("[\(lane.name)] \(out.split(separator: "\n").filter { $0.contains("drift") }.joined(separator: "\n"))")
        }
    }
}
