import Foundation

// The parts of a rehearsal (`mbg rehearse`) that move data: a sample of a
// production table copied into the local engine, and writers inserting
// synthetic rows while the migration runs there. The command composes them.

/// The columns an insert writes: stored ones (MATERIALIZED, ALIAS and
/// EPHEMERAL columns are computed or not stored, and an insert cannot name them
/// all on every server).
package func insertableColumns(_ table: TableDef) -> [ColumnDef] {
    table.columns.filter { $0.kind == .ordinary || $0.kind == .defaulted }
}

/// A production table as one local server can hold it: in `database`, on no
/// cluster, a `Replicated…` engine as its plain twin, and the old MergeTree
/// syntax of 18.x (`MergeTree(d, (id), 8192)`, whose keys the catalog already
/// holds) as engine parameters only.
package func localTwin(_ table: TableDef, database: String) -> TableDef {
    var t = table
    t.database = database
    t.cluster = nil
    var engine = t.engine.trimmingCharacters(in: .whitespaces)
    guard let open = engine.firstIndex(of: "("), engine.hasSuffix(")") else { return t }
    var name = String(engine[..<open])
    var args = splitTopLevelCommas(String(engine[engine.index(after: open)...].dropLast()))
    if name.hasPrefix("Replicated") {
        name.removeFirst("Replicated".count)
        args = Array(args.dropFirst(2))
    }
    // Old syntax: a Date column, an optional sampling expression, the key, then the granularity.
    let dateColumns = Set(t.columns.filter { $0.type == "Date" }.map(\.name))
    if name.hasSuffix("MergeTree"), let first = args.first, dateColumns.contains(first.trimmingCharacters(in: CharacterSet(charactersIn: "`\""))),
        let granularity = args.indices.dropFirst(2).first(where: { Int(args[$0]) != nil })
    {
        if granularity == 3, t.sampleBy == nil { t.sampleBy = args[1] }
        if args[granularity] != "8192", !t.settings.contains(where: { $0.name == "index_granularity" }) {
            t.settings.append(SettingDef(name: "index_granularity", value: args[granularity]))
        }
        args = Array(args[(granularity + 1)...])
    }
    engine = args.isEmpty ? name : name + "(" + args.joined(separator: ", ") + ")"
    t.engine = engine
    return t
}

/// How many rows of each partition a sample of `total` rows takes: in
/// proportion to the partition's rows, at least one of a non-empty partition,
/// never more than it holds.
package func sampleQuota(_ partitions: [PartitionInfo], total: Int) -> [(partitionID: String, rows: Int)] {
    let all = partitions.reduce(0) { $0 + $1.rows }
    guard all > total else { return partitions.map { ($0.partitionID, $0.rows) } }
    return partitions.map { p in
        let share = Int((Double(p.rows) * Double(total) / Double(all)).rounded(.up))
        return (p.partitionID, min(p.rows, max(p.rows > 0 ? 1 : 0, share)))
    }
}

/// Copies a sample of one table from a source (read only) into a target, one
/// partition at a time, as TabSeparated text.
package struct SampleCopier {
    package var source: any Transport
    package var target: any Transport

    package init(source: any Transport, target: any Transport) {
        self.source = source
        self.target = target
    }

    package struct Copied: Sendable {
        package var rows = 0
        package var partitions = 0
        package var seconds = 0.0
    }

    package func copy(
        from sourceDB: String, _ table: CatalogTable, to targetDB: String, sample: Int
    ) throws -> Copied {
        let columns = insertableColumns(table.definition)
        let started = Date()
        var copied = Copied()
        for (partition, limit) in sampleQuota(table.partitions, total: sample) where limit > 0 {
            let answer = try source.execute(
                Query(RehearsalSQL.samplePartition(sourceDB, table.name, columns, partitionID: partition, limit: limit)))
            guard !answer.rows.isEmpty else { continue }
            // Back to TabSeparated text: arrays, tuples and maps came as SQL literals, kept as they are.
            let quoted = answer.columns.map { TabSeparated.isQuotedType($0.type) }
            var body = ""
            for row in answer.rows {
                body += row.enumerated().map { quoted[$0.offset] ? ($0.element ?? "\\N") : TabSeparated.escape($0.element) }
                    .joined(separator: "\t") + "\n"
            }
            try target.run(RehearsalSQL.insertTabSeparated(targetDB, table.name, columns.map(\.name), rows: body))
            copied.rows += answer.rows.count
            copied.partitions += 1
        }
        copied.seconds = Date().timeIntervalSince(started)
        return copied
    }
}

