/// One column of a table.
public struct ColumnDef: Sendable, Hashable, Codable {
    public var name: String
    /// ClickHouse type text, e.g. `LowCardinality(String)`.
    public var type: String
    /// Part of the primary key (and, without `order_by`, of the sorting key).
    public var isKey: Bool
    /// SQL of the DEFAULT expression.
    public var defaultExpression: String?
    /// SQL inside CODEC(…).
    public var codec: String?
    /// `MATERIALIZED`, `ALIAS` or `EPHEMERAL` when `defaultExpression` is not a
    /// plain DEFAULT; nil for DEFAULT. Such columns are left out of `SELECT *`.
    /// An `EPHEMERAL` column may have no expression. See `kind` for the enum.
    public var defaultKind: String?
    /// Text of COMMENT (the value, not the SQL literal).
    public var comment: String?
    /// SQL of the column's TTL expression.
    public var ttl: String?

    public init(
        name: String, type: String, isKey: Bool = false, defaultExpression: String? = nil,
        codec: String? = nil, defaultKind: String? = nil, comment: String? = nil, ttl: String? = nil
    ) {
        self.name = name
        self.type = type
        self.isKey = isKey
        self.defaultExpression = defaultExpression
        self.codec = codec
        self.defaultKind = defaultKind
        self.comment = comment
        self.ttl = ttl
    }

    /// How the column gets its value. Stored as text in `defaultKind` so that
    /// saved plans and catalogs stay readable; this is the checked view of it.
    public var kind: ColumnKind {
        get {
            switch defaultKind?.uppercased() {
            case "MATERIALIZED"?: return .materialized
            case "ALIAS"?: return .alias
            case "EPHEMERAL"?: return .ephemeral
            default: return defaultExpression == nil ? .ordinary : .defaulted
            }
        }
        set {
            switch newValue {
            case .ordinary, .defaulted: defaultKind = nil
            case .materialized, .alias, .ephemeral: defaultKind = newValue.rawValue
            }
        }
    }

    /// Whether an INSERT can write the column (ALIAS and MATERIALIZED are computed).
    public var isInsertable: Bool { kind != .materialized && kind != .alias }
    /// Whether the column holds data on disk (ALIAS and EPHEMERAL do not).
    public var isStored: Bool { kind != .alias && kind != .ephemeral }
}

/// The ways a column gets its value.
public enum ColumnKind: String, Sendable, Hashable, Codable {
    /// Written by inserts; the type's default when left out.
    case ordinary = ""
    case defaulted = "DEFAULT"
    case materialized = "MATERIALIZED"
    case alias = "ALIAS"
    case ephemeral = "EPHEMERAL"
}

/// A data skipping index: `INDEX name expr TYPE type GRANULARITY n`.
public struct IndexDef: Sendable, Hashable, Codable {
    public var name: String
    /// SQL of the indexed expression.
    public var expression: String
    /// SQL of the index type: `minmax`, `bloom_filter(0.01)`, `set(100)`.
    public var type: String
    /// nil: the server's default (1).
    public var granularity: Int?
}

/// A projection: `PROJECTION name (SELECT …)`.
public struct ProjectionDef: Sendable, Hashable, Codable {
    public var name: String
    /// The SELECT inside the parentheses.
    public var query: String
}

/// A setting in a table's SETTINGS clause; the value is SQL text (`8192`, `'x'`).
public struct SettingDef: Sendable, Hashable, Codable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A table as declared in a script or read from the server's catalog.
public struct TableDef: Sendable, Hashable, Codable {
    /// Logical name (`events`).
    public var name: String
    public var version: Version?
    public var database: String?
    public var cluster: String?
    public var columns: [ColumnDef]
    /// SQL expressions of ORDER BY; nil means "the key columns", empty means `tuple()`.
    public var orderBy: [String]?
    public var primaryKey: [String]?
    /// SQL of PARTITION BY.
    public var partitionBy: String?
    /// Engine SQL: `MergeTree`, `ReplacingMergeTree(ver)`.
    public var engine: String
    public var ttl: String?
    public var settings: [SettingDef]
    /// SQL of SAMPLE BY.
    public var sampleBy: String?
    public var indexes: [IndexDef]
    public var projections: [ProjectionDef]
    /// Text of the table's COMMENT (the value, not the SQL literal).
    public var comment: String?
    /// `distributed [by EXPR]`: the sharding expression; the rows then live in
    /// `<physical>_local` and `<physical>` is a Distributed table over it.
    public var distributedBy: String? = nil

    public init(
        name: String, version: Version? = nil, database: String? = nil, cluster: String? = nil,
        columns: [ColumnDef] = [], orderBy: [String]? = nil, primaryKey: [String]? = nil,
        partitionBy: String? = nil, engine: String = "MergeTree", ttl: String? = nil,
        settings: [SettingDef] = [], sampleBy: String? = nil, indexes: [IndexDef] = [],
        projections: [ProjectionDef] = [], comment: String? = nil
    ) {
        self.name = name
        self.version = version
        self.database = database
        self.cluster = cluster
        self.columns = columns
        self.orderBy = orderBy
        self.primaryKey = primaryKey
        self.partitionBy = partitionBy
        self.engine = engine
        self.ttl = ttl
        self.settings = settings
        self.sampleBy = sampleBy
        self.indexes = indexes
        self.projections = projections
        self.comment = comment
    }

