import Foundation

/// Why a live catalog could not be read.
package enum CatalogReadError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingDatabase(String)
    case unexpectedAnswer(String)

    package var description: String {
        switch self {
        case .missingDatabase(let db): return "database \(quoteIdentifier(db)) does not exist"
        case .unexpectedAnswer(let what): return "unexpected catalog answer: \(what)"
        }
    }
}

/// Reads one database's catalog from a live server into `Catalog`: one query per
/// system table for the whole database, never one per table. Works with 18.x
/// servers (no `compression_codec`, no `position`) and current ones.
package struct CatalogReader: Sendable {
    package let transport: any Transport
    package let database: String

    package init(transport: any Transport, database: String) {
        self.transport = transport
        self.database = database
    }

    package func read() throws -> Catalog {
        let db = quoteString(database)
        // Independent reads go out at once: a plan against a server waits for
        // two round trips, not seven.
        let first = [
            "SELECT version()",
            "SELECT engine FROM system.databases WHERE name = \(db)",
            "SELECT table, name FROM system.columns WHERE database = 'system' AND table IN ('columns', 'tables')",
            """
            SELECT name, engine, engine_full, create_table_query, sorting_key, partition_key, \
            primary_key, dependencies_database, dependencies_table
            FROM system.tables WHERE database = \(db) AND NOT is_temporary ORDER BY name
            """,
            """
            SELECT table, partition_id, sum(rows), count(), max(max_block_number)
            FROM system.parts WHERE database = \(db) AND active
            GROUP BY table, partition_id ORDER BY table, partition_id
            """,
        ].map { Concurrent(transport, $0) }
        let answers = try first.map { try $0.wait().get() }
        let version = answers[0].scalar ?? ""
        guard let databaseEngine = answers[1].rows.first?.first ?? nil else {
            throw CatalogReadError.missingDatabase(database)
        }
        let capabilities = Capabilities.detect(version: version, databaseEngine: databaseEngine)
        // Which optional columns this server's system tables have.
        let has = Set(answers[2].rows.map { "\($0[0] ?? "").\($0[1] ?? "")" })
        let tables = answers[3], parts = answers[4]
        let codec = has.contains("columns.compression_codec") ? "compression_codec" : "''"
        let order = has.contains("columns.position") ? " ORDER BY table, position" : ""
        let columns = try transport.run(
            """
            SELECT table, name, type, default_kind, default_expression, \(codec), is_in_primary_key, comment
            FROM system.columns WHERE database = \(db)\(order)
            """)

        var columnsByTable: [String: [ColumnDef]] = [:]
        for row in columns.rows {
            guard row.count == 8, let table = row[0], let name = row[1], let type = row[2] else {
                throw CatalogReadError.unexpectedAnswer("system.columns row \(row)")
            }
            var column = liveColumn(
                name: name, type: type, kind: row[3] ?? "", expression: row[4] ?? "",
                codec: row[5] ?? "", inPrimaryKey: row[6] == "1")
            if let comment = row[7], !comment.isEmpty { column.comment = comment }
            columnsByTable[table, default: []].append(column)
        }
        var partitionsByTable: [String: [PartitionInfo]] = [:]
        for row in parts.rows {
            guard row.count == 5, let table = row[0], let id = row[1] else {
                throw CatalogReadError.unexpectedAnswer("system.parts row \(row)")
            }
            partitionsByTable[table, default: []].append(
                PartitionInfo(
                    partitionID: id, rows: Int(row[2] ?? "") ?? 0, parts: Int(row[3] ?? "") ?? 0,
                    maxBlockNumber: Int(row[4] ?? "") ?? 0))
        }

        var result: [CatalogTable] = []
        for row in tables.rows {
            guard row.count == 9, let name = row[0], let engine = row[1] else {
                throw CatalogReadError.unexpectedAnswer("system.tables row \(row)")
            }
            let engineFull = row[2] ?? ""
            let createQuery = row[3] ?? ""
            var definition = liveTableDef(
                database: database, name: name, engine: engine, engineFull: engineFull,
                sortingKey: row[4] ?? "", partitionKey: row[5] ?? "", primaryKey: row[6] ?? "",
                columns: columnsByTable[name] ?? [])
            if engine != "MaterializedView" && engine != "View" {
                CreateTableElements(createQuery).apply(to: &definition)
            }
            let dependents = zip(sqlStringArray(row[7] ?? ""), sqlStringArray(row[8] ?? ""))
                .map { "\($0).\($1)" }
            let partitions = partitionsByTable[name] ?? []
            result.append(
                CatalogTable(
                    database: database, name: name, engine: engine, engineFull: engineFull,
                    definition: definition, createQuery: createQuery,
                    viewTarget: engine == "MaterializedView" ? viewTarget(createQuery) : nil,
                    dependentViews: dependents, totalRows: partitions.reduce(0) { $0 + $1.rows },
                    partitions: partitions))
        }
        return Catalog(capabilities: capabilities, database: database, tables: result)
    }
}

