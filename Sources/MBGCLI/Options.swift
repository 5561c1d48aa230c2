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

/// What a command run needs to know, resolved from options and environment.
struct RunSettings {
    var common: CommonOptions
    var mode: ServerMode

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
