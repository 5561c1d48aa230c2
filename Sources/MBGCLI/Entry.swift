import ArgumentParser
import Foundation
import MBG

/// Entry point of the `mbg` program; returns the process exit code.
public func mbgMain(_ arguments: [String]) -> Int32 {
    do {
        var command = try MBGCommand.parseAsRoot(arguments)
        if let runnable = command as? any MBGRunnable {
            return runnable.execute().rawValue
        }
        try command.run()
        return 0
    } catch {
        let code = MBGCommand.exitCode(for: error)
        let message = MBGCommand.fullMessage(for: error)
        if code == .success {
            Console.out(message)
            return 0
        }
        Console.err(message)
        return code == .validationFailure ? MBGExit.usage.rawValue : code.rawValue
    }
}

protocol MBGRunnable {
    func execute() -> MBGExit
}

struct MBGCommand: ParsableCommand, MBGRunnable {
    static let configuration = CommandConfiguration(
        commandName: "mbg",
        abstract: "Blue/green table migrations for ClickHouse, as a small language.",
        discussion: """
            With no arguments: a REPL when stdin is a terminal, else the script on stdin.
            Exit codes: 0 ok, 2 changes pending (plan --detailed-exitcode), 3 runtime error
            or failed assert, 64 usage, 65 script does not parse or check,
            69 ClickHouse or connection error, 70 verification mismatch,
            73 migration locked, 77 confirmation needed (pass --yes).
            """,
        subcommands: [Run.self, PlanCommand.self, Check.self, Dump.self, FormatCommand.self, RehearseCommand.self])

    @Option(name: .customShort("c"), help: "Evaluate STATEMENTS.")
    var statements: String?

    @OptionGroup var common: CommonOptions

    func execute() -> MBGExit {
        let settings = RunSettings(common: common, mode: common.dryRun ? .dryRun : .live)
        if let statements {
            return runSources([("<-c>", statements)], settings)
        }
        if Console.stdinIsTerminal {
            return runREPL(settings)
        }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        return runSources([("<stdin>", String(decoding: data, as: UTF8.self))], settings)
    }
}

/// A subcommand over script files (`run`, `check`, `plan`): reads them, then
/// `execute(_:)`; a file that cannot be read is a usage error.
protocol ScriptsCommand: MBGRunnable {
    var files: [String] { get }
    func execute(_ sources: [(String, String)]) -> MBGExit
}

extension ScriptsCommand {
    func execute() -> MBGExit {
        guard let sources = readFiles(files) else { return .usage }
        return execute(sources)
    }
}

struct Run: ParsableCommand, ScriptsCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate scripts in order.")
    @Argument(help: "Script files (.mbg).") var files: [String]
    @OptionGroup var common: CommonOptions

    func execute(_ sources: [(String, String)]) -> MBGExit {
        runSources(sources, RunSettings(common: common, mode: common.dryRun ? .dryRun : .live))
    }
}

struct Check: ParsableCommand, ScriptsCommand {
    static let configuration = CommandConfiguration(abstract: "Parse and check scripts without connecting.")
    @Argument(help: "Script files (.mbg).") var files: [String]
    @OptionGroup var common: CommonOptions

    func execute(_ sources: [(String, String)]) -> MBGExit {
        let settings = RunSettings(common: common, mode: .checkOnly)
        if common.json { return checkAsJSON(sources, settings) }
        let code = runSources(sources, settings)
        if code == .success && !common.quiet { Console.err("ok: \(files.joined(separator: ", "))") }
        return code
    }
}

struct PlanCommand: ParsableCommand, ScriptsCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Show what applying the scripts would do; change nothing.")
    @Argument(help: "Script files (.mbg).") var files: [String]
    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when the plan has changes to apply.")
    var detailedExitcode = false
    @Flag(name: .customLong("verbose"), help: "Show every statement, also those repeated per partition.")
    var verbose = false
    @OptionGroup var common: CommonOptions

    func execute(_ sources: [(String, String)]) -> MBGExit {
        let mode: ServerMode = common.dryRun ? .dryRun : .live
        let output = TerminalOutput(json: common.json)
        output.quiet = common.quiet
        output.collectPlans = true
        output.scriptOutputToStderr = true
        let interp: Interpreter
        do {
            interp = try makeInterpreter(RunSettings(common: common, mode: mode), output: output, planOnly: true)
        } catch {
            return report(error)
        }
        let code = evaluate(sources, interp)
        guard code == .success else { return code }
        var changes = false
        do {
            if common.json {
                let plan = try interp.makePlan(only: nil, nil)
                changes = plan.hasChanges
                Console.out(String(decoding: PlanDocument(plans: [plan]).encoded(pretty: true), as: UTF8.self))
            } else {
                // Written as it is made: a 100k-line script's plan is tens of megabytes.
                var renderer = PlanRenderer(verbose: verbose)
                let warnings = try interp.streamPlan(only: nil, nil) { step in
                    changes = changes || step.status != .done
                    renderer.append(step)
                    if renderer.out.count > 1 << 16 { Console.outRaw(renderer.take()) }
                }
                renderer.finish(warnings: warnings)
                Console.out(bytes: renderer.take())
            }
        } catch {
            return report(error)
        }
        return detailedExitcode && changes ? .changesPending : .success
    }
}

struct Dump: ParsableCommand, MBGRunnable {
    static let configuration = CommandConfiguration(abstract: "Write the live catalog as JSON (for `plan --catalog`).")
    @OptionGroup var common: CommonOptions

