/// The one way tables and migrations are declared. The `table` and `migrate`
/// statements and the `derive()` and `migration()` builtins both turn what
/// they were given into changes and call these functions, so both get the
/// same defaults and the same checks; only where an error points differs.

/// An `order_by`/`primary_key`/`partition_by` item: a column (checked against
/// the table) or SQL text.
enum KeyExpr: Equatable {
    case column(String)
    case sql(String)

    var sql: String {
        switch self {
        case .column(let name): quoteIdentifier(name)
        case .sql(let text): text
        }
    }
}

/// One change a new version makes to the version it derives from.
enum TableChange {
    case orderBy([KeyExpr])
    case primaryKey([KeyExpr])
    case partitionBy(KeyExpr)
    case engine(String)
    case ttl(String)
    case settings([SettingDef])
    case database(String)
    case cluster(String)
    /// The sharding expression of `distributed`.
    case distributed(String)
    case retype(column: String, type: String)
    case rename(column: String, to: String)
    /// nil: no sampling.
    case sampleBy(KeyExpr?)
    /// nil: no comment.
    case comment(String?)
    /// A skip index by name (replacing one of that name).
    case index(name: String, expression: KeyExpr, type: String, granularity: Int?)
    /// Drops an index the base has.
    case dropIndex(String)
    /// A projection by name; nil drops one the base has.
    case projection(name: String, ProjectionDef?)
}

/// One option of a migration, evaluated.
enum MigrationChange {
    case via(String)
    case cutoff(column: String, lateness: Int?)
    case lateness(Int)
    case batch(Int)
    case throttle(Int)
    case parallel(Int)
    case transform(String)
    case strategy(String)
    case cutover(String)
    case name(String)
}

/// Why a declaration was refused. `change` is the index of the change at
/// fault (nil: the declaration as a whole), so a statement can point at its
/// clause and a builtin at its call.
struct DeclarationError: Error {
    var message: String
    var hint: String?
    var change: Int?
    /// For unknown columns in a key: which item.
    var keyItem: Int?

    init(_ message: String, hint: String? = nil, change: Int? = nil, keyItem: Int? = nil) {
        self.message = message
        self.hint = hint
        self.change = change
        self.keyItem = keyItem
    }
}

