import ArgumentParser
import Foundation
import MBG

/// `mbg fmt FILE…`: rewrites scripts in the canonical layout (docs/language.md, "Formatting").
struct FormatCommand: ParsableCommand, MBGRunnable {
    static let configuration = CommandConfiguration(
        commandName: "fmt",
        abstract: "Rewrite scripts in the one canonical layout.",
        discussion: """
            `-` formats stdin to stdout. With --check nothing is written: the files
            that would change are listed and the exit code is 1 (for CI).
            A script that does not parse is left alone and reported (exit 65).
            """)

    @Argument(help: "Script files (.mbg), or - for stdin.") var files: [String]
    @Flag(help: "Change no file; list those that would change and exit 1 if any.")
    var check = false

    /// `fmt --check` found files to reformat: the code gofmt and prettier use for it.
    static let needsFormatting = MBGExit.internalError

    func execute() -> MBGExit {
        var worst = MBGExit.success
        var changed: [String] = []
        for path in files {
            let text: String
            if path == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let data = FileManager.default.contents(atPath: path) else {
                    Console.err("error: cannot read file '\(path)'")
                    return .usage
                }
                text = String(decoding: data, as: UTF8.self)
            }
            let formatted: String
            do {
                formatted = try Formatter.format(SourceFile(name: path == "-" ? "<stdin>" : path, text: text))
            } catch {
                _ = report(error)
                worst = .scriptError
                continue
            }
            if path == "-" && !check { writeOut(formatted) }
            if formatted == text { continue }
            changed.append(path)
            if check || path == "-" { continue }
            if !FileManager.default.createFile(atPath: path, contents: Data(formatted.utf8)) {
                Console.err("error: cannot write file '\(path)'")
                return .usage
            }
        }
        if check {
            for path in changed { Console.out(path) }
            if worst == .success && !changed.isEmpty { return Self.needsFormatting }
        }
        return worst
    }

    private func writeOut(_ text: String) {
        Console.standardOutput.write(text)
    }
}
