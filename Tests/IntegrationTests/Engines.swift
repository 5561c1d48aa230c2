import Foundation
import MBG
import XCTest

/// The real servers the integration tests talk to, one per lane.
enum Lane: String, CaseIterable, Sendable {
    /// Debian's clickhouse-server 18.16.
    case v18 = "MBG_TEST_URL_18"
    /// chDB 26.9 behind an HTTP front.
    case v26 = "MBG_TEST_URL_26"

    var isModern: Bool { self == .v26 }
    /// "18" or "26", for messages.
    var name: String { self == .v18 ? "18" : "26" }

    /// The server's URL from the environment; a lane without one is an error
    /// (a missing engine is never a pass).
    func url() throws -> URL {
        guard let text = ProcessInfo.processInfo.environment[rawValue], !text.isEmpty, let url = URL(string: text) else {
            throw MissingEngine(variable: rawValue)
        }
        return url
    }

    /// The lane of "18" or "26".
    init(server: String) { self = server == "18" ? .v18 : .v26 }
}

struct MissingEngine: Error, CustomStringConvertible {
    let variable: String
    var description: String {
        """
        \(variable) is not set. Start the engines with eval "$(scripts/engines-up)", \
        which exports MBG_TEST_URL_18 and MBG_TEST_URL_26. \
        To run only the tests that need no server: swift test --filter MBGTests.
        """
    }
}

/// A server and a fresh database on it, for one test; the one way integration
/// tests get a database (`onEveryLane` for the shared engines, `create` for
/// an engine a test starts itself).
struct LaneContext: Sendable {
    let lane: Lane
    let url: URL
    let transport: HTTPTransport
    let database: String
    /// Detected from the server and the database's engine.
    let capabilities: Capabilities

    /// "18" or "26", for messages.
    var name: String { lane.name }

    /// A transport whose default database is the test database.
    func transportInDatabase() throws -> HTTPTransport {
        try HTTPTransport(options: ConnectionOptions(url: url, database: database, timeout: transport.options.timeout))
    }

    /// Creates a fresh database on the server at `url`.
    static func create(_ lane: Lane, url: URL, timeout: Double = 60) throws -> LaneContext {
        let transport = try HTTPTransport(options: ConnectionOptions(url: url, timeout: timeout))
        let database = "mbg_it_" + UUID().uuidString.prefix(8).lowercased()
        try transport.run("CREATE DATABASE \(quoteIdentifier(database))")
        let version = try transport.run("SELECT version()").scalar ?? ""
        let engine = try transport.run("SELECT engine FROM system.databases WHERE name = \(quoteString(database))").scalar ?? ""
        return LaneContext(
            lane: lane, url: url, transport: transport, database: database,
            capabilities: .detect(version: version, databaseEngine: engine))
    }

    /// Drops the database (SYNC where the engine knows it, so the name is free at once).
    func drop() throws {
        try transport.run("DROP DATABASE IF EXISTS \(quoteIdentifier(database))\(capabilities.atomicDatabase ? " SYNC" : "")")
    }
}

extension XCTestCase {
    /// Runs `body` on each of `lanes` (all by default) with its own fresh
    /// database, dropped afterwards. A lane without its URL fails the test: a
    /// missing engine is never a pass. An error thrown by `body` fails the
    /// test, naming the lane.
    /// On one lane (timeout 120 s): `rows` rows seeded in `ev_0_0` and the
    /// migration of them (`strategy`, cut-over `mode`) most live scenarios run.
    func onSeededLane(
        _ lane: Lane, rows: Int, strategy: BackfillStrategy = .fence, mode: CutoverMode = .versioned,
        file: StaticString = #filePath, line: UInt = #line, _ body: (LaneContext, MigrationDef) throws -> Void
    ) {
        onEveryLane([lane], timeout: 120, file: file, line: line) { env in
            try env.seed(rows)
            try body(env, env.migration(strategy: strategy, mode: mode))
        }
    }

    func onEveryLane(
        _ lanes: [Lane] = Lane.allCases, timeout: Double = 60,
        file: StaticString = #filePath, line: UInt = #line, _ body: (LaneContext) throws -> Void
    ) {
        for lane in lanes {
            let url: URL
            do {
                url = try lane.url()
            } catch {
                XCTFail("\(error)", file: file, line: line)
                continue
            }
            do {
                let context = try LaneContext.create(lane, url: url, timeout: timeout)
                defer {
                    do {
                        try context.drop()
                    } catch {
                        XCTFail("[\(lane.name)] dropping \(context.database): \(error)", file: file, line: line)
                    }
                }
                try body(context)
            } catch {
                XCTFail("[\(lane.name)] \(error)", file: file, line: line)
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

/// The cluster lane of scripts/cluster: four 18.16 nodes, 2 shards x 2 replicas.
struct ClusterLane {
    /// Node URLs as MBG_TEST_CLUSTER_URLS lists them.
    let urls: [URL]
    /// The cluster's name in the servers' remote_servers (MBG_TEST_CLUSTER).
    let name: String

    func transport(node index: Int, database: String? = nil) throws -> HTTPTransport {
        try HTTPTransport(options: ConnectionOptions(url: urls[index], database: database, timeout: 60))
    }
}

extension XCTestCase {
    /// The cluster lane, or nil after failing the test: a missing lane is never a pass.
    func clusterLane(file: StaticString = #filePath, line: UInt = #line) -> ClusterLane? {
        let environment = ProcessInfo.processInfo.environment
        let urls = (environment["MBG_TEST_CLUSTER_URLS"] ?? "").split(separator: " ").compactMap {
            URL(string: String($0))
        }
        guard !urls.isEmpty, let name = environment["MBG_TEST_CLUSTER"], !name.isEmpty else {
            XCTFail(
                """
                MBG_TEST_CLUSTER_URLS or MBG_TEST_CLUSTER is not set. Start the cluster lane with \
                eval "$(scripts/engines-up --only cluster)" (or scripts/cluster start; scripts/cluster env).
                """, file: file, line: line)
            return nil
        }
        return ClusterLane(urls: urls, name: name)
    }
}
