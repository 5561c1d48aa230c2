import Foundation
import TestSupport
import XCTest

/// `mbg --local DIR` starts the project's own engine when none runs, and uses it.
final class LocalEngineTests: XCTestCase {
    func testLocalStartsAnEngineFromNothing() throws {
        let root = repositoryRoot()
        let venv = root.appendingPathComponent(".engines/venv")
        guard FileManager.default.fileExists(atPath: venv.appendingPathComponent("bin/python").path) else {
            return XCTFail("chDB is not installed: run scripts/setup (it creates \(venv.path))")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-local-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Its own run folder and port, so it starts a new engine beside the shared ones.
        let env = [
            "MBG_ENGINE_DIR": dir.path, "MBG_CHDB_VENV": venv.path,
            "MBG_CHDB_PORT": String(OwnEngine.freePort()),
        ]
        defer {
            _ = try? runProgram(URL(fileURLWithPath: "/bin/bash"), [root.appendingPathComponent("scripts/local-engine").path, "stop"], environment: env, timeout: 60)
            try? FileManager.default.removeItem(at: dir)
        }
        let data = dir.appendingPathComponent("data").path
        let r = try runMBG(["--local", data, "-c", #"sql "SELECT version() AS v""#], environment: env, timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("26.9"), r.stdout)
        XCTAssertTrue(r.stderr.contains("running"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: data), "the engine keeps its data in the folder given")
        // A second run finds it running and reuses it.
        let again = try runMBG(["--local", data, "-c", #"sql "SELECT 1 AS one""#], environment: env, timeout: 60)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("already running"), again.stderr)
    }
}
