import Foundation
import TestSupport
import XCTest

@testable import MBG

/// Statements and builtins declare through one path: every golden script that
/// declares derived versions or migrations with statements is rewritten with
/// their builtin twins (`derive(…)`, `migration(…)`) and must give the same
/// plans, the same SQL and the same output.
final class DeclarationTwinTests: XCTestCase {
    struct Run: Equatable {
        var lines: [String]
        var plans: [String]
        var statements: [String]
        /// Messages of the diagnostics it stopped with (where they point differs by design).
        var errors: [String] = []
    }

    func run(_ text: String, path: String) throws -> Run {
        let transport = DryRunTransport()
        var options = InterpreterOptions(mode: .dryRun, transport: transport)
        options.stdlibPaths = [repositoryRoot().appendingPathComponent("stdlib").path]
        options.assumeYes = true
        let output = CollectingOutput()
        let interpreter = Interpreter(options: options, output: output)
        var errors: [String] = []
        do {
            try interpreter.evaluate(file: SourceFile(name: path, text: text))
        } catch let list as DiagnosticList {
            errors = list.diagnostics.map(\.message)
        }
        // Cutoff times are chosen from the clock: equal up to the second they were taken in.
        func normal(_ s: String) -> String {
            s.replacingOccurrences(of: #"\b1[0-9]{9}\b"#, with: "<T>", options: .regularExpression)
        }
        return Run(
            lines: output.lines.map(normal), plans: output.plans.map { normal($0.render()) },
            statements: transport.statements.map(normal), errors: errors)
    }

    /// The builtin twin of a script, or nil when it has nothing to rewrite
    /// (or derives from a live table, which dry-run cannot read).
    func twin(of file: SourceFile) -> String? {
        let (program, errors) = Parser.parse(file)
        guard errors.isEmpty else { return nil }
        var versions: [String: [Version]] = [:]
        var edits: [(SourceRange, String)] = []
        func src(_ e: Expr) -> String { file.slice(e.range) }
        func quoted(_ s: String) -> String { Value.string(s).literal }
        func keys(_ items: [KeyItem]) -> String {
            "[" + items.map { item in
                switch item {
                case .column(let n): quoted(n.text)
                case .sql(let e): src(e)
                }
            }.joined(separator: ", ") + "]"
        }
        func below(_ name: String, _ v: Version) -> Version? { versions[name, default: []].filter { $0 < v }.max() }
        for stmt in program.statements {
            switch stmt {
            case .table(let decl):
                defer { if let v = decl.version { versions[decl.name.text, default: []].append(v) } }
                guard decl.columns == nil, let v = decl.version else { continue }
                guard let base = below(decl.name.text, v) else { return nil }
                let fields = decl.clauses.map { clause, _ -> String in
                    switch clause {
                    case .orderBy(let items): "order_by: \(keys(items))"
                    case .primaryKey(let items): "primary_key: \(keys(items))"
                    case .partitionBy(let item): "partition_by: \(keys([item]))"
                    case .engine(.text(let t)): "engine: \(quoted(t))"
                    case .engine(.sql(let e)): "engine: \(src(e))"
                    case .ttl(let e): "ttl: \(src(e))"
                    case .settings(let list): "settings: {" + list.map { "\($0.name.text): \(quoted($0.value))" }.joined(separator: ", ") + "}"
                    case .database(let n): "database: \(quoted(n.text))"
                    case .cluster(let n): "cluster: \(quoted(n.text))"
                    case .distributed(let e?): "distributed: \(src(e))"
                    case .distributed(nil): "distributed: \(quoted("rand()"))"
                    case .sampleBy(let item?): "sample_by: \(keys([item]).dropFirst().dropLast())"
                    case .sampleBy(nil): "sample_by: null"
                    case .comment(let e?): "comment: \(src(e))"
                    case .comment(nil): "comment: null"
                    case .index(let n, nil): "index: {\(n.text): null}"
                    case .index(let n, let d?):
                        "index: {\(n.text): {expression: \(keys([d.expression]).dropFirst().dropLast()), type: "
                            + { () -> String in
                                switch d.type {
                                case .text(let t): return quoted(t)
                                case .sql(let e): return src(e)
                                }
                            }() + (d.granularity.map { ", granularity: \($0)" } ?? "") + "}}"
                    case .projection(let n, nil): "projection: {\(n.text): null}"
                    case .projection(let n, let q?): "projection: {\(n.text): \(src(q))}"
                    }
                }
                edits.append((decl.range, "derive(\(decl.name.text) v\(base), \(quoted("v\(v)")), {\(fields.joined(separator: ", "))})"))
            case .migrate(let decl):
                guard let from = decl.from ?? below(decl.table.text, decl.to) else { return nil }
                let fields = decl.options.map { option, _ -> String in
                    switch option {
                    case .via(let n): "via: \(quoted(n.text))"
                    case .cutoff(let c, let lateness): "cutoff: \(quoted(c.text))" + (lateness.map { ", lateness: \($0)" } ?? "")
                    case .batch(let e): "batch: \(src(e))"
                    case .throttle(let e): "throttle: \(src(e))"
                    case .parallel(let e): "parallel: \(src(e))"
                    case .transform(let e): "transform: \(src(e))"
                    case .strategy(let n): "strategy: \(quoted(n.text))"
                    case .cutover(let n): "cutover: \(quoted(n.text))"
                    case .name(let n): "name: \(quoted(n.text))"
                    }
                }
                let t = decl.table.text
                edits.append((decl.range, "migration(\(t) v\(from), \(t) v\(decl.to), {\(fields.joined(separator: ", "))})"))
            default: continue
            }
        }
        guard !edits.isEmpty else { return nil }
        var bytes = Array(file.text.utf8)
        for (range, text) in edits.sorted(by: { $0.0.start > $1.0.start }) {
            bytes.replaceSubrange(range.start..<range.end, with: Array(text.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testEveryGoldenDeclarationAndItsBuiltinTwinPlanAlike() throws {
        let root = repositoryRoot()
        let scripts = root.appendingPathComponent("Tests/Scripts")
        let walker = FileManager.default.enumerator(atPath: scripts.path)
        var compared: [String] = []
        while let rel = walker?.nextObject() as? String {
            guard rel.hasSuffix(".mbg") else { continue }
            let path = scripts.appendingPathComponent(rel).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // Scripts run with other arguments test the command line.
            guard !text.contains("# args:") else { continue }
            guard let twinText = twin(of: SourceFile(name: path, text: text)) else { continue }
            let original = try run(text, path: path)
            // A twin names versions as table references (`e v0.9`), which fail on
            // their own when undeclared, before any declaration check.
            if original.errors.contains(where: { $0.hasSuffix("is not declared") }) { continue }
            let builtin = try run(twinText, path: path)
            XCTAssertEqual(original, builtin, "\(rel): statements and builtins differ\n--- twin:\n\(twinText)")
            compared.append(rel)
        }
        // The events example is the seed scenario: it must be among them.
        let events = try String(contentsOf: root.appendingPathComponent("examples/events.mbg"), encoding: .utf8)
        let path = root.appendingPathComponent("examples/events.mbg").path
        let twinText = try XCTUnwrap(twin(of: SourceFile(name: path, text: events)))
        XCTAssertTrue(twinText.contains("derive(events v0.0, \"v0.1\", {order_by: [\"id\", \"created_at\"]})"), twinText)
        XCTAssertEqual(try run(events, path: path), try run(twinText, path: path))
        XCTAssertGreaterThanOrEqual(compared.count, 12, "golden declarations compared: \(compared)")
        print("declaration twins compared: \(compared.count + 1) scripts")
    }
}
