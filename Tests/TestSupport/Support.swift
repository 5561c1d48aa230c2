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

public typealias ProcessResult = ProcessOutcome

/// Runs the real `mbg` binary with arguments and optional stdin.
public func runMBG(
    _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    directory: URL? = nil, timeout: TimeInterval = 60
) throws -> ProcessResult {
    var env = environment
    env["MBG_HOME"] = env["MBG_HOME"] ?? repositoryRoot().path
    let r = try runProgram(
        productsDirectory().appendingPathComponent("mbg"), arguments, stdin: stdin, environment: env,
        directory: directory, timeout: timeout)
    if r.timedOut { XCTFail("mbg \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s") }
    return r
}
