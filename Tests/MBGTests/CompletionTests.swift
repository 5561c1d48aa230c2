import Foundation
import TestSupport
import XCTest

/// Shell completion: the bash script `mbg --generate-completion-script bash`
/// prints is sourced in a real bash, its completion function is driven the way
/// bash drives it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT), and what it
/// offers is checked.
final class CompletionTests: XCTestCase {
    static let bash = ["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func script(_ shell: String) throws -> String {
        let r = try runMBG(["--generate-completion-script", shell])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// What bash would offer after `line` (the cursor at its end).
    func complete(_ line: String) throws -> [String] {
        let bash = try XCTUnwrap(Self.bash, "no bash on this machine")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mbg-completion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mbg.bash")
        try script("bash").write(to: file, atomically: true, encoding: .utf8)
        var words = line.split(separator: " ").map(String.init)
        if line.hasSuffix(" ") { words.append("") }
        let quoted = words.map { "'\($0)'" }.joined(separator: " ")
        let driver = """
            shopt -s extglob
            source '\(file.path)'
            spec="$(complete -p mbg)" || { echo 'mbg has no completion' >&2; exit 3; }
            fn="${spec##*-F }"; fn="${fn%% *}"
            COMP_WORDS=(\(quoted))
            COMP_CWORD=\(words.count - 1)
            COMP_LINE='\(line)'
            COMP_POINT=${#COMP_LINE}
            "$fn" mbg "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let path = productsDirectory().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let r = try runProgram(URL(fileURLWithPath: bash), ["-c", driver], environment: ["PATH": path], directory: dir, timeout: 30)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testSubcommandsComplete() throws {
        let offered = try complete("mbg ")
        for sub in ["run", "plan", "check", "dump", "fmt"] {
            XCTAssertTrue(offered.contains(sub), "'\(sub)' not offered after 'mbg ': \(offered)")
        }
        XCTAssertEqual(try complete("mbg fm"), ["fmt"])
        XCTAssertEqual(try complete("mbg pl"), ["plan"])
    }

    func testOptionsComplete() throws {
        XCTAssertEqual(try complete("mbg fmt --ch"), ["--check"])
        XCTAssertEqual(try complete("mbg plan --detailed"), ["--detailed-exitcode"])
        XCTAssertTrue(try complete("mbg check --").contains("--json"))
        XCTAssertTrue(try complete("mbg --").contains("--url"))
    }

    func testZshAndFishScriptsNameTheSubcommands() throws {
        for shell in ["zsh", "fish"] {
            let text = try script(shell)
            for word in ["fmt", "plan", "check", "detailed-exitcode"] {
                XCTAssertTrue(text.contains(word), "\(shell) script lacks '\(word)'")
            }
        }
    }
}
