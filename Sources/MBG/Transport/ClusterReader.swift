import Foundation

/// Why a cluster cannot be used.
package enum ClusterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A host of the cluster did not answer: nothing was changed.
    case hostDown(cluster: String, host: ClusterHost, reason: String)
    /// The cluster is not in `system.clusters` of the server.
    case unknownCluster(String, known: [String])
    /// Shards that send a Distributed insert to every replica.
    case internalReplicationOff(cluster: String, shards: [Int])
    /// mbg needs a connection it can open to every node (HTTP).
    case cannotReachNodes(String)
    /// An `ON CLUSTER` DDL that some hosts did not finish within
    /// `distributed_ddl_task_timeout`: `unfinished` names them (empty when the
    /// server's task could not be read; `count` is then what the server said).
    case ddlTimeout(cluster: String, statement: String, unfinished: [ClusterHost], count: Int, seconds: Int?, task: String?)

    package var description: String {
        switch self {
        case .hostDown(let c, let h, let reason):
            return "host \(h.label) of cluster \(c) did not answer (\(reason)); nothing was changed: start it (or remove it from the cluster) and run again"
        case .unknownCluster(let c, let known):
            return "cluster '\(c)' is not defined on the server; its clusters: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        case .internalReplicationOff(let c, let shards):
            return "cluster \(c) has internal_replication off on shard(s) \(shards.map(String.init).joined(separator: ", ")): "
                + "a Distributed insert is written to every replica there, and each replica's bridge would forward it, so Replicated tables would get rows twice; "
                + "set <internal_replication>true</internal_replication> for every shard of \(c) in remote_servers (and reload the config) before migrating"
        case .cannotReachNodes(let why): return why
        case .ddlTimeout(let c, let statement, let unfinished, let count, let seconds, let task):
            let hosts = unfinished.isEmpty
                ? "\(count) host(s) (the server did not say which)"
                : "host(s) " + unfinished.map(\.label).joined(separator: ", ")
            let waited = seconds.map { " (\($0) s)" } ?? ""
            return "\(statement) did not finish on \(hosts) of cluster \(c) within distributed_ddl_task_timeout\(waited); "
                + "the other hosts ran it, and ZooKeeper keeps it queued\(task.map { " (\($0))" } ?? "") for the ones named, which run it, in order, when they answer again: "
                + "start the host(s) (or wait until they catch up) and run the same command again; it goes on from where it stopped"
        }
    }
}