/// A column as `system.columns` describes it.
func liveColumn(
    name: String, type: String, kind: String, expression: String, codec: String, inPrimaryKey: Bool
) -> ColumnDef {
    var codecBody: String?
    if !codec.isEmpty {
        // `CODEC(ZSTD(1))` → `ZSTD(1)`
        let tokens = sqlTokens(codec)
        if tokens.count >= 3, tokens[0].isWord("CODEC"), tokens[1].text == "(",
            closingIndex(tokens, 1) == tokens.count - 1
        {
            codecBody = String(codec[tokens[2].range.lowerBound..<tokens[tokens.count - 1].range.lowerBound])
                .trimmingCharacters(in: .whitespaces)
        } else {
            codecBody = codec
        }
    }
    let hasDefault = !kind.isEmpty
    // A bare `EPHEMERAL` column shows the type's default as its expression.
    let bareEphemeral = kind.uppercased() == "EPHEMERAL" && expression.hasPrefix("defaultValueOfTypeName(")
    return ColumnDef(
        name: name, type: type, isKey: inPrimaryKey,
        defaultExpression: hasDefault && !bareEphemeral ? expression : nil, codec: codecBody,
        defaultKind: hasDefault && kind.uppercased() != "DEFAULT" ? kind.uppercased() : nil)
}

/// The model of a live table, from `system.tables` and its columns.
func liveTableDef(
    database: String, name: String, engine: String, engineFull: String, sortingKey: String,
    partitionKey: String, primaryKey: String, columns: [ColumnDef]
) -> TableDef {
    let clauses = EngineClauses(engineFull)
    let split = splitPhysicalName(name)
    let isMergeTree = engine.contains("MergeTree")
    var orderBy = isMergeTree ? splitTopLevelCommas(sortingKey) : nil
    // VersionedCollapsingMergeTree appends its version column to the sorting
    // key itself: the key as written is the one in engine_full.
    if let sorting = orderBy, let written = clauses.orderBy.map({ splitTopLevelCommas(normalizedSQL($0)) }),
        written.count < sorting.count, sorting.prefix(written.count).map(normalizedSQL) == written
    {
        orderBy = Array(sorting.prefix(written.count))
    }
    var primary: [String]? = primaryKey.isEmpty ? nil : splitTopLevelCommas(primaryKey)
    if let p = primary, let o = orderBy, p.map(normalizedSQL) == o.map(normalizedSQL) {
        primary = nil
    }
    return TableDef(
        name: split?.logical ?? name, version: split?.version, database: database,
        columns: columns, orderBy: orderBy, primaryKey: primary,
        partitionBy: partitionKey.isEmpty ? nil : partitionKey,
        engine: clauses.engine.isEmpty ? engine : clauses.engine, ttl: clauses.ttl,
        settings: withoutTrailingDefaults(clauses.settings),
        sampleBy: isMergeTree ? clauses.sampleBy : nil,
        comment: clauses.comment.map(sqlStringValue))
}