    /// The name of the table in ClickHouse: `events_0_1`.
    public var physicalName: String { MBG.physicalName(name, version) }

    /// ORDER BY expressions in effect: declared, else the key columns, else none (`tuple()`).
    public var effectiveOrderBy: [String] {
        if let orderBy { return orderBy }
        return columns.filter(\.isKey).map { quoteIdentifier($0.name) }
    }

    /// PRIMARY KEY expressions: declared, else key columns when they differ from ORDER BY.
    public var effectivePrimaryKey: [String]? {
        if let primaryKey { return primaryKey }
        let keys = columns.filter(\.isKey).map { quoteIdentifier($0.name) }
        if keys.isEmpty || keys == effectiveOrderBy { return nil }
        // A primary key must be a prefix of the sorting key; only then can it differ.
        if effectiveOrderBy.starts(with: keys) { return keys }
        return nil
    }

    public func column(named name: String) -> ColumnDef? { columns.first { $0.name == name } }

    /// `db`.`t` or `t`.
    public var qualifiedName: String { qualified(database, physicalName) }
}

/// A materialized view as declared.
public struct ViewDef: Sendable, Hashable, Codable {
    public var name: String
    public var database: String?
    /// Physical name of the target table.
    public var target: String
    public var targetDatabase: String?
    /// SELECT text with table values already rendered as quoted physical names.
    public var select: String
    /// Physical names of the tables the SELECT reads (created before, dropped after the view).
    public var sources: [String]
    public var cluster: String?

    public init(
        name: String, database: String? = nil, target: String, targetDatabase: String? = nil,
        select: String, sources: [String], cluster: String? = nil
    ) {
        self.name = name
        self.database = database
        self.target = target
        self.targetDatabase = targetDatabase
        self.select = select
        self.sources = sources
        self.cluster = cluster
    }

    public var qualifiedName: String { qualified(database, name) }
}

/// How rows that existed before the bridge are copied exactly once.
public enum BackfillStrategy: String, Sendable, Hashable, Codable {
    /// Bridge takes rows with `column >= T`, backfill rows with `column < T`.
    case cutoff
    /// Bridge takes rows inserted after a fence on block numbers or parts.
    case fence
}

/// How readers and writers move to the new version.
public enum CutoverMode: String, Sendable, Hashable, Codable {
    /// Consumers address versioned names; the bridge forwards until `finish`.
    case versioned
    /// The logical name is switched to the new data (EXCHANGE TABLES where possible).
    case swap
}

/// A declared migration of one table from one version to another.
public struct MigrationDef: Sendable, Hashable, Codable {
    /// The name `apply`/`status`/… use; defaults to the logical table name.
    public var name: String
    public var from: TableDef
    public var to: TableDef
    /// Name of the bridge view.
    public var bridge: String
    public var cutoffColumn: String?
    /// Lateness margin, seconds.
    public var lateness: Int = 0
    public var batch: Int?
    public var throttle: Int?
    /// Backfill slices copied at once; nil uses the runner's default.
    public var parallel: Int?
    /// SELECT used by bridge and backfill instead of `SELECT <columns> FROM old`.
    public var transform: String?
    /// Forced strategy; nil chooses automatically.
    public var strategy: BackfillStrategy?
    public var cutover: CutoverMode = .versioned
}

extension TableDef {
    /// Reads dumps written before indexes and projections were modelled.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name),
            version: try c.decodeIfPresent(Version.self, forKey: .version),
            database: try c.decodeIfPresent(String.self, forKey: .database),
            cluster: try c.decodeIfPresent(String.self, forKey: .cluster),
            columns: try c.decode([ColumnDef].self, forKey: .columns),
            orderBy: try c.decodeIfPresent([String].self, forKey: .orderBy),
            primaryKey: try c.decodeIfPresent([String].self, forKey: .primaryKey),
            partitionBy: try c.decodeIfPresent(String.self, forKey: .partitionBy),
            engine: try c.decode(String.self, forKey: .engine),
            ttl: try c.decodeIfPresent(String.self, forKey: .ttl),
            settings: try c.decodeIfPresent([SettingDef].self, forKey: .settings) ?? [],
            sampleBy: try c.decodeIfPresent(String.self, forKey: .sampleBy),
            indexes: try c.decodeIfPresent([IndexDef].self, forKey: .indexes) ?? [],
            projections: try c.decodeIfPresent([ProjectionDef].self, forKey: .projections) ?? [],
            comment: try c.decodeIfPresent(String.self, forKey: .comment))
    }
}