/// Rows made up from a table's own column types, as TabSeparated lines: each
/// value valid for its type, different from row to row.
package struct SyntheticRows {
    package let columns: [ColumnDef]

    /// The columns it can make values for; the others are left to their defaults.
    package init(_ table: TableDef) {
        columns = insertableColumns(table).filter { SyntheticRows.value(for: $0.type, seed: 0) != nil }
    }

    package func line(seed: UInt64) -> String {
        columns.enumerated().map { SyntheticRows.value(for: $0.element.type, seed: seed &+ UInt64($0.offset)) ?? "" }
            .joined(separator: "\t") + "\n"
    }

    /// A TabSeparated value of `type`, or nil when this generator does not know the type.
    package static func value(for rawType: String, seed: UInt64) -> String? {
        var type = rawType.trimmingCharacters(in: .whitespaces)
        for wrapper in ["Nullable(", "LowCardinality("] where type.hasPrefix(wrapper) && type.hasSuffix(")") {
            type = String(type.dropFirst(wrapper.count).dropLast())
        }
        if type.hasPrefix("LowCardinality(") || type.hasPrefix("Nullable(") { return value(for: type, seed: seed) }
        let r = seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64.random(in: 0...UInt64.max)
        let now = Date()
        switch type {
        case "UInt8", "Int8": return String(r % 100)
        case "UInt16", "Int16": return String(r % 30000)
        case "UInt32", "Int32", "UInt64", "Int64", "UInt128", "Int128", "UInt256", "Int256": return String(r % 2_000_000_000)
        case "Float32", "Float64", "BFloat16": return String(Double(r % 1_000_000) / 100)
        case "String": return String(r, radix: 16)
        case "UUID": return UUID().uuidString.lowercased()
        case "Bool": return r % 2 == 0 ? "true" : "false"
        case "Date", "Date32": return utcText(now, "yyyy-MM-dd")
        case "IPv4": return "10.\(r % 256).\((r >> 8) % 256).\((r >> 16) % 256)"
        case "IPv6": return "::1"
        default: break
        }
        // Times of rows written now: `now` (a cutoff bridge forwards them, or a late backfill copies them).
        if type == "DateTime" || type.hasPrefix("DateTime(") { return String(Int(now.timeIntervalSince1970)) }
        if type.hasPrefix("DateTime64(") { return utcText(now, "yyyy-MM-dd HH:mm:ss") }
        if type.hasPrefix("Decimal") { return String(r % 1000) }
        if type.hasPrefix("FixedString(") {
            let n = Int(type.dropFirst("FixedString(".count).prefix { $0.isNumber }) ?? 1
            return String(String(r, radix: 16).prefix(n))
        }
        if type.hasPrefix("Enum8(") || type.hasPrefix("Enum16(") {
            // The first name: `Enum8('a' = 1, …)`.
            guard let open = type.firstIndex(of: "'") else { return nil }
            let rest = type[type.index(after: open)...]
            return rest.firstIndex(of: "'").map { String(rest[..<$0]) }
        }
        if type.hasPrefix("Array(") { return "[]" }
        if type.hasPrefix("Map(") { return "{}" }
        return nil
    }

    private static func utcText(_ date: Date, _ format: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f.string(from: date)
    }
}