/// Settings at their default are dropped only from the end: the server appends them
/// there itself, so a copy without them shows the same clause. One before another
/// setting stays, or the copy's clause would come out reordered.
func withoutTrailingDefaults(_ settings: [SettingDef]) -> [SettingDef] {
    var out = settings
    while let last = out.last, defaultTableSettings[last.name] == normalizedSQL(last.value) { out.removeLast() }
    return out
}

/// `engine_full` taken apart:
/// `ReplacingMergeTree(ver) PARTITION BY … ORDER BY … TTL … SETTINGS a = 1`.
struct EngineClauses: Equatable {
    var engine = ""
    var partitionBy: String?
    var primaryKey: String?
    var orderBy: String?
    var sampleBy: String?
    var ttl: String?
    var settings: [SettingDef] = []
    var comment: String?

    init(_ text: String) {
        let tokens = sqlTokens(text)
        // Where each clause starts: (keyword token index, tokens in the keyword).
        var starts: [(index: Int, length: Int, clause: String)] = []
        var k = 0
        while k < tokens.count {
            let t = tokens[k]
            let next = k + 1 < tokens.count ? tokens[k + 1] : nil
            if t.depth == 0 && t.kind == .word {
                switch t.text.uppercased() {
                case "PARTITION" where next?.isWord("BY") == true: starts.append((k, 2, "PARTITION"))
                case "PRIMARY" where next?.isWord("KEY") == true: starts.append((k, 2, "PRIMARY"))
                case "ORDER" where next?.isWord("BY") == true: starts.append((k, 2, "ORDER"))
                case "SAMPLE" where next?.isWord("BY") == true: starts.append((k, 2, "SAMPLE"))
                case "TTL": starts.append((k, 1, "TTL"))
                case "SETTINGS": starts.append((k, 1, "SETTINGS"))
                case "COMMENT": starts.append((k, 1, "COMMENT"))
                default: break
                }
            }
            k += 1
        }
        func source(_ from: Int, _ to: Int) -> String {
            guard from < to else { return "" }
            return String(text[tokens[from].range.lowerBound..<tokens[to - 1].range.upperBound])
        }
        engine = source(0, starts.first?.index ?? tokens.count)
        for (n, start) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1].index : tokens.count
            let body = source(start.index + start.length, end)
            switch start.clause {
            case "PARTITION": partitionBy = body
            case "PRIMARY": primaryKey = body
            case "ORDER": orderBy = body
            case "SAMPLE": sampleBy = body
            case "TTL": ttl = body
            case "COMMENT": comment = body
            default:
                settings = splitTopLevelCommas(body).compactMap { piece in
                    guard let eq = piece.firstIndex(of: "=") else { return nil }
                    return SettingDef(
                        name: piece[..<eq].trimmingCharacters(in: .whitespaces),
                        value: piece[piece.index(after: eq)...].trimmingCharacters(in: .whitespaces))
                }
            }
        }
    }
}

/// What only `create_table_query` tells about a table: column TTLs, skip
/// indexes, projections and the table comment (newer servers leave COMMENT
/// out of `engine_full`).
struct CreateTableElements: Equatable {
    var columnTTLs: [String: String] = [:]
    var columnComments: [String: String] = [:]
    var indexes: [IndexDef] = []
    var projections: [ProjectionDef] = []
    var comment: String?

    init(_ query: String) {
        let tokens = sqlTokens(query)
        guard let open = tokens.firstIndex(where: { $0.depth == 0 && $0.kind == .symbol && $0.text == "(" }),
            let close = closingIndex(tokens, open), open + 1 < close
        else { return }
        let body = String(query[tokens[open].range.upperBound..<tokens[close].range.lowerBound])
        for element in splitTopLevelCommas(body) { add(element) }
        // COMMENT 'text' after the engine clauses ends the statement.
        let tail = tokens[(close + 1)...]
        if let c = tail.lastIndex(where: { $0.depth == 0 && $0.isWord("COMMENT") }), c + 1 < tokens.count,
            tokens[c + 1].kind == .string, c + 2 == tokens.count
        {
            comment = sqlStringValue(tokens[c + 1].text)
        }
    }

