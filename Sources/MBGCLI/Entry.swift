import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Entry point of the `mbg` program; returns the process exit code.
public func mbgMain(_ arguments: [String]) -> Int32 {
    if arguments.isEmpty && isatty(STDIN_FILENO) != 0 {
        return runInteractiveREPL()
    }
    print("mbg")
    return 0
}

/// `mbg` with no arguments on a terminal.
func runInteractiveREPL() -> Int32 {
    let output = StandardOutputSink()
    // TEMPORARY: replace with the interpreter's ReplBackend, built on `output`.
    let backend = BraceBackend(output: output)
    let editor = LineEditor(historyPath: LineEditor.historyPath())
    let repl = REPL(backend: backend, reader: editor, output: output, style: .forStandardOutput())
    return repl.run() == .finished ? 0 : 1
}
