import Foundation
import MBG

/// `mbg check --json`: each diagnostic as one JSON object on its own stdout line,
/// as docs/diagnostics-schema.json describes (for editors and CI problem matchers).
/// What the scripts print goes to stderr, so stdout holds diagnostics alone.
func checkAsJSON(_ sources: [(String, String)], _ settings: RunSettings) -> MBGExit {
    let output = TerminalOutput(json: true)
    output.scriptOutputToStderr = true
    let interp: Interpreter
    do {
        interp = try makeInterpreter(settings, output: output)
    } catch {
        return report(error)
    }
    var first = MBGExit.success
    for (name, _) in sources {
        let code: MBGExit
        do {
            try interp.run(path: name)
            continue
        } catch let list as DiagnosticList {
            for d in list.diagnostics { Console.out(diagnosticJSONLine(d, script: name)) }
            code = MBGExit.of(list.diagnostics)
        } catch let d as Diagnostic {
            Console.out(diagnosticJSONLine(d, script: name))
            code = MBGExit.of(d.kind)
        } catch {
            code = report(error)
        }
        if !settings.common.continueOnError { return code }
        if first == .success { first = code }
    }
    return first
}

/// One diagnostic as a line of JSON. Lines and columns are 1-based, columns
/// count characters, and the end column is just past the marked text.
func diagnosticJSONLine(_ d: Diagnostic, script: String) -> String {
    var object: [String: Any] = [
        "file": d.location?.file.name ?? script,
        "severity": "error",
        "kind": d.kind.rawValue,
        "message": d.message,
        "hints": d.hint.map { [$0] } ?? [],
    ]
    if let location = d.location {
        let (line, column) = location.file.location(of: location.range.start)
        let (endLine, endColumn) = location.file.location(of: max(location.range.start, location.range.end))
        object["line"] = line
        object["column"] = column
        object["end_line"] = endLine
        object["end_column"] = endColumn
    }
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}