/// A version of `name`: `base` (or a new table) with `columns` (a body, when
/// given) and `changes` applied in order.
/// `columnsKnown` is false when the base lives on a server that was not read
/// (`check`): column names cannot be checked then.
/// `dropSampling` is how the hint spells dropping SAMPLE BY.
func declareVersion(
    name: String, version: Version?, base: TableDef?, columns: [ColumnDef]?, changes: [TableChange],
    columnsKnown: Bool = true, dropSampling: String = "`sample_by none`"
) throws(DeclarationError) -> TableDef {
    var table = base ?? TableDef(name: name)
    table.name = name
    table.version = version
    if let columns {
        table.columns = columns
        // Key columns order a new body unless order_by says otherwise.
        if base != nil, columns.contains(where: \.isKey) { table.orderBy = nil }
    }
    func checked(_ items: [KeyExpr], _ index: Int) throws(DeclarationError) -> [String] {
        if columnsKnown {
            for (k, item) in items.enumerated() {
                guard case .column(let c) = item, table.column(named: c) == nil else { continue }
                var hint = "columns of \(table.name): " + table.columns.map(\.name).joined(separator: ", ")
                if let near = nearest(c, among: table.columns.map(\.name)) { hint = "did you mean '\(near)'?" }
                throw DeclarationError("unknown column '\(c)' in table \(table.name)", hint: hint, change: index, keyItem: k)
            }
        }
        return items.map(\.sql)
    }
    var setPrimaryKey = false
    var distributedAt: Int?
    for (index, change) in changes.enumerated() {
        switch change {
        case .orderBy(let items): table.orderBy = try checked(items, index)
        case .primaryKey(let items):
            table.primaryKey = try checked(items, index)
            setPrimaryKey = true
        case .partitionBy(let item): table.partitionBy = try checked([item], index).first
        case .engine(let e): table.engine = e
        case .ttl(let t): table.ttl = t
        case .settings(let s): table.settings = s
        case .database(let d): table.database = d
        case .cluster(let c): table.cluster = c
        case .distributed(let key):
            if columnsKnown, let unknown = unknownIdentifiers(in: key, columns: table.columns.map(\.name)).first {
                throw DeclarationError(
                    "unknown column '\(unknown)' in the sharding key of \(table.name)",
                    hint: "columns of \(table.name): " + table.columns.map(\.name).joined(separator: ", "), change: index)
            }
            table.distributedBy = key
            distributedAt = index
        case .retype(let column, let type):
            guard let i = table.columns.firstIndex(where: { $0.name == column }) else {
                throw DeclarationError("retype: no column '\(column)' in \(base?.physicalName ?? name)", change: index)
            }
            table.columns[i].type = type
        case .rename(let old, let new):
            guard let i = table.columns.firstIndex(where: { $0.name == old }) else {
                throw DeclarationError("rename: no column '\(old)' in \(base?.physicalName ?? name)", change: index)
            }
            table.columns[i].name = new
            let q = quoteIdentifier(old)
            table.orderBy = table.orderBy?.map { $0 == q ? quoteIdentifier(new) : $0 }
            table.primaryKey = table.primaryKey?.map { $0 == q ? quoteIdentifier(new) : $0 }
            if table.partitionBy == q { table.partitionBy = quoteIdentifier(new) }
            if table.sampleBy == q { table.sampleBy = quoteIdentifier(new) }
        case .sampleBy(let item):
            if let item { table.sampleBy = try checked([item], index)[0] } else { table.sampleBy = nil }
        case .comment(let text): table.comment = text
        case .index(let indexName, let expression, let type, let granularity):
            table.indexes.removeAll { $0.name == indexName }
            let sql = try checked([expression], index)[0]
            table.indexes.append(IndexDef(name: indexName, expression: sql, type: type, granularity: granularity))
        case .dropIndex(let indexName):
            if base?.indexes.contains(where: { $0.name == indexName }) != true, columnsKnown {
                throw DeclarationError("table \(name) has no index \(indexName) to drop", change: index)
            }
            table.indexes.removeAll { $0.name == indexName }
        case .projection(let projectionName, let definition):
            table.projections.removeAll { $0.name == projectionName }
            guard let definition else {
                if base?.projections.contains(where: { $0.name == projectionName }) != true, columnsKnown {
                    throw DeclarationError("table \(name) has no projection \(projectionName) to drop", change: index)
                }
                continue
            }
            table.projections.append(definition)
        }
    }
    if table.distributedBy != nil && table.cluster == nil {
        throw DeclarationError(
            "distributed needs a cluster: the Distributed table spreads rows over the shards of one",
            hint: "add: cluster NAME (a cluster of the server's system.clusters)", change: distributedAt)
    }
    // Two versions in one replication group: the second fails to create
    // (Code 342) or, with equal metadata, silently joins the first's data.
    if let base, base.physicalName != table.physicalName, let path = table.explicitReplicationPath,
        path == base.explicitReplicationPath, !path.contains("{uuid}")
    {
        throw DeclarationError(
            "\(table.physicalName) would share the ZooKeeper path \(path) with \(base.physicalName)",
            hint: "write the engine without arguments (engine \(engineName(table.engine))) and mbg gives every version its own path, or give this version a path of its own")
    }
    // A derived version that changes the sorting key keeps the old primary key
    // only if it is still a prefix of the new order.
    if let pk = table.primaryKey, !table.effectiveOrderBy.starts(with: pk) {
        if setPrimaryKey {
            throw DeclarationError("the primary key must be a prefix of order_by (\(table.effectiveOrderBy.joined(separator: ", ")))")
        }
        if base != nil { table.primaryKey = nil }
    }
    // Features kept from the base must still fit: point at the change that
    // states the feature, else (SAMPLE BY) at the one that changed the key.
    if columnsKnown, let problem = featureProblems(table, base: base, dropSampling: dropSampling).first {
        let stated = changes.firstIndex { change in
            switch (change, problem.feature) {
            case (.sampleBy, .sampleBy): return true
            case (.index(let n, _, _, _), .index(let m)), (.dropIndex(let n), .index(let m)), (.projection(let n, _), .projection(let m)):
                return n == m
            default: return false
            }
        }
        let cause = changes.firstIndex { change in
            switch change {
            case .orderBy, .primaryKey: return true
            default: return false
            }
        }
        throw DeclarationError(problem.message, hint: problem.hint, change: stated ?? (problem.feature == .sampleBy ? cause : nil))
    }
    return table
}