/// Reads clusters, macros and ZooKeeper presence, and probes hosts. 18.16 has
/// no `getMacro()` and no `internal_replication` column in `system.clusters`,
/// so macros come from `system.macros` and internal replication from a probe.
package struct ClusterReader: Sendable {
    package let transport: any Transport

    package init(transport: any Transport) { self.transport = transport }

    package func topology() throws -> ServerTopology { try startTopology()() }

    /// The reads of `topology()` sent at once, so they overlap other work; the
    /// closure waits for their answers.
    package func startTopology() -> () throws -> ServerTopology {
        let reads = [
            "SELECT cluster, shard_num, replica_num, host_name, host_address, port FROM system.clusters ORDER BY cluster, shard_num, replica_num",
            "SELECT macro, substitution FROM system.macros",
            // A server without ZooKeeper has no system.zookeeper at all.
            "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'zookeeper'",
        ].map { Concurrent(transport, $0) }
        return {
            let answers = try reads.map { try $0.wait().get() }
            var order: [String] = []
            var hosts: [String: [ClusterHost]] = [:]
            for row in answers[0].rows where row.count >= 6 {
                guard let name = row[0], let shard = Int(row[1] ?? ""), let replica = Int(row[2] ?? ""), let port = Int(row[5] ?? "") else { continue }
                if hosts[name] == nil { order.append(name) }
                hosts[name, default: []].append(
                    ClusterHost(hostName: row[3] ?? "", hostAddress: row[4] ?? "", port: port, shard: shard, replica: replica))
            }
            let macros = Self.macros(answers[1])
            let zk = answers[2].scalar == "1"
            return ServerTopology(clusters: order.map { ClusterInfo(name: $0, hosts: hosts[$0] ?? []) }, macros: macros, zooKeeper: zk)
        }
    }

    static func macros(_ r: QueryResult) -> [String: String] {
        var out: [String: String] = [:]
        for row in r.rows where row.count >= 2 { if let k = row[0] { out[k] = row[1] ?? "" } }
        return out
    }

    /// Every host's macros, read through `remote()` from this server: a host
    /// that does not answer stops everything before anything is changed.
    package func probe(_ cluster: ClusterInfo) throws -> [ClusterHost: [String: String]] {
        var out: [ClusterHost: [String: String]] = [:]
        for host in cluster.hosts {
            do {
                let r = try transport.execute(Query(
                    "SELECT macro, substitution FROM remote(\(quoteString(host.endpoint)), system.macros)",
                    settings: ["connect_timeout_with_failover_ms": "1000", "connections_with_failover_max_tries": "2"], timeout: 30))
                out[host] = Self.macros(r)
            } catch let e as TransportError {
                throw ClusterError.hostDown(cluster: cluster.name, host: host, reason: Self.shortReason(e))
            }
        }
        return out
    }

    static func shortReason(_ e: TransportError) -> String {
        switch e {
        case .server(let code, _, let message, _):
            let first = message.split(separator: "\n").first.map(String.init) ?? message
            return "code \(code): \(first.prefix(200))"
        default: return "\(e)"
        }
    }

    /// Shards of `cluster` whose `internal_replication` is off, found by
    /// writing one row per shard through a Distributed table over a plain
    /// (non-replicated) local table and counting on which replicas it lands.
    package func shardsWithoutInternalReplication(_ cluster: ClusterInfo, database: String) throws -> [Int] {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let local = qualified(database, "_mbg_probe_\(suffix)_local")
        let dist = qualified(database, "_mbg_probe_\(suffix)")
        let on = onCluster(cluster.name)
        defer {
            _ = try? transport.run("DROP TABLE IF EXISTS \(dist)\(on)")
            _ = try? transport.run("DROP TABLE IF EXISTS \(local)\(on)")
        }
        // MergeTree, not Log: reading a Log table through remote() to its own server hung 18.16.
        try transport.run("CREATE TABLE \(local)\(on) (n UInt32) ENGINE = MergeTree ORDER BY n")
        try transport.run(
            "CREATE TABLE \(dist)\(on) AS \(local) ENGINE = Distributed(\(quoteString(cluster.name)), \(quoteString(database)), \(quoteString("_mbg_probe_\(suffix)_local")), n)")
        let values = (0..<max(cluster.shards.count, 1)).map { "(\($0))" }.joined(separator: ", ")
        _ = try transport.execute(Query("INSERT INTO \(dist) VALUES \(values)", settings: ["insert_distributed_sync": "1"], timeout: 60))
        var off: [Int] = []
        for shard in cluster.shards {
            var holding = 0
            for host in cluster.hosts(shard: shard) {
                let n = try transport.execute(Query(
                    "SELECT count() FROM remote(\(quoteString(host.endpoint)), \(quoteString(database)), \(quoteString("_mbg_probe_\(suffix)_local")))",
                    timeout: 60)).scalar
                if (Int(n ?? "0") ?? 0) > 0 { holding += 1 }
            }
            if holding > 1 { off.append(shard) }
        }
        return off
    }
}

