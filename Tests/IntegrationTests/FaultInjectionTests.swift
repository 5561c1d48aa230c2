import Foundation
import XCTest

@testable import MBG

/// Real faults in the middle of a migration, on engine instances the tests
/// start themselves (never the shared ones): the server killed mid-backfill and
/// restarted, frozen (SIGSTOP) during cut-over so the connection times out, a
/// slice failing with a real server error. After each, running again completes
/// with every row exactly once, or stops with a clear message.
final class FaultInjectionTests: XCTestCase {
    static let rows = 300_000

    func test18KilledMidBackfillThenRestarted() throws { try killedMidBackfill(.ch18) }
    func test26KilledMidBackfillThenRestarted() throws { try killedMidBackfill(.chdb) }
    func test18FrozenDuringCutover() throws { try frozenDuringCutover(.ch18) }
    func test26FrozenDuringCutover() throws { try frozenDuringCutover(.chdb) }
    func test18KilledAfterRenameDuringCutover() throws { try killedAfterRename(.ch18) }
    func test26SliceFailsWithServerError() throws { try sliceServerError(.chdb) }
    func test18SliceFailsWithServerError() throws { try sliceServerError(.ch18) }

    // MARK: scenarios

    /// A server of `kind` of its own, seeded, a fence migration cutting over by
    /// `mode`, and a runner that lets inserts settle for 0.2 s.
    func seeded(_ kind: OwnEngine.Kind, _ mode: CutoverMode, timeout: Double = 60) throws -> (
        engine: OwnEngine, env: LaneContext, m: MigrationDef, runner: MigrationRunner
    ) {
        let engine = try OwnEngine.start(kind, test: self)
        let env = try engine.env(timeout: timeout)
        try env.seed(Self.rows)
        let runner = env.runner()
        runner.fenceSettleSeconds = 0.2
        return (engine, env, env.migration(strategy: .fence, mode: mode), runner)
    }

    func killedMidBackfill(_ kind: OwnEngine.Kind) throws {
        let (engine, env, m, runner) = try seeded(kind, .versioned)
        let slices = Counter()
        runner.faultHook = { point in
            // After the third partition moved, its group's other partitions
            // still staged in their shared stage: SIGKILL.
            if point == "backfill.moved" && slices.next() == 3 { engine.signal(SIGKILL) }
        }
        XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)) { error in
            print("[\(kind)] apply while the server died: \(error)")
            XCTAssertTrue("\(error)".contains("connection"), "a clear connection error: \(error)")
        }
        try engine.restart()
        runner.faultHook = nil
        // The killed run never released its lock: same owner, so it continues.
        try runner.apply(m, catalog: env.catalog(), cutover: true, takeOverLock: false)
        try assertExactlyOnce(env, m.to.physicalName)
        try assertNoStages(env)
    }

    func frozenDuringCutover(_ kind: OwnEngine.Kind) throws {
        let (engine, env, m, runner) = try seeded(kind, .swap, timeout: 3)
        try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
        runner.faultHook = { point in
            if point == "cutover.before" { engine.signal(SIGSTOP) }
        }
        XCTAssertThrowsError(try runner.cutover(m)) { error in
            print("[\(kind)] cut-over with the server frozen: \(error)")
            XCTAssertTrue("\(error)".contains("did not answer") || "\(error)".contains("timed out") || "\(error)".contains("connection"), "\(error)")
        }
        engine.signal(SIGCONT)
        runner.faultHook = nil
        Thread.sleep(forTimeInterval: 1)
        try runner.cutover(m)
        XCTAssertEqual(try runner.status(m).first?.phase, .cutOver)
        // Swap: the old name now holds the new layout, every row once.
        try assertExactlyOnce(env, m.from.physicalName)
        let key = try env.transport.run("SELECT sorting_key FROM system.tables WHERE database = \(quoteString(env.database)) AND name = 'ev_0_0'").scalar
        XCTAssertEqual(key, "ts, id")
    }

    func killedAfterRename(_ kind: OwnEngine.Kind) throws {
        let (engine, env, m, runner) = try seeded(kind, .swap)
        try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
        runner.faultHook = { point in
            if point == "cutover.renamed" { engine.signal(SIGKILL) }
        }
        XCTAssertThrowsError(try runner.cutover(m)) { print("[\(kind)] cut-over, server killed after the rename: \($0)") }
        try engine.restart()
        runner.faultHook = nil
        try runner.cutover(m)
        XCTAssertEqual(try runner.status(m).first?.phase, .cutOver)
        try assertExactlyOnce(env, m.from.physicalName)
    }

    /// The second slice's INSERT … SELECT hits a real server limit partway
    /// (code 158, TOO_MANY_ROWS): the stage may hold part of the slice.
    func sliceServerError(_ kind: OwnEngine.Kind) throws {
        let (_, env, m, _) = try seeded(kind, .versioned)
        let failing = FailingTransport(env.transport)
        let runner = MigrationRunner(transport: failing, capabilities: env.capabilities, database: env.database,
                                     reporter: PrintReporter(env.name), owner: "fault")
        runner.fenceSettleSeconds = 0.2
        XCTAssertThrowsError(try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)) { error in
            print("[\(kind)] slice failed: \(error)")
            XCTAssertTrue("\(error)".contains("158"), "\(error)")
        }
        XCTAssertTrue(failing.fired)
        try runner.apply(m, catalog: env.catalog(), cutover: false, takeOverLock: false)
        try assertExactlyOnce(env, m.to.physicalName)
        try assertNoStages(env)
    }

    // MARK: checks

    func assertExactlyOnce(_ env: LaneContext, _ table: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try env.transport.run("SELECT count(), uniqExact(id), min(id), max(id) FROM \(qualified(env.database, table))").rows.first ?? []
        XCTAssertEqual(r, ["\(Self.rows)", "\(Self.rows)", "0", "\(Self.rows - 1)"], "every row exactly once", file: file, line: line)
    }

    func assertNoStages(_ env: LaneContext, file: StaticString = #filePath, line: UInt = #line) throws {
        let n = try env.transport.run("SELECT count() FROM system.tables WHERE database = \(quoteString(env.database)) AND name LIKE '\\_mbg\\_stage%'").scalar
        XCTAssertEqual(n, "0", "stage tables left", file: file, line: line)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
}

