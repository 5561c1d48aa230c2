import Foundation
import MBG
import XCTest

/// The real servers the integration tests talk to, one per lane.
enum Lane: String, CaseIterable {
    /// Debian's clickhouse-server 18.16.
    case v18 = "MBG_TEST_URL_18"
    /// chDB 26.9 behind an HTTP front.
    case v26 = "MBG_TEST_URL_26"

    var isModern: Bool { self == .v26 }
}

/// One lane, reachable, with a fresh database that is dropped afterwards.
struct LaneContext {
    let lane: Lane
    let url: URL
    let transport: HTTPTransport
    let database: String

    /// A transport whose default database is the test database.
    func transportInDatabase() throws -> HTTPTransport {
        try HTTPTransport(options: ConnectionOptions(url: url, database: database, timeout: 60))
    }
}

extension XCTestCase {
    /// True when integration tests were turned off explicitly (`MBG_INTEGRATION=0`).
    static var integrationDisabled: Bool {
        ProcessInfo.processInfo.environment["MBG_INTEGRATION"] == "0"
    }

    /// Runs `body` on every lane with its own fresh database. A lane without its
    /// URL fails the test: a missing engine is never a pass.
    func onEveryLane(
        file: StaticString = #filePath, line: UInt = #line, _ body: (LaneContext) throws -> Void
    ) {
        if Self.integrationDisabled {
            print("notice: MBG_INTEGRATION=0: integration test \(name) did not run")
            return
        }
        for lane in Lane.allCases {
            guard let text = ProcessInfo.processInfo.environment[lane.rawValue], !text.isEmpty,
                let url = URL(string: text)
            else {
                XCTFail(
                    """
                    \(lane.rawValue) is not set. Start the engines with eval "$(scripts/engines-up)" (or \
                    or by hand: clickhouse-server 18.16 and chDB 26.9 behind its HTTP front) and \
                    export MBG_TEST_URL_18 and MBG_TEST_URL_26 with their URLs, \
                    e.g. http://127.0.0.1:28123 and http://127.0.0.1:28124. \
                    Set MBG_INTEGRATION=0 to leave integration tests out on purpose.
                    """, file: file, line: line)
                continue
            }
            do {
                let transport = try HTTPTransport(options: ConnectionOptions(url: url, timeout: 60))
                let database = "mbg_it_" + UUID().uuidString.prefix(8).lowercased()
                try transport.run("CREATE DATABASE \(quoteIdentifier(database))")
                defer {
                    let sync = lane.isModern ? " SYNC" : ""
                    do {
                        try transport.run("DROP DATABASE IF EXISTS \(quoteIdentifier(database))\(sync)")
                    } catch {
                        XCTFail("[\(lane)] dropping \(database): \(error)", file: file, line: line)
                    }
                }
                try body(LaneContext(lane: lane, url: url, transport: transport, database: database))
            } catch {
                XCTFail("[\(lane)] \(error)", file: file, line: line)
            }
        }
    }
}

/// Runs `work` on its own thread; `wait` returns its outcome.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<T, any Error>?

    init(_ work: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            self.outcome = Result { try work() }
            self.done.signal()
        }
        thread.start()
    }

    /// The outcome, or nil if the work took longer than `seconds`.
    func wait(seconds: Double) -> Result<T, any Error>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return outcome
    }
}
