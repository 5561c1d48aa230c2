import Foundation

/// How the interpreter reaches (or does not reach) ClickHouse.
public enum ServerMode: Sendable {
    /// Statements go to the transport; the catalog is read live.
    case live
    /// Nothing reaches a server: the steps of acting statements are sent to a
    /// transport that records them (and prints them); the server is taken to
    /// hold exactly the source versions of the script's migrations, or what a
    /// `fixedCatalog` says.
    case dryRun
    /// Parse and check only: actions are skipped.
    case checkOnly
}

public struct InterpreterOptions {
    public var mode: ServerMode
    public var transport: (any Transport)?
    /// Reads the live catalog (the CLI passes the HTTP catalog reader).
    public var catalogLoader: ((any Transport, String?) throws -> Catalog)?
    /// A catalog read from a file (`--catalog`): planning uses it instead of a server.
    public var fixedCatalog: Catalog?
    public var database: String?
    /// Folders searched by `import "name"`.
    public var stdlibPaths: [String]
    /// Destructive actions (cutover, rollback, finish) run without asking.
    public var assumeYes: Bool
    /// Asks the user; nil when there is no terminal.
    public var confirm: ((String) -> Bool)?
    /// Makes the engine that plans and runs migrations; the default is the real one
    /// (`RunnerEngine`, over `transport`). Nil leaves migrations unplannable.
    public var makeMigrationEngine: ((MigrationEngineContext) -> any MigrationEngine)?
    public var reporter: any ProgressReporter
    /// Stop at the first failing statement (scripts) or go on.
    public var continueOnError: Bool
    /// Planning a pipeline: statements that change the server (`apply`, `cutover`,
    /// `rollback`, `finish`, `sql`) and `plan` itself are skipped; the caller plans once at the end.
    public var planOnly: Bool = false

    public init(
        mode: ServerMode = .checkOnly, transport: (any Transport)? = nil,
        catalogLoader: ((any Transport, String?) throws -> Catalog)? = nil,
        fixedCatalog: Catalog? = nil, database: String? = nil, stdlibPaths: [String] = [],
        assumeYes: Bool = false, confirm: ((String) -> Bool)? = nil,
        makeMigrationEngine: ((MigrationEngineContext) -> any MigrationEngine)? = { RunnerEngine($0) },
        reporter: any ProgressReporter = CollectingReporter(), continueOnError: Bool = false
    ) {
        self.mode = mode
        self.transport = transport
        self.catalogLoader = catalogLoader
        self.fixedCatalog = fixedCatalog
        self.database = database
        self.stdlibPaths = stdlibPaths
        self.assumeYes = assumeYes
        self.confirm = confirm
        self.makeMigrationEngine = makeMigrationEngine
        self.reporter = reporter
        self.continueOnError = continueOnError
    }
}

/// Where the catalog that planning reads comes from.
enum CatalogSource {
    /// None: `check` reads nothing, so derived versions cannot see the server.
    case none
    /// The script itself: the source versions of its migrations (dry-run).
    case script
    /// A snapshot (`--catalog`, a dumped catalog).
    case snapshot(Catalog)
    /// The live server, through the transport.
    case server
}

/// What happens to the steps of acting statements (`apply`, `cutover`, `sql`, …).
enum StepExecution {
    /// Nothing runs: checking, or planning a pipeline (the caller plans once at the end).
    case none
    /// Sent, in plan order, to a transport that records them: dry-run.
    case record
    /// Carried out on the server by the migration engine.
    case run
}

extension InterpreterOptions {
    // The one place where mode, plan-only and a fixed catalog are turned into
    // what the interpreter reads and does; nothing else consults them.

    var catalogSource: CatalogSource {
        if let fixedCatalog { return .snapshot(fixedCatalog) }
        switch mode {
        case .live: return .server
        case .dryRun: return .script
        case .checkOnly: return .none
        }
    }

    var stepExecution: StepExecution {
        if planOnly { return .none }
        switch mode {
        case .live: return .run
        case .dryRun: return .record
        case .checkOnly: return .none
        }
    }

    /// Whether a live or dumped catalog can be read (derived versions, `table vX` references).
    var readsCatalog: Bool {
        switch catalogSource {
        case .server, .snapshot: true
        case .none, .script: false
        }
    }
}