/// Sends the second stage fill with a row limit the server enforces mid-copy.
final class FailingTransport: Transport, @unchecked Sendable {
    let inner: HTTPTransport
    private let lock = NSLock()
    private var fills = 0
    private(set) var fired = false
    init(_ inner: HTTPTransport) { self.inner = inner }
    var displayURL: String { inner.displayURL }
    func cancel(queryID: String) throws { try inner.cancel(queryID: queryID) }
    func execute(_ query: Query) throws -> QueryResult {
        var q = query
        if q.sql.hasPrefix("INSERT INTO") && q.sql.contains("_mbg_stage_") {
            let fire = lock.withLock { fills += 1; if fills == 2 { fired = true }; return fills == 2 }
            if fire {
                q.settings["max_rows_to_read"] = "1000"
                q.settings["max_block_size"] = "100"
            }
        }
        return try inner.execute(q)
    }
}

/// A private engine on free ports with its own data, started by the test and
/// stopped when it ends. Uses the repository's scripts (the chDB venv must be
/// installed: scripts/local-engine install).
final class OwnEngine: @unchecked Sendable {
    enum Kind: String { case ch18 = "18", chdb = "26" }
    let kind: Kind
    let dir: String
    let port: Int
    let environment: [String: String]

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Three consecutive ports nothing listens on, below the kernel's ephemeral
    /// range (32768+), where outgoing connections of a busy machine take theirs.
    static func freePort() -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000...32_000)
            if (0..<3).allSatisfy({ canBind(port + $0) }) { return port }
        }
        return Int.random(in: 20_000...32_000)
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func start(_ kind: Kind, test: XCTestCase) throws -> OwnEngine {
        let dir = NSTemporaryDirectory() + "mbg-own-\(kind.rawValue)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        let port = freePort()
        switch kind {
        case .ch18:
            env["MBG_CH18_DIR"] = dir
            env["MBG_CH18_PORT"] = String(port)
            env["MBG_CH18_TCP_PORT"] = String(port + 1)
            env["MBG_CH18_INTERSERVER_PORT"] = String(port + 2)
        case .chdb:
            // Its own engine folder; the venv is the repository's.
            let venv = ProcessInfo.processInfo.environment["MBG_ENGINE_DIR"].map { $0 + "/venv" } ?? root.path + "/.engines/venv"
            try FileManager.default.createSymbolicLink(atPath: dir + "/venv", withDestinationPath: venv)
            env["MBG_ENGINE_DIR"] = dir
            env["MBG_CHDB_PORT"] = String(port)
            env["MBG_CHDB_DATA"] = dir + "/data"
            env["MBG_CHDB_POOL"] = "4"
        }
        let e = OwnEngine(kind: kind, dir: dir, port: port, environment: env)
        test.addTeardownBlock {
            _ = try? e.script("stop")
            try? FileManager.default.removeItem(atPath: dir)
        }
        try e.script("start")
        return e
    }

    init(kind: Kind, dir: String, port: Int, environment: [String: String]) {
        self.kind = kind
        self.dir = dir
        self.port = port
        self.environment = environment
    }

    var scriptPath: String { Self.root.path + (kind == .ch18 ? "/scripts/ch18" : "/scripts/local-engine") }
    var pidFile: String { kind == .ch18 ? dir + "/pid" : dir + "/chdb-run/pid" }

    /// Runs the engine script with posix_spawn and waitpid: Foundation's
    /// `Process.waitUntilExit` hung here once the script had left a daemon behind.
    @discardableResult
    func script(_ command: String) throws -> Int32 {
        let args = [scriptPath, command]
        let env = environment.map { "\($0.key)=\($0.value)" }
        var cArgs = args.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, scriptPath, &actions, nil, &cArgs, &cEnv) == 0 else {
            throw NSError(domain: "OwnEngine", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot run \(scriptPath)"])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let code = (status >> 8) & 0xff
        if command == "start" && code != 0 {
            throw NSError(domain: "OwnEngine", code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(scriptPath) start failed"])
        }
        return code
    }

    func signal(_ sig: Int32) {
        let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        guard let pid = Int32(text.filter(\.isNumber)) else { return XCTFail("no pid in \(pidFile)") }
        kill(pid, sig)
        if sig == SIGKILL { Thread.sleep(forTimeInterval: 0.3) }
    }

    func restart() throws {
        _ = try? script("stop")  // clears the stale pid file of a killed server
        try script("start")
    }

    /// A fresh database on this engine (it goes with the engine's folder).
    func env(timeout: Double = 60) throws -> LaneContext {
        try LaneContext.create(kind == .ch18 ? .v18 : .v26, url: URL(string: "http://127.0.0.1:\(port)")!, timeout: timeout)
    }
}