extension ClusterReader {
    /// What 18.16 (and later) answer when an `ON CLUSTER` DDL outlives
    /// `distributed_ddl_task_timeout` (code 159): `Watching task <znode> is
    /// executing longer than distributed_ddl_task_timeout (=N) seconds. There
    /// are K unfinished hosts …`. The message does not name the hosts; the task's
    /// znode does (`hosts: [...]`, one child under `finished/` per host that ran
    /// it), so they are read from there and matched to `system.clusters`.
    package func ddlTimeout(sql: String, message: String) -> ClusterError? {
        guard message.contains("distributed_ddl_task_timeout"), let cluster = Self.onClusterName(sql) else { return nil }
        let task = Self.firstMatch(#"/[^ ,]*query-[0-9]+"#, in: message)
        let seconds = Self.firstMatch(#"distributed_ddl_task_timeout \(=([0-9]+)\)"#, in: message, group: 1).flatMap { Int($0) }
        let count = Self.firstMatch(#"There are ([0-9]+) unfinished host"#, in: message, group: 1).flatMap { Int($0) } ?? 0
        var unfinished: [ClusterHost] = []
        if let task, let slash = task.lastIndex(of: "/") {
            let parent = String(task[..<slash]), name = String(task[task.index(after: slash)...])
            let known = (try? topology().cluster(cluster)?.hosts) ?? []
            if let value = try? transport.run(CatalogQueries.zooKeeperChildren(parent)).rows.first(where: { $0.first == name }),
               let finished = try? transport.run(CatalogQueries.zooKeeperChildren(task + "/finished")).rows.compactMap({ $0.first ?? nil })
            {
                let done = Set(finished.map(Self.decodeHost))
                for entry in Self.taskHosts(value.count > 1 ? value[1] ?? "" : "") where !done.contains(entry) {
                    let found = known.first { "\($0.hostName):\($0.port)" == entry || "\($0.hostAddress):\($0.port)" == entry }
                    if let found {
                        unfinished.append(found)
                    } else if let colon = entry.lastIndex(of: ":"), let port = Int(entry[entry.index(after: colon)...]) {
                        let h = String(entry[..<colon])
                        unfinished.append(ClusterHost(hostName: h, hostAddress: h, port: port, shard: 0, replica: 0))
                    }
                }
            }
        }
        let statement = Self.firstMatch(#"^.*? ON CLUSTER [^ (]+"#, in: sql.replacingOccurrences(of: "\n", with: " ")) ?? "an ON CLUSTER DDL"
        return .ddlTimeout(cluster: cluster, statement: statement, unfinished: unfinished, count: max(count, unfinished.count), seconds: seconds, task: task)
    }

    /// The cluster an `ON CLUSTER` statement names, unquoted.
    static func onClusterName(_ sql: String) -> String? {
        guard let raw = firstMatch(#"ON CLUSTER\s+(`[^`]+`|"[^"]+"|'[^']+'|[^\s(]+)"#, in: sql, group: 1) else { return nil }
        let quotes: Set<Character> = ["`", "\"", "'"]
        if let f = raw.first, quotes.contains(f), raw.count >= 2 { return String(raw.dropFirst().dropLast()) }
        return raw
    }

    /// `hosts: ['127%2E0%2E0%2E1:19131', …]` of a DDL task's znode, decoded.
    static func taskHosts(_ value: String) -> [String] {
        guard let line = value.split(separator: "\n").first(where: { $0.hasPrefix("hosts:") }) else { return [] }
        return line.dropFirst("hosts:".count).split(separator: ",").map { item in
            decodeHost(item.trimmingCharacters(in: CharacterSet(charactersIn: " []'\\")))
        }.filter { !$0.isEmpty }
    }

    /// ZooKeeper names hosts with `.` written `%2E`.
    static func decodeHost(_ s: String) -> String { s.removingPercentEncoding ?? s }

    static func firstMatch(_ pattern: String, in text: String, group: Int = 0) -> String? {
        guard let re = try? NSRegularExpression(pattern: pattern),
              let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let r = Range(m.range(at: group), in: text) else { return nil }
        return String(text[r])
    }
}

/// Sends statements to `inner`; an `ON CLUSTER` DDL that times out on some
/// hosts becomes `ClusterError.ddlTimeout` naming them (host:port, shard,
/// replica) instead of the server's bare count.
package final class ClusterDDLTransport: Transport, @unchecked Sendable {
    let inner: any Transport

    package init(_ inner: any Transport) { self.inner = inner }

    package func execute(_ query: Query) throws -> QueryResult {
        do {
            return try inner.execute(query)
        } catch let e as TransportError {
            guard case .server(159, _, let message, _) = e,
                  let timeout = ClusterReader(transport: inner).ddlTimeout(sql: query.sql, message: message) else { throw e }
            throw timeout
        }
    }

    package func cancel(queryID: String) throws { try inner.cancel(queryID: queryID) }
    package var displayURL: String { inner.displayURL }
}

/// Connections to every host of a cluster, and the node that holds the
/// migration state and lock (the first replica of the first shard), so runs
/// started through different nodes see one state and one lock.
package final class ClusterNodes: @unchecked Sendable {
    package let info: ClusterInfo
    package let coordinator: ClusterHost
    /// The host mbg is connected to (`--url`).
    package let connected: ClusterHost
    private let transports: [ClusterHost: any Transport]
    private let macros: [ClusterHost: [String: String]]

    /// Probes every host (exit 69 naming the first that does not answer), then
    /// opens an HTTP connection to each. The HTTP port of a host is not in
    /// `system.clusters`: it is taken to differ from the connected node's HTTP
    /// port as the hosts' TCP ports differ (equal ports everywhere, the usual
    /// layout, or ports shifted together on one machine).
    package init(connected: any Transport, cluster name: String) throws {
        let reader = ClusterReader(transport: connected)
        let topology = try reader.topology()
        guard let info = topology.cluster(name) else {
            throw ClusterError.unknownCluster(name, known: topology.clusters.map(\.name))
        }
        self.info = info
        let macros = try reader.probe(info)
        self.macros = macros
        guard let http = connected as? HTTPTransport else {
            throw ClusterError.cannotReachNodes("migrating on a cluster needs an HTTP connection (mbg opens one to every node of \(name))")
        }
        let own = topology.macros
        let me = info.hosts.first { h in
            guard let m = macros[h] else { return false }
            return !own.isEmpty && m["shard"] == own["shard"] && m["replica"] == own["replica"]
        }
        guard let me, let myHTTPPort = http.options.url.port ?? defaultPort(http.options.url) else {
            throw ClusterError.cannotReachNodes("the server at \(http.displayURL) is not one of the hosts of cluster \(name) (no host has its {shard} and {replica} macros); connect to a node of the cluster")
        }
        var transports: [ClusterHost: any Transport] = [:]
        for host in info.hosts {
            if host == me {
                transports[host] = ClusterDDLTransport(connected)
                continue
            }
            var options = http.options
            var parts = URLComponents(url: options.url, resolvingAgainstBaseURL: false)
            if !(isLoopback(host.hostName) && isLoopback(options.url.host ?? "")) { parts?.host = host.hostName }
            parts?.port = myHTTPPort + (host.port - me.port)
            guard let url = parts?.url else { throw ClusterError.cannotReachNodes("no URL for host \(host.label)") }
            options.url = url
            let t = try HTTPTransport(options: options)
            do {
                _ = try t.execute(Query("SELECT 1", timeout: 10))
            } catch let e as TransportError {
                throw ClusterError.hostDown(cluster: name, host: host, reason: "HTTP \(t.displayURL): " + ClusterReader.shortReason(e))
            }
            transports[host] = ClusterDDLTransport(t)
        }
        self.transports = transports
        self.connected = me
        coordinator = info.hosts.sorted { ($0.shard, $0.replica) < ($1.shard, $1.replica) }[0]
    }

    package func transport(_ host: ClusterHost) -> any Transport { transports[host]! }

    /// `shard 01, replica r2 (127.0.0.1:19132)` with the node's own macros when known.
    package func describe(_ host: ClusterHost) -> String {
        let m = macros[host] ?? [:]
        return "shard \(m["shard"] ?? String(host.shard)), replica \(m["replica"] ?? String(host.replica)) (\(host.endpoint))"
    }
}

func defaultPort(_ url: URL) -> Int? { url.scheme == "https" ? 8443 : 8123 }

func isLoopback(_ host: String) -> Bool { host == "localhost" || host.hasPrefix("127.") || host == "::1" }
