import Foundation
import XCTest

/// The folder holding the built `mbg` binary.
public func productsDirectory() -> URL {
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    return Bundle.main.bundleURL
}

/// The repository root (for Tests/Scripts, examples, stdlib).
public func repositoryRoot() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

public struct ProcessResult: Sendable {
    public var stdout: String
    public var stderr: String
    public var status: Int32
}

/// Runs the real `mbg` binary with arguments and optional stdin.
public func runMBG(
    _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    directory: URL? = nil, timeout: TimeInterval = 60
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = productsDirectory().appendingPathComponent("mbg")
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env["MBG_HOME"] = repositoryRoot().path
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
    // Read both pipes while the process runs so neither fills up.
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
    if group.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        XCTFail("mbg \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    process.waitUntilExit()
    return ProcessResult(
        stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self),
        status: process.terminationStatus)
}