    func execute() -> MBGExit {
        do {
            let settings = RunSettings(common: common, mode: .live)
            let connection = try settings.connection()
            let transport = try TransportRegistry.standard().make(connection)
            let catalog = try readCatalog(transport, connection.database)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Console.out(String(decoding: try encoder.encode(catalog), as: UTF8.self))
            return .success
        } catch {
            return report(error)
        }
    }
}

// MARK: - running

func readFiles(_ files: [String]) -> [(String, String)]? {
    var sources: [(String, String)] = []
    for f in files {
        guard let data = FileManager.default.contents(atPath: f) else {
            Console.err("error: cannot read file '\(f)'")
            return nil
        }
        sources.append((f, String(decoding: data, as: UTF8.self)))
    }
    return sources
}

/// Prints an error that is not a diagnostic and picks its exit code.
func report(_ error: any Error) -> MBGExit {
    switch error {
    case let list as DiagnosticList:
        printDiagnostics(list.diagnostics)
        return MBGExit.of(list.diagnostics)
    case let d as Diagnostic:
        printDiagnostics([d])
        return MBGExit.of(d.kind)
    case let e as CLIError:
        Console.err("error: \(e)")
        return .usage
    case let e as TransportError:
        Console.err("error: \(e)")
        return .serverError
    default:
        Console.err("error: \(error)")
        return .internalError
    }
}

func printDiagnostics(_ diagnostics: [Diagnostic]) {
    let color = Console.stderrIsTerminal && Console.colorAllowed
    for d in diagnostics { Console.err(d.render(color: color)) }
}

func makeInterpreter(_ settings: RunSettings, output: TerminalOutput, planOnly: Bool = false) throws -> Interpreter {
    var options = InterpreterOptions(mode: settings.mode)
    options.stdlibPaths = LocalEngine.stdlibPaths()
    options.assumeYes = settings.common.yes
    options.continueOnError = settings.common.continueOnError
    options.planOnly = planOnly
    options.reporter = settings.common.quiet ? QuietReporter() : ConsoleReporter()
    options.makeMigrationEngine = makeMigrationEngine
    options.catalogLoader = readCatalog
    if Console.stdinIsTerminal && !settings.common.yes {
        options.confirm = askOnTerminal
    }
    if let path = settings.common.catalog {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.usage("--catalog: cannot read '\(path)'") }
        do {
            options.fixedCatalog = try JSONDecoder().decode(Catalog.self, from: data)
        } catch {
            throw CLIError.usage("--catalog: '\(path)' is not a catalog dumped by mbg dump (\(error))")
        }
        options.database = options.fixedCatalog?.database
        options.transport = DryRunTransport()
        if settings.mode == .live { options.mode = .dryRun }
    }
    switch settings.mode {
    case .dryRun:
        if options.transport == nil {
            let json = settings.common.json
            options.transport = DryRunTransport { sql in
                // Reads are what the plan consults; dry-run shows what would change.
                let first = sql.drop { $0.isWhitespace }.prefix { $0.isLetter }.uppercased()
                if ["SELECT", "SHOW", "EXISTS", "DESCRIBE", "DESC", "WITH"].contains(first) { return }
                if json {
                    let data = (try? JSONSerialization.data(withJSONObject: ["type": "sql", "sql": sql])) ?? Data()
                    Console.out(String(decoding: data, as: UTF8.self))
                } else {
                    Console.out(sql + ";")
                }
            }
        }
        options.database = options.database ?? settings.common.database
    case .live:
        if options.transport == nil {
            let connection = try settings.connection()
            options.transport = try TransportRegistry.standard().make(connection)
            options.database = connection.database
        }
    case .checkOnly:
        break
    }
    return Interpreter(options: options, output: output)
}

func askOnTerminal(_ question: String) -> Bool {
    Console.errRaw("\(question) [y/N] ")
    guard let answer = readLine() else { return false }
    return ["y", "yes"].contains(answer.lowercased().trimmingCharacters(in: .whitespaces))
}

func evaluate(_ sources: [(String, String)], _ interp: Interpreter) -> MBGExit {
    var first: MBGExit = .success
    for (name, text) in sources {
        do {
            if name.hasPrefix("<") {
                try interp.evaluate(source: text, name: name)
            } else {
                try interp.run(path: name)
            }
        } catch {
            let code = report(error)
            if !interp.options.continueOnError { return code }
            if first == .success { first = code }
        }
    }
    return first
}

func runSources(_ sources: [(String, String)], _ settings: RunSettings) -> MBGExit {
    let output = TerminalOutput(json: settings.common.json)
    output.quiet = settings.common.quiet
    do {
        let interp = try makeInterpreter(settings, output: output)
        return evaluate(sources, interp)
    } catch {
        return report(error)
    }
}

func runREPL(_ settings: RunSettings) -> MBGExit {
    let output = TerminalOutput(json: settings.common.json)
    let interpreter: Interpreter
    do {
        interpreter = try makeInterpreter(settings, output: output)
    } catch {
        return report(error)
    }
    interpreter.options.continueOnError = true
    let backend = InterpreterBackend(interpreter: interpreter, settings: settings)
    let editor = LineEditor(historyPath: LineEditor.historyPath())
    let repl = REPL(backend: backend, reader: editor, output: Console.standardOutput, style: .forStandardOutput())
    return repl.run() == .finished ? .success : .scriptError
}

func makeMigrationEngine(_ context: MigrationEngineContext) -> any MigrationEngine {
    RunnerEngine(context)
}

func readCatalog(_ transport: any Transport, _ database: String?) throws -> Catalog {
    try readLiveCatalog(transport, database)
}

