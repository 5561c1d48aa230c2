/// Clusters: the topology a server reports, and the pure rules that turn a
/// clustered declaration into tables (names, Replicated arguments, Distributed).

/// One server of a cluster, as `system.clusters` lists it.
public struct ClusterHost: Sendable, Hashable, Codable {
    public var hostName: String
    public var hostAddress: String
    /// The native (TCP) port; the HTTP port is not in `system.clusters`.
    public var port: Int
    public var shard: Int
    public var replica: Int

    /// `host:port`, what `remote()` takes.
    public var endpoint: String { "\(hostName):\(port)" }
    /// How errors name a host: `127.0.0.1:19132 (shard 1, replica 2)`.
    public var label: String { "\(endpoint) (shard \(shard), replica \(replica))" }
}

/// A cluster of `system.clusters`.
public struct ClusterInfo: Sendable, Hashable, Codable {
    public var name: String
    public var hosts: [ClusterHost]

    public init(name: String, hosts: [ClusterHost]) {
        self.name = name
        self.hosts = hosts
    }

    /// Shard numbers, ascending.
    public var shards: [Int] { Array(Set(hosts.map(\.shard))).sorted() }
    public func hosts(shard: Int) -> [ClusterHost] { hosts.filter { $0.shard == shard }.sorted { $0.replica < $1.replica } }
}

/// What a server knows about clusters: carried in the catalog, so `mbg dump`
/// and `--catalog` plan with the same topology as a live server.
public struct ServerTopology: Sendable, Hashable, Codable {
    public var clusters: [ClusterInfo]
    /// `system.macros` of the server the catalog was read from.
    public var macros: [String: String]
    /// The server has a ZooKeeper (`system.zookeeper` exists): Replicated tables can be created.
    public var zooKeeper: Bool

    public init(clusters: [ClusterInfo] = [], macros: [String: String] = [:], zooKeeper: Bool = false) {
        self.clusters = clusters
        self.macros = macros
        self.zooKeeper = zooKeeper
    }

    public func cluster(_ name: String) -> ClusterInfo? { clusters.first { $0.name == name } }
}

/// The sharding expression `distributed` uses when none is given.
public let defaultShardingKey = "rand()"

extension TableDef {
    /// The table holding the rows: `events_0_1_local` behind a Distributed
    /// table, else the physical name itself.
    public var dataName: String { distributedBy == nil ? physicalName : physicalName + "_local" }

    /// `ReplicatedMergeTree`, `ReplicatedReplacingMergeTree(ver)`, …
    public var isReplicated: Bool { engineName(engine).hasPrefix("Replicated") }

    /// The ZooKeeper path written by the user in the engine's arguments, if any.
    public var explicitReplicationPath: String? {
        guard isReplicated, let first = engineArguments(engine).first, first.hasPrefix("'") else { return nil }
        return first
    }
}

/// `ReplacingMergeTree` of `ReplacingMergeTree(ver)`.
func engineName(_ engine: String) -> String {
    let trimmed = engine.trimmingCharacters(in: .whitespaces)
    return String(trimmed.prefix { $0 != "(" && !$0.isWhitespace })
}

/// Top-level arguments of `Engine(a, f(b, c), 'x,y')`: `["a", "f(b, c)", "'x,y'"]`.
func engineArguments(_ engine: String) -> [String] {
    guard let open = engine.firstIndex(of: "("), let close = engine.lastIndex(of: ")"), open < close else { return [] }
    let inner = engine[engine.index(after: open)..<close]
    var args: [String] = []
    var current = ""
    var depth = 0
    var quote: Character?
    var escaped = false
    for ch in inner {
        if let q = quote {
            current.append(ch)
            if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == q { quote = nil }
            continue
        }
        switch ch {
        case "'", "`", "\"": quote = ch; current.append(ch)
        case "(", "[": depth += 1; current.append(ch)
        case ")", "]": depth -= 1; current.append(ch)
        case "," where depth == 0:
            args.append(current.trimmingCharacters(in: .whitespaces))
            current = ""
        default: current.append(ch)
        }
    }
    let last = current.trimmingCharacters(in: .whitespaces)
    if !last.isEmpty || !args.isEmpty { args.append(last) }
    return args
}

/// Where mbg puts a version's replicas in ZooKeeper.
public enum ReplicationPathStyle: Sendable, Hashable {
    /// `/clickhouse/tables/{shard}/<database>/<table>`: unique per physical
    /// name, readable; every server that has `{shard}` macros.
    case named
    /// `/clickhouse/tables/{uuid}/{shard}`: Atomic databases (20.x+); survives
    /// RENAME without ever matching another table's path.
    case uuid
}

