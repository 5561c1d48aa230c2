/// What a server can do, detected once per connection; the planner consults it.
public struct Capabilities: Sendable, Hashable, Codable {
    /// Server version, e.g. `26.9.2.1`.
    public var version: String
    /// `EXCHANGE TABLES a AND b` (Atomic databases, 20.x+).
    public var exchangeTables: Bool
    /// `_block_number` virtual column.
    public var blockNumber: Bool
    /// `DROP VIEW` is understood (else `DROP TABLE` for views).
    public var dropView: Bool
    /// The working database uses the Atomic engine.
    public var atomicDatabase: Bool
    /// `SETTINGS mutations_sync`, `param_x`, EXCEPT and friends (modern servers).
    public var modernSQL: Bool

    public init(
        version: String, exchangeTables: Bool, blockNumber: Bool, dropView: Bool,
        atomicDatabase: Bool, modernSQL: Bool
    ) {
        self.version = version
        self.exchangeTables = exchangeTables
        self.blockNumber = blockNumber
        self.dropView = dropView
        self.atomicDatabase = atomicDatabase
        self.modernSQL = modernSQL
    }

    /// What a current server (26.x, Atomic database) can do.
    public static let modern = Capabilities(
        version: "26.9", exchangeTables: true, blockNumber: true, dropView: true,
        atomicDatabase: true, modernSQL: true)

    /// Derives capabilities from a version string and the database engine name.
    public static func detect(version: String, databaseEngine: String) -> Capabilities {
        let major = Int(version.split(separator: ".").first ?? "") ?? 0
        let minor = Int(version.split(separator: ".").dropFirst().first ?? "") ?? 0
        let atomic = databaseEngine == "Atomic"
        return Capabilities(
            version: version,
            exchangeTables: atomic && major >= 21,
            blockNumber: major > 23 || (major == 23 && minor >= 8),
            dropView: major >= 19,
            atomicDatabase: atomic,
            modernSQL: major >= 21)
    }
}

/// One partition of a live table.
public struct PartitionInfo: Sendable, Hashable, Codable {
    public var partitionID: String
    public var rows: Int
    public var parts: Int
    public var maxBlockNumber: Int
}

/// A table or view as it exists on the server.
public struct CatalogTable: Sendable, Hashable, Codable {
    public var database: String
    /// Physical name (`events_0_1`).
    public var name: String
    public var engine: String
    public var engineFull: String
    /// The same model a script declares; `name`/`version` split from the physical name.
    public var definition: TableDef
    public var createQuery: String
    /// For materialized views: the target table (`db.t`), if it has one.
    public var viewTarget: String?
    /// Tables whose inserts trigger this table's dependent views.
    public var dependentViews: [String]
    public var totalRows: Int
    public var partitions: [PartitionInfo]

    public init(
        database: String, name: String, engine: String, engineFull: String,
        definition: TableDef, createQuery: String, viewTarget: String? = nil,
        dependentViews: [String] = [], totalRows: Int = 0, partitions: [PartitionInfo] = []
    ) {
        self.database = database
        self.name = name
        self.engine = engine
        self.engineFull = engineFull
        self.definition = definition
        self.createQuery = createQuery
        self.viewTarget = viewTarget
        self.dependentViews = dependentViews
        self.totalRows = totalRows
        self.partitions = partitions
    }

    public var isMaterializedView: Bool { engine == "MaterializedView" }
    public var isView: Bool { engine == "View" || engine == "MaterializedView" }
}

/// A snapshot of the server's catalog: what planning reads. Comes from a live
/// server, from a dumped file (`mbg dump`), or, in dry-run, from the script itself.
public struct Catalog: Sendable, Hashable, Codable {
    /// Bumped when the dump format changes.
    public var formatVersion: Int = 1
    public var capabilities: Capabilities
    /// The database unqualified names resolve in.
    public var database: String
    public var tables: [CatalogTable] {
        didSet { (index, viewPositions) = Catalog.makeIndex(tables) }
    }
    /// Clusters, macros and ZooKeeper of the server (absent in dumps made before clusters).
    public var topology: ServerTopology?
    /// `database.name` → position in `tables`, so lookups stay cheap in big catalogs.
    private var index: [String: Int] = [:]
    /// Positions of the views in `tables`: planning asks, per migration, which views read a table.
    private(set) var viewPositions: [Int] = []

    enum CodingKeys: String, CodingKey {
        case formatVersion, capabilities, database, tables, topology
    }

    public init(capabilities: Capabilities, database: String, tables: [CatalogTable]) {
        self.capabilities = capabilities
        self.database = database
        self.tables = tables
        (self.index, self.viewPositions) = Catalog.makeIndex(tables)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        capabilities = try c.decode(Capabilities.self, forKey: .capabilities)
        database = try c.decode(String.self, forKey: .database)
        tables = try c.decode([CatalogTable].self, forKey: .tables)
        topology = try c.decodeIfPresent(ServerTopology.self, forKey: .topology)
        (index, viewPositions) = Catalog.makeIndex(tables)
    }

    static func makeIndex(_ tables: [CatalogTable]) -> ([String: Int], [Int]) {
        var index: [String: Int] = [:]
        var views: [Int] = []
        for (i, t) in tables.enumerated() {
            if index["\(t.database).\(t.name)"] == nil { index["\(t.database).\(t.name)"] = i }
            if t.isView { views.append(i) }
        }
        return (index, views)
    }

    public func table(_ name: String, database: String? = nil) -> CatalogTable? {
        let db = database ?? self.database
        return index["\(db).\(name)"].map { tables[$0] }
    }

    /// Versions of a logical table present on the server, lowest first.
    /// An unversioned table of the same name counts as the lowest.
    public func versions(of logical: String, database: String? = nil) -> [CatalogTable] {
        let db = database ?? self.database
        let matching = tables.filter { t in
            t.database == db && !t.isView
                && (t.name == logical || splitPhysicalName(t.name)?.logical == logical)
        }
        return matching.sorted { a, b in
            let va = splitPhysicalName(a.name).flatMap { $0.logical == logical ? $0.version : nil }
            let vb = splitPhysicalName(b.name).flatMap { $0.logical == logical ? $0.version : nil }
            switch (va, vb) {
            case (nil, nil): return a.name < b.name
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?): return x < y
            }
        }
    }
}
