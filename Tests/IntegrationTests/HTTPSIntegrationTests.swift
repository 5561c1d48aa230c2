import Foundation
import MBG
import TestSupport
import XCTest

/// HTTPS through a local TLS terminator (scripts/engine/tls_proxy.py) in front of
/// the 18.16 lane: a certificate from an unknown authority is refused with a
/// clear error; once that authority is in the system trust store, the same URL works.
final class HTTPSIntegrationTests: XCTestCase {
    func run(_ tool: String, _ args: [String], in dir: URL) throws {
        let r = try runProgram(URL(fileURLWithPath: tool), args, directory: dir, timeout: 60)
        XCTAssertEqual(r.status, 0, "\(tool) \(args.joined(separator: " ")): \(r.stderr)")
    }

    func testBadCertificateRefusedSystemTrustStoreHonoured() throws {
        guard let text = ProcessInfo.processInfo.environment["MBG_TEST_URL_18"], let upstream = URL(string: text),
            let upstreamPort = upstream.port
        else {
            return XCTFail("MBG_TEST_URL_18 is not set: start the engines with eval \"$(scripts/engines-up)\"")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A throwaway authority and a server certificate for 127.0.0.1 signed by it.
        let openssl = "/usr/bin/openssl"
        try run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=mbg test CA"], in: dir)
        try run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"], in: dir)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(to: dir.appendingPathComponent("ext.cnf"), atomically: true, encoding: .utf8)
        try run(openssl, ["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf"], in: dir)

        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proxy.arguments = ["python3", repositoryRoot().appendingPathComponent("scripts/engine/tls_proxy.py").path,
                           dir.appendingPathComponent("srv.pem").path, dir.appendingPathComponent("srv.key").path, String(upstreamPort), "0"]
        let out = Pipe()
        proxy.standardOutput = out
        try proxy.run()
        defer { proxy.terminate() }
        guard let line = String(data: out.fileHandleForReading.availableDataOrLine(), encoding: .utf8)?
            .trimmingCharacters(in: .whitespacesAndNewlines), let port = Int(line)
        else { return XCTFail("tls_proxy.py printed no port") }
        let url = "https://127.0.0.1:\(port)"

        // Unknown authority: refused, and the error says why.
        let refused = try runMBG(["--url", url, "-c", #"sql "SELECT version() AS v""#])
        XCTAssertEqual(refused.status, 69, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("certificate"), refused.stderr)
        XCTAssertFalse(refused.stdout.contains("18.16"))

        // The same authority in the system trust store: accepted.
        let anchor = URL(fileURLWithPath: "/usr/local/share/ca-certificates/mbg-test-\(UUID().uuidString.prefix(8)).crt")
        guard (try? FileManager.default.copyItem(at: dir.appendingPathComponent("ca.pem"), to: anchor)) != nil else {
            return XCTFail("cannot write \(anchor.path): this test adds a throwaway CA to the system trust store and needs root")
        }
        defer {
            try? FileManager.default.removeItem(at: anchor)
            _ = try? runProgram(URL(fileURLWithPath: "/usr/sbin/update-ca-certificates"), ["--fresh"], timeout: 120)
        }
        try run("/usr/sbin/update-ca-certificates", [], in: dir)
        let trusted = try runMBG(["--url", url, "-c", #"sql "SELECT version() AS v""#])
        XCTAssertEqual(trusted.status, 0, trusted.stderr)
        XCTAssertTrue(trusted.stdout.contains("18.16"), trusted.stdout)
    }
}

extension FileHandle {
    /// The first line written (the proxy prints its port and flushes).
    fileprivate func availableDataOrLine() -> Data {
        var data = Data()
        while !data.contains(0x0A) {
            let chunk = availableData
            if chunk.isEmpty { break }
            data.append(chunk)
        }
        return data
    }
}