    private mutating func add(_ element: String) {
        let tokens = sqlTokens(element)
        guard tokens.count >= 2 else { return }
        func source(_ from: Int, _ to: Int) -> String {
            guard from < to else { return "" }
            return String(element[tokens[from].range.lowerBound..<tokens[to - 1].range.upperBound])
        }
        func top(_ word: String, from: Int = 0) -> Int? {
            tokens.indices.first { $0 >= from && tokens[$0].depth == 0 && tokens[$0].isWord(word) }
        }
        let first = tokens[0]
        if first.isWord("INDEX"), let type = top("TYPE", from: 2) {
            let granularity = top("GRANULARITY", from: type)
            indexes.append(
                IndexDef(
                    name: tokens[1].text, expression: source(2, type),
                    type: source(type + 1, granularity ?? tokens.count),
                    granularity: granularity.flatMap { $0 + 1 < tokens.count ? Int(tokens[$0 + 1].text) : nil }))
            return
        }
        if first.isWord("PROJECTION"), tokens.count >= 4, tokens[2].text == "(", tokens[2].kind == .symbol,
            let end = closingIndex(tokens, 2)
        {
            projections.append(ProjectionDef(name: tokens[1].text, query: source(3, end)))
            return
        }
        if first.isWord("CONSTRAINT") { return }
        // A column: name Type [DEFAULT …] [COMMENT '…'] [CODEC(…)] [TTL …].
        let name = first.text
        if let c = top("COMMENT", from: 2), c + 1 < tokens.count, tokens[c + 1].kind == .string {
            columnComments[name] = sqlStringValue(tokens[c + 1].text)
        }
        // TTL comes after COMMENT and CODEC; a column named ttl in a DEFAULT stays out of reach.
        let after = [top("COMMENT", from: 2), top("CODEC", from: 2)].compactMap { $0 }.max() ?? 2
        if let t = top("TTL", from: after) {
            let stops: Set<String> = ["SETTINGS", "STATISTICS", "COMMENT", "CODEC"]
            let end = tokens.indices.first {
                $0 > t + 1 && tokens[$0].depth == 0 && tokens[$0].kind == .word
                    && stops.contains(tokens[$0].text.uppercased())
            }
            columnTTLs[name] = source(t + 1, end ?? tokens.count)
        }
    }

    /// Puts what the query tells into a definition read from the system tables.
    func apply(to table: inout TableDef) {
        for i in table.columns.indices {
            let name = table.columns[i].name
            if let ttl = columnTTLs[name] { table.columns[i].ttl = ttl }
            if table.columns[i].comment == nil, let c = columnComments[name], !c.isEmpty {
                table.columns[i].comment = c
            }
        }
        table.indexes = indexes
        table.projections = projections
        if let comment, !comment.isEmpty { table.comment = comment }
    }
}

/// The target of `CREATE MATERIALIZED VIEW v TO db.t …`, as `db.t`.
func viewTarget(_ createQuery: String) -> String? {
    let tokens = sqlTokens(createQuery)
    for (k, t) in tokens.enumerated() where t.depth == 0 {
        if t.isWord("AS") { return nil }
        guard t.isWord("TO"), k + 1 < tokens.count else { continue }
        let first = tokens[k + 1]
        guard first.kind == .word || first.kind == .quotedIdentifier else { return nil }
        if k + 3 < tokens.count, tokens[k + 2].text == ".", tokens[k + 2].kind == .symbol {
            return first.text + "." + tokens[k + 3].text
        }
        return first.text
    }
    return nil
}
