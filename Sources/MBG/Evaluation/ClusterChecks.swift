/// Checks of clustered declarations against the server's topology (from the
/// live catalog or a dumped one): made before planning, so nothing is created
/// when a cluster is unknown or Replicated tables cannot exist.
extension Interpreter {
    func checkClusters(_ catalog: Catalog, _ fallback: SourceLocation) throws {
        guard let topology = catalog.topology else { return }
        let tables = session.tables + session.migrations.flatMap { [$0.from, $0.to] }
        var diagnostics: [Diagnostic] = []
        var seen = Set<String>()
        for t in tables where seen.insert(t.physicalName).inserted {
            let at = declarationSites[t.physicalName] ?? fallback
            if let name = t.cluster, topology.cluster(name) == nil {
                let known = topology.clusters.map(\.name)
                var hint = known.isEmpty ? "the server defines no cluster (remote_servers)" : "the server's clusters: " + known.joined(separator: ", ")
                if let near = nearest(name, among: known) { hint = "did you mean '\(near)'? " + hint }
                diagnostics.append(Diagnostic(.check, "unknown cluster '\(name)' in table \(t.physicalName)", at: at, hint: hint))
            }
            if t.isReplicated && !topology.zooKeeper {
                diagnostics.append(Diagnostic(
                    .check, "\(t.physicalName) uses \(engineName(t.engine)), but the server has no ZooKeeper", at: at,
                    hint: "configure <zookeeper> on every node, or use the engine without Replicated"))
            }
        }
        if diagnostics.count == 1 { throw diagnostics[0] }
        if !diagnostics.isEmpty { throw DiagnosticList(diagnostics) }
    }
}

extension Interpreter {
    /// Before a clustered table is created: every host of its cluster must
    /// answer (exit 69 naming the first that does not), and a Distributed
    /// Replicated table needs internal_replication on every shard.
    func preflightClusters(_ plan: Plan, _ location: SourceLocation) throws {
        let pending = Set(plan.steps.filter { $0.migration == nil && $0.kind == .createTable && $0.status == .pending }.map(\.target))
        let tables = session.tables.filter { pending.contains($0.physicalName) && $0.cluster != nil }
        guard !tables.isEmpty else { return }
        let transport = try requireTransport(location)
        let database = try currentCatalog(at: location).database
        var checked = Set<String>()
        for t in tables {
            guard let name = t.cluster, checked.insert(name).inserted else { continue }
            try wrap(location) {
                let nodes = try ClusterNodes(connected: transport, cluster: name)
                let risky = tables.contains { $0.cluster == name && $0.distributedBy != nil && $0.isReplicated }
                if risky {
                    let off = try ClusterReader(transport: ClusterDDLTransport(transport)).shardsWithoutInternalReplication(nodes.info, database: database)
                    if !off.isEmpty { throw ClusterError.internalReplicationOff(cluster: name, shards: off) }
                }
            }
        }
    }
}

extension Interpreter {
    /// A clustered table that exists on the connected node as declared may
    /// still be missing on another node (dropped there, or a host added to the
    /// cluster later), or be different there (altered on that node only): the
    /// plan sees one node, so every host is asked here. One warning line per
    /// table and node, naming shard and replica.
    func clusterNodeDrift(_ plan: Plan, _ location: SourceLocation) throws -> [String] {
        let existing = Set(plan.steps.filter { $0.migration == nil && $0.kind == .createTable && $0.status == .done }.map(\.target))
        let tables = session.tables.filter { existing.contains($0.physicalName) && $0.cluster != nil }
        guard !tables.isEmpty else { return [] }
        let transport = try requireTransport(location)
        let database = try currentCatalog(at: location).database
        var out: [String] = []
        for name in Set(tables.compactMap(\.cluster)).sorted() {
            try wrap(location) {
                let nodes = try ClusterNodes(connected: transport, cluster: name)
                for t in tables where t.cluster == name {
                    let db = t.database ?? database
                    let names = t.distributedBy == nil ? [t.physicalName] : [t.dataName, t.physicalName]
                    var definitions: [ClusterHost: [String: String]] = [:]
                    for host in nodes.info.hosts {
                        var found: [String: String] = [:]
                        for row in try nodes.transport(host).run(CatalogQueries.tableDefinitions(db, names)).rows where row.count >= 2 {
                            if let n = row[0] { found[n] = row[1] ?? "" }
                        }
                        definitions[host] = found
                    }
                    // The connected node's tables are the ones the plan found as declared.
                    let reference = definitions[nodes.connected] ?? [:]
                    for host in nodes.info.hosts {
                        let found = definitions[host] ?? [:]
                        for n in names {
                            guard let here = found[n] else {
                                out.append("drift: \(n) is missing on \(nodes.describe(host)) of cluster \(name); it exists on the other nodes")
                                continue
                            }
                            if let mine = reference[n], mine != here {
                                out.append("drift: \(n) on \(nodes.describe(host)) of cluster \(name) differs from \(nodes.describe(nodes.connected)), the node mbg is connected to: \(firstDifference(here, mine))")
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Where two CREATE statements part: `… ADD x UInt8 …` against `… )`, about 60 characters of each.
func firstDifference(_ a: String, _ b: String) -> String {
    let common = zip(a, b).prefix { $0 == $1 }.count
    func around(_ s: String) -> String {
        let start = s.index(s.startIndex, offsetBy: max(0, common - 20))
        let tail = s[start...]
        return (start > s.startIndex ? "…" : "") + String(tail.prefix(60)) + (tail.count > 60 ? "…" : "")
    }
    return "`\(around(a))` there, `\(around(b))` here"
}
