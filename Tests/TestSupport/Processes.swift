import Foundation

public struct ProcessOutcome: Sendable {
    public var stdout: String
    public var stderr: String
    public var status: Int32
    /// True when the process had to be stopped after the timeout.
    public var timedOut: Bool
}

/// Runs a program to the end, reading both pipes while it runs; stdin is a pipe
/// holding `stdin` (never a terminal). Stops it after `timeout` seconds.
public func runProgram(
    _ executable: URL, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    directory: URL? = nil, timeout: TimeInterval = 300
) throws -> ProcessOutcome {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    process.environment = env
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    var timedOut = false
    if group.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        process.terminate()
        group.wait()
    }
    process.waitUntilExit()
    return ProcessOutcome(
        stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self),
        status: process.terminationStatus, timedOut: timedOut)
}
