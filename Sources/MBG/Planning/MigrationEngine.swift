/// What the interpreter needs from the migration machinery. The real engine
/// talks to ClickHouse; tests may substitute their own.
public protocol MigrationEngine: AnyObject {
    func plan(_ m: MigrationDef, catalog: Catalog) throws -> [PlanStep]
    func apply(_ m: MigrationDef, catalog: Catalog, cutover: Bool, takeOverLock: Bool) throws
    /// A readable report; throws when old and new differ.
    func verify(_ m: MigrationDef) throws -> String
    /// One line per migration: phase, progress, ETA.
    func status(_ m: MigrationDef?) throws -> [String]
    func cutover(_ m: MigrationDef) throws
    func rollback(_ m: MigrationDef) throws
    func finish(_ m: MigrationDef, keepOld: Bool) throws
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
