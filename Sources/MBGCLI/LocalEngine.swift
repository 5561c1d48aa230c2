import Foundation

/// Starts the project's own local ClickHouse engine (chDB behind an HTTP front)
/// through `scripts/local-engine`, so `mbg --local DIR` needs no server installed.
enum LocalEngine {
    /// The repository (or install) folder holding `scripts/` and `stdlib/`.
    static func home() -> URL? {
        if let h = ProcessInfo.processInfo.environment["MBG_HOME"] { return URL(fileURLWithPath: h) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("scripts/local-engine").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if FileManager.default.fileExists(atPath: cwd.appendingPathComponent("scripts/local-engine").path) { return cwd }
        return nil
    }

    static func ensureRunning(dataDir: String) throws -> String {
        guard let home = home() else {
            throw CLIError.usage("--local: cannot find scripts/local-engine (set MBG_HOME to the mbg checkout)")
        }
        let script = home.appendingPathComponent("scripts/local-engine").path
        let data = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        let (status, _) = try runScript(script, ["start", "--data", data])
        guard status == 0 else {
            throw CLIError.usage("--local: starting the local engine failed (scripts/local-engine start exited \(status))")
        }
        let (urlStatus, out) = try runScript(script, ["url"])
        let url = out.split(separator: "\n").last { $0.hasPrefix("http://") }
        guard urlStatus == 0, let url else { throw CLIError.usage("--local: scripts/local-engine printed no URL") }
        return String(url)
    }

    /// Runs a helper script; its stderr goes straight to ours.
    static func runScript(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    /// Folders `import "name"` searches.
    static func stdlibPaths() -> [String] {
        var paths: [String] = []
        if let s = ProcessInfo.processInfo.environment["MBG_STDLIB"] { paths.append(s) }
        if let h = home() { paths.append(h.appendingPathComponent("stdlib").path) }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        paths.append(exe.appendingPathComponent("../share/mbg/stdlib").standardizedFileURL.path)
        return paths.filter { FileManager.default.fileExists(atPath: $0) }
    }
}
