import ArgumentParser
import Foundation
import MBG

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "ClickHouse URL (also MBG_URL; default http://localhost:8123).")
    var url: String?

    @Option(help: "ClickHouse user.")
    var user: String?

    @Option(name: .customLong("password-env"), help: "Name of the environment variable holding the password (default MBG_PASSWORD). Never pass a password itself.")
    var passwordEnv: String?

    @Option(help: "Database for unqualified names.")
    var database: String?

    @Option(help: "Start (if needed) the project's local ClickHouse engine with its data in DIR and use it.")
    var local: String?

    @Flag(name: .customLong("dry-run"), help: "Reach no server: print the SQL that would run.")
    var dryRun = false

    @Flag(help: "Run destructive actions (cutover, rollback, finish) without asking.")
    var yes = false

    @Flag(help: "Machine-readable output.")
    var json = false

    @Flag(help: "Print only results and errors: no info or progress lines.")
    var quiet = false

    @Flag(name: .customLong("continue-on-error"), help: "Go on after a failing statement.")
    var continueOnError = false

    @Option(help: "Plan against a catalog dumped by `mbg dump` instead of a server.")
    var catalog: String?
}

/// Options of the commands that run migrations (`mbg run`, `mbg -c`, stdin, the REPL).
struct LockWaitOptions: ParsableArguments {
    @Flag(help: "When another run holds a migration's lock, wait until it is released instead of exiting 73.")
    var wait = false

    @Option(name: .customLong("wait-timeout"), help: "With --wait: give up (exit 73) after DURATION, e.g. 90s, 5m, 1h (default: no limit). Implies --wait.")
    var waitTimeout: String?

    /// nil: do not wait; infinity: no limit.
    func seconds() throws -> Double? {
        guard let text = waitTimeout else { return wait ? .infinity : nil }
        guard let s = parseDuration(text) else {
            throw CLIError.usage("--wait-timeout '\(text)' is not a duration like 90s, 5m or 1h")
        }
        return s
    }
}

/// `90`, `90s`, `5m`, `1h` in seconds; nil when it is none of these.
func parseDuration(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, factor) in units where t.hasSuffix(suffix) {
        guard let n = Double(t.dropLast(suffix.count)), n >= 0, n.isFinite else { return nil }
        return n * factor
    }
    guard let n = Double(t), n >= 0, n.isFinite else { return nil }
    return n
}

/// What a command run needs to know, resolved from options and environment.
struct RunSettings {
    var common: CommonOptions
    var mode: ServerMode
    /// How long to wait for another run's migration lock (`--wait`); nil: exit 73 at once.
    var lockWait: Double? = nil

    func connection() throws -> ConnectionOptions {
        let env = ProcessInfo.processInfo.environment
        var urlText = common.url ?? env["MBG_URL"] ?? "http://localhost:8123"
        if let dir = common.local { urlText = try LocalEngine.ensureRunning(dataDir: dir) }
        guard let url = URL(string: urlText), url.scheme != nil, url.host != nil || url.scheme == "dry-run" else {
            throw CLIError.usage("--url '\(redactedText(urlText))' is not a URL like http://localhost:8123")
        }
        var password: String?
        if let name = common.passwordEnv {
            guard let p = env[name] else { throw CLIError.usage("--password-env \(name): the variable is not set") }
            password = p
        } else {
            password = env["MBG_PASSWORD"]
        }
        // A password written into the URL is taken, but never shown again.
        if password == nil, let p = URLComponents(url: url, resolvingAgainstBaseURL: false)?.password {
            password = p
        }
        let user = common.user ?? env["MBG_USER"] ?? URLComponents(url: url, resolvingAgainstBaseURL: false)?.user
        return ConnectionOptions(url: url, user: user, password: password, database: common.database ?? env["MBG_DATABASE"])
    }
}

/// A URL-ish text with anything between `//` and `@` removed.
func redactedText(_ text: String) -> String {
    text.replacingOccurrences(of: "//[^/@]*@", with: "//", options: .regularExpression)
}

enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self {
        case .usage(let m): m
        }
    }
}
