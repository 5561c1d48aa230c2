import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
        let (status, _) = try runScript(script, ["start", "--data", data], capture: false)
        guard status == 0 else {
            throw CLIError.usage("--local: starting the local engine failed (scripts/local-engine start exited \(status))")
        }
        let (urlStatus, out) = try runScript(script, ["url"])
        let url = out.split(separator: "\n").last { $0.hasPrefix("http://") }
        guard urlStatus == 0, let url else { throw CLIError.usage("--local: scripts/local-engine printed no URL") }
        return String(url)
    }

    /// Runs a helper script with posix_spawn and waitpid; its stderr goes
    /// straight to ours, its stdout is returned. Foundation's `Process` is not
    /// used: its wait hung once `start` had left the engine running behind it.
    /// `capture: false` sends its stdout to our stderr: a script that leaves a
    /// daemon behind must not hold a pipe we would wait on.
    static func runScript(_ script: String, _ arguments: [String], capture: Bool = true) throws -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CLIError.usage("--local: cannot create a pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, capture ? fds[1] : 2, 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let args = ["/bin/bash", script] + arguments
        var cArgs = args.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArgs, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard spawned == 0 else { throw CLIError.usage("--local: cannot run \(script)") }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 {
                output += buffer[0..<n]
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
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
