/// Runs migrations on a server: what the interpreter asks of the execution
/// layer. Planning itself is not here: `Planner` is pure; the engine only
/// reads what planning needs beforehand and carries out what it decided.
public protocol MigrationEngine: AnyObject {
    /// What the state table records for a migration (read before planning).
    func recordedState(_ migration: String) throws -> MigrationState
    /// The server's clock, unix seconds (a new cutoff T is placed from it).
    func serverTime() throws -> Int
    /// `recordedState` of each migration and `serverTime`, as planning reads
    /// them; `stateTableExists`, when the caller knows it, saves asking.
    func planningState(_ migrations: [String], stateTableExists: Bool?) throws -> (recorded: [String: MigrationState], now: Int)
    func apply(_ m: MigrationDef, catalog: Catalog, cutover: Bool, takeOverLock: Bool) throws
    /// A readable report; throws when old and new differ.
    func verify(_ m: MigrationDef) throws -> String
    /// One line per migration: phase, progress, ETA.
    func status(_ m: MigrationDef?) throws -> [String]
    func cutover(_ m: MigrationDef) throws
    func rollback(_ m: MigrationDef) throws
    func finish(_ m: MigrationDef, keepOld: Bool) throws
}

extension MigrationEngine {
    public func planningState(_ migrations: [String], stateTableExists: Bool?) throws -> (recorded: [String: MigrationState], now: Int) {
        var recorded: [String: MigrationState] = [:]
        for m in migrations { recorded[m] = try recordedState(m) }
        return (recorded, try serverTime())
    }
}

/// What an engine is made from.
public struct MigrationEngineContext {
    public var transport: any Transport
    public var capabilities: Capabilities
    public var database: String
    public var reporter: any ProgressReporter
    public init(
        transport: any Transport, capabilities: Capabilities, database: String,
        reporter: any ProgressReporter
    ) {
        self.transport = transport
        self.capabilities = capabilities
        self.database = database
        self.reporter = reporter
    }
}
