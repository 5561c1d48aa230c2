import Foundation

#if canImport(Glibc)
    import Glibc
#endif

public struct ProcessOutcome: Sendable {
    public var stdout: String
    public var stderr: String
    public var status: Int32
    /// True when the process had to be stopped after the timeout.
    public var timedOut: Bool
}

/// Runs a program to the end, reading both pipes while it runs; stdin is a pipe
/// holding `stdin` (never a terminal). Stops it after `timeout` seconds.
///
/// posix_spawn and waitpid rather than Foundation's `Process`, whose wait hung
/// here when the program had started a daemon (`mbg --local`).
public func runProgram(
    _ executable: URL, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    directory: URL? = nil, timeout: TimeInterval = 300
) throws -> ProcessOutcome {
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    var input: [Int32] = [0, 0], output: [Int32] = [0, 0], errors: [Int32] = [0, 0]
    guard pipe(&input) == 0, pipe(&output) == 0, pipe(&errors) == 0 else {
        throw NSError(domain: "runProgram", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "pipe failed"])
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, input[0], 0)
    posix_spawn_file_actions_adddup2(&actions, output[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
    for fd in input + output + errors { posix_spawn_file_actions_addclose(&actions, fd) }
    // A working folder through the shell: glibc's addchdir is not visible to Swift.
    let argv =
        directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0.path, executable.path] + arguments }
        ?? [executable.path] + arguments
    var cArgs = argv.map { strdup($0) } + [nil]
    var cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, &cEnv)
    close(input[0]); close(output[1]); close(errors[1])
    guard spawned == 0 else {
        close(input[1]); close(output[0]); close(errors[0])
        throw NSError(domain: "runProgram", code: Int(spawned), userInfo: [NSLocalizedDescriptionKey: "cannot run \(executable.path)"])
    }
    if let stdin {
        let bytes = Array(stdin.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
    }
    close(input[1])
    // Both pipes drained on their own threads so neither fills up.
    final class Sink: @unchecked Sendable { var data = [UInt8]() }
    let outSink = Sink(), errSink = Sink()
    let group = DispatchGroup()
    for (fd, sink) in [(output[0], outSink), (errors[0], errSink)] {
        group.enter()
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 { sink.data += buffer[0..<n] } else if n == 0 || errno != EINTR { break }
            }
            close(fd)
            group.leave()
        }
    }
    var timedOut = false
    if group.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        kill(pid, SIGKILL)
        _ = group.wait(timeout: .now() + 10)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProcessOutcome(
        stdout: String(decoding: outSink.data, as: UTF8.self), stderr: String(decoding: errSink.data, as: UTF8.self),
        status: code, timedOut: timedOut)
}

/// A pid that surely no longer exists: a child that has exited and been reaped.
public func deadPid() -> Int32 {
    var pid: pid_t = 0
    var args: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { args.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/true", nil, nil, &args, nil) == 0 else { return Int32.max }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return pid
}