/// A `Replicated*` engine written without arguments gets a ZooKeeper path
/// unique to the version and `'{replica}'`, then its own arguments
/// (`ReplicatedReplacingMergeTree(ver)` → `(…path…, '{replica}', ver)`).
/// Engines that are not Replicated, or that name their path, are kept as written.
public func replicatedEngine(
    _ engine: String, database: String, table: String, style: ReplicationPathStyle = .named
) -> String {
    let name = engineName(engine)
    guard name.hasPrefix("Replicated") else { return engine }
    let args = engineArguments(engine)
    if let first = args.first, first.hasPrefix("'") { return engine }
    let path: String
    switch style {
    case .named: path = "/clickhouse/tables/{shard}/\(database.isEmpty ? "{database}" : database)/\(table)"
    case .uuid: path = "/clickhouse/tables/{uuid}/{shard}"
    }
    return "\(name)(" + ([quoteString(path), "'{replica}'"] + args).joined(separator: ", ") + ")"
}

/// The same engine without replication, for stage tables: a stage is one
/// node's scratch space and must never join a version's replication group.
public func unreplicatedEngine(_ engine: String) -> String {
    let name = engineName(engine)
    guard name.hasPrefix("Replicated") else { return engine }
    var args = engineArguments(engine)
    if let first = args.first, first.hasPrefix("'") { args.removeFirst(min(2, args.count)) }
    let plain = String(name.dropFirst("Replicated".count))
    return args.isEmpty ? plain : "\(plain)(\(args.joined(separator: ", ")))"
}

/// Column names a SQL expression mentions that the table does not have
/// (identifiers not followed by `(`; quoted strings skipped). Good enough for
/// sharding keys, which are short expressions over columns.
func unknownIdentifiers(in expression: String, columns: [String]) -> [String] {
    let known = Set(columns)
    var unknown: [String] = []
    let chars = Array(expression)
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if c == "'" {
            i += 1
            while i < chars.count && chars[i] != "'" { i += chars[i] == "\\" ? 2 : 1 }
            i += 1
            continue
        }
        if c == "`" {
            var j = i + 1
            while j < chars.count && chars[j] != "`" { j += 1 }
            let name = String(chars[(i + 1)..<min(j, chars.count)])
            if !known.contains(name) { unknown.append(name) }
            i = j + 1
            continue
        }
        if c.isLetter || c == "_" {
            var j = i
            while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
            let word = String(chars[i..<j])
            var k = j
            while k < chars.count && chars[k] == " " { k += 1 }
            let isCall = k < chars.count && chars[k] == "("
            if !isCall && !known.contains(word) && !["AND", "OR", "NOT", "NULL"].contains(word.uppercased()) {
                unknown.append(word)
            }
            i = j
            continue
        }
        if c.isNumber {
            while i < chars.count && (chars[i].isNumber || chars[i].isLetter || chars[i] == ".") { i += 1 }
            continue
        }
        i += 1
    }
    return unknown
}

/// The statements that create a clustered (or plain) table: the data table
/// (Replicated arguments filled in, ON CLUSTER), then the Distributed table in
/// front of it when the declaration says `distributed`.
public func createTableStatements(
    _ t: TableDef, database: String?, capabilities: Capabilities, ifNotExists: Bool = true
) -> [String] {
    var data = t
    let db = t.database ?? database
    if t.cluster != nil || t.distributedBy != nil { data.database = db.flatMap { $0.isEmpty ? nil : $0 } }
    data.engine = replicatedEngine(
        t.engine, database: data.database ?? "", table: t.dataName,
        style: capabilities.atomicDatabase ? .uuid : .named)
    guard let sharding = t.distributedBy else {
        return [createTableSQL(data, ifNotExists: ifNotExists)]
    }
    let local = createTableSQL(data, ifNotExists: ifNotExists, name: t.dataName)
    return [local, createDistributedSQL(t, database: data.database, ifNotExists: ifNotExists, sharding: sharding)]
}

/// `CREATE TABLE events_0_1 ON CLUSTER c AS events_0_1_local ENGINE = Distributed(c, db, events_0_1_local, key)`.
func createDistributedSQL(_ t: TableDef, database: String?, ifNotExists: Bool, sharding: String) -> String {
    let cluster = t.cluster ?? ""
    // Without a known database (dry-run), the server's current one.
    let dbArgument = database.map(quoteString) ?? "currentDatabase()"
    return "CREATE TABLE \(ifNotExists ? "IF NOT EXISTS " : "")\(qualified(database, t.physicalName))\(onCluster(t.cluster)) AS \(qualified(database, t.dataName))\n"
        + "ENGINE = Distributed(\(quoteString(cluster)), \(dbArgument), \(quoteString(t.dataName)), \(sharding))"
}