/// Threads inserting synthetic rows into one table at a steady rate until
/// stopped; every insert's latency and outcome is kept, and the rows of the
/// inserts the server acknowledged are counted exactly.
package final class SyntheticWriters: @unchecked Sendable {
    let makeTransport: @Sendable () throws -> any Transport
    let database: String
    let table: String
    let rows: SyntheticRows
    let count: Int
    let rowsPerSecond: Int
    private let lock = NSLock()
    private var stopping = false
    private var latencies: [Double] = []
    private var acknowledged = 0
    private var failed = 0
    private var lastError: String?
    private let done = DispatchGroup()
    private var started: Date?
    private var stopped: Date?

    /// `count` writers, each inserting `rowsPerSecond` rows a second (in ten batches).
    package init(
        transport: @escaping @Sendable () throws -> any Transport, database: String, table: String,
        rows: SyntheticRows, count: Int, rowsPerSecond: Int
    ) {
        makeTransport = transport
        self.database = database
        self.table = table
        self.rows = rows
        self.count = count
        self.rowsPerSecond = rowsPerSecond
    }

    package func start() {
        guard rowsPerSecond > 0 else { return }
        lock.withLock { started = Date() }
        let batch = max(1, rowsPerSecond / 10)
        let interval = Double(batch) / Double(rowsPerSecond)
        for w in 0..<count {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                guard let transport = try? makeTransport() else { return }
                var seed = UInt64(w) << 40
                var next = Date()
                while !lock.withLock({ stopping }) {
                    var body = ""
                    for _ in 0..<batch {
                        body += rows.line(seed: seed)
                        seed &+= 1000
                    }
                    let began = Date()
                    do {
                        try transport.run(RehearsalSQL.insertTabSeparated(database, table, rows.columns.map(\.name), rows: body))
                        lock.withLock {
                            latencies.append(Date().timeIntervalSince(began))
                            acknowledged += batch
                        }
                    } catch {
                        // Not retried: a failed insert is what a client would see, and is reported.
                        lock.withLock {
                            latencies.append(Date().timeIntervalSince(began))
                            failed += 1
                            lastError = "\(error)"
                        }
                    }
                    next = next.addingTimeInterval(interval)
                    let wait = next.timeIntervalSinceNow
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) } else { next = Date() }
                }
            }
        }
    }

    /// Stops the writers and waits for their last inserts to end.
    package func stop() {
        lock.withLock { stopping = true }
        done.wait()
        lock.withLock { stopped = Date() }
    }

    package struct Summary: Sendable, Codable, Equatable {
        package var inserts: Int
        package var rows: Int
        package var failures: Int
        package var p50Milliseconds: Double
        package var p99Milliseconds: Double
        package var maxMilliseconds: Double
        /// How long they ran, and the rate they reached (below the one asked when inserts are slower than their interval).
        package var seconds: Double
        package var achievedRowsPerSecond: Double
        package var lastError: String?
    }

    package var summary: Summary {
        lock.withLock {
            let sorted = latencies.sorted()
            func quantile(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let k = min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)
                return (sorted[max(0, k)] * 1000 * 10).rounded() / 10
            }
            let seconds = started.map { (stopped ?? Date()).timeIntervalSince($0) } ?? 0
            return Summary(
                inserts: latencies.count, rows: acknowledged, failures: failed, p50Milliseconds: quantile(0.5),
                p99Milliseconds: quantile(0.99), maxMilliseconds: quantile(1), seconds: (seconds * 1000).rounded() / 1000,
                achievedRowsPerSecond: seconds > 0 ? (Double(acknowledged) / seconds).rounded() : 0, lastError: lastError)
        }
    }
}

/// Passes reports on and notes when the phases of an apply ended, so a
/// rehearsal can time the backfill, the verification and the cut-over.
package final class PhaseClock: ProgressReporter, @unchecked Sendable {
    let next: any ProgressReporter
    private let lock = NSLock()
    package private(set) var bridgeCreated: Date?
    package private(set) var backfilled: Date?
    package private(set) var verified: Date?
    package private(set) var cutOver: Date?
    /// The backfill's own rate and rows, from its last progress report.
    package private(set) var backfillRowsPerSecond = 0.0
    package private(set) var backfillRows = 0

    package init(next: any ProgressReporter) { self.next = next }

    package func reset() {
        lock.withLock {
            (bridgeCreated, backfilled, verified, cutOver) = (nil, nil, nil, nil)
            (backfillRowsPerSecond, backfillRows) = (0, 0)
        }
    }

    package func info(_ line: String) {
        let now = Date()
        lock.withLock {
            if line.hasPrefix("bridge ") && line.contains(" created") { bridgeCreated = now }
            if line.contains(": backfilled ") { backfilled = now }
            if line.hasSuffix("ready to cut over") { verified = now }
            if line.contains(": cut over") { cutOver = now }
        }
        next.info(line)
    }

    package func warning(_ line: String) { next.warning(line) }

    package func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {
        progress(label, done: done, total: total, rowsPerSecond: rowsPerSecond, partition: nil)
    }

    package func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double, partition: String?) {
        lock.withLock { (backfillRows, backfillRowsPerSecond) = (done, rowsPerSecond) }
        next.progress(label, done: done, total: total, rowsPerSecond: rowsPerSecond, partition: partition)
    }
}