/// A migration from `from` to `to` with `changes` applied. `bridgeView` finds a
/// declared view by name: a view with the bridge's name is the bridge.
func declareMigration(
    from: TableDef, to: TableDef, changes: [MigrationChange], bridgeView: (String) -> ViewDef?
) throws(DeclarationError) -> MigrationDef {
    let logical = to.name
    if from.physicalName == to.physicalName {
        if from.name == to.name, let v = to.version, from.version == v {
            throw DeclarationError("migrate \(logical): both sides are v\(v)", hint: "migrate to a different version")
        }
        throw DeclarationError("migrate \(logical): both sides are the same table")
    }
    var m = MigrationDef(name: logical, from: from, to: to, bridge: "mv_\(logical)_to_\(to.version?.suffix ?? to.physicalName)")
    for (index, change) in changes.enumerated() {
        switch change {
        case .via(let name): m.bridge = name
        case .cutoff(let column, let lateness):
            // Without a column list (a table read from a server not consulted), trust the name.
            guard let c = from.column(named: column) ?? (from.columns.isEmpty ? ColumnDef(name: column, type: "DateTime") : nil) else {
                throw DeclarationError("unknown column '\(column)' in \(from.physicalName)", hint: "cutoff needs a time column of the old table", change: index)
            }
            guard c.type.lowercased().contains("date") else {
                throw DeclarationError("cutoff column '\(column)' is \(c.type), not a date or time", hint: "use a DateTime column, or the fence strategy", change: index)
            }
            m.cutoffColumn = column
            if let lateness { m.lateness = lateness }
        case .lateness(let n):
            guard n >= 0 else { throw DeclarationError("lateness must not be negative, got \(n)", change: index) }
            m.lateness = n
        case .batch(let n):
            guard n > 0 else { throw DeclarationError("batch must be a positive integer, got \(n)", change: index) }
            m.batch = n
        case .throttle(let n):
            guard n > 0 else { throw DeclarationError("throttle must be a positive integer, got \(n)", change: index) }
            m.throttle = n
        case .parallel(let n):
            guard n > 0 else { throw DeclarationError("parallel must be a positive integer, got \(n)", change: index) }
            m.parallel = n
        case .transform(let sql): m.transform = sql
        case .strategy(let name):
            guard let s = BackfillStrategy(rawValue: name) else {
                throw DeclarationError("unknown strategy '\(name)'", hint: "strategies: cutoff, fence", change: index)
            }
            m.strategy = s
        case .cutover(let name):
            guard let c = CutoverMode(rawValue: name) else {
                throw DeclarationError("unknown cut-over mode '\(name)'", hint: "modes: versioned, swap", change: index)
            }
            m.cutover = c
            // Refused before anything is created, not at `cutover` after a whole backfill.
            if c == .swap, let cluster = to.cluster ?? from.cluster {
                throw DeclarationError(
                    "cutover swap is refused on cluster \(cluster): \(MigrationSQL.swapOnClusterReason)",
                    hint: "remove `cutover swap`: versioned cut-over moves consumers to \(to.physicalName), and the bridge keeps \(from.physicalName) current until finish",
                    change: index)
            }
        case .name(let name): m.name = name
        }
    }
    if let path = to.explicitReplicationPath, path == from.explicitReplicationPath, !path.contains("{uuid}") {
        throw DeclarationError(
            "\(to.physicalName) would share the ZooKeeper path \(path) with \(from.physicalName)",
            hint: "write the engine without arguments (engine \(engineName(to.engine))) and mbg gives every version its own path")
    }
    if m.strategy == .cutoff && m.cutoffColumn == nil {
        throw DeclarationError("strategy cutoff needs a time column", hint: "add: cutoff created_at lateness 5m")
    }
    // A declared view with the bridge's name is the bridge: its SELECT feeds the new table.
    if let view = bridgeView(m.bridge) {
        guard view.target == to.physicalName else {
            throw DeclarationError("view \(view.name) targets \(view.target), but the migration writes \(to.physicalName)")
        }
        if m.transform == nil && !isPlainCopy(view.select, from: from) { m.transform = view.select }
    }
    return m
}

/// `SELECT * FROM <old>`: no transform needed.
func isPlainCopy(_ select: String, from: TableDef) -> Bool {
    let words = select.split(whereSeparator: { $0.isWhitespace }).map(String.init)
    return words.count == 4 && words[0].uppercased() == "SELECT" && words[1] == "*" && words[2].uppercased() == "FROM"
        && (words[3] == from.qualifiedName || words[3] == quoteIdentifier(from.physicalName))
}
