/// Views that read a migration's old version, and how cut-over carries them
/// to the new one so that every row reaches their targets exactly once.
///
/// Why a split on time: once the bridge exists, every row written to the old
/// version is forwarded into the new one, and the insert the bridge makes fires
/// the new version's views too. A copy of a materialized view on the new
/// version (its twin) therefore sees rows written to *either* version, while
/// the original still sees rows written to the old one. Creating the twin and
/// dropping the original cannot happen at one instant for every insert (an
/// insert picks its views when it starts, the bridge's insert later), so
/// either order double-counts or misses rows. A cutoff T on the view's time
/// column, placed in the future, makes both changes no-ops when they happen:
/// the original is narrowed to `ts < T` (`ALTER … MODIFY QUERY`), the twin
/// takes `ts >= T`; every row, whichever version it is written to, matches
/// exactly one of them.
package struct DependentView: Sendable, Hashable, Codable {
    package enum Kind: String, Sendable, Hashable, Codable {
        case materialized
        case plain
    }
    package var database: String
    package var name: String
    package var kind: Kind
    /// `db.t` a materialized view writes to.
    package var target: String?
    /// The view's SELECT as the server stores it.
    package var select: String
    /// Columns of the old version the SELECT names.
    package var columnsUsed: [String]

    package var qualifiedName: String { qualified(database, name) }
}

/// How (and whether) a migration's cut-over carries its dependent views.
package struct ViewCarry: Sendable, Hashable {
    package var views: [DependentView]
    /// The time column the split uses, when materialized views need one.
    package var timeColumn: String?
    /// Why cut-over cannot carry them exactly on this server; nil when it can.
    package var refusal: String?

    package var isEmpty: Bool { views.isEmpty }
    package var materialized: [DependentView] { views.filter { $0.kind == .materialized } }
}

/// The SELECT of a `CREATE [MATERIALIZED] VIEW … AS SELECT …` statement.
func viewSelect(_ createQuery: String) -> String? {
    let tokens = sqlTokens(createQuery)
    for (k, t) in tokens.enumerated() where t.depth == 0 && t.isWord("AS") && k + 1 < tokens.count {
        let next = tokens[k + 1]
        if next.isWord("SELECT") || next.isWord("WITH") || next.text == "(" {
            return String(createQuery[next.range.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
    return nil
}

/// Token ranges in `sql` that name the table `database.name` (qualified, or
/// bare when `database` is the one unqualified names resolve in).
func tableReferences(in sql: String, database: String, name: String, defaultDatabase: String) -> [Range<String.Index>] {
    let tokens = sqlTokens(sql)
    func isName(_ t: SQLToken, _ text: String) -> Bool {
        (t.kind == .word || t.kind == .quotedIdentifier) && t.text == text
    }
    var out: [Range<String.Index>] = []
    var k = 0
    while k < tokens.count {
        let t = tokens[k]
        if isName(t, database), k + 2 < tokens.count, tokens[k + 1].text == ".", isName(tokens[k + 2], name),
            !(k + 3 < tokens.count && tokens[k + 3].text == ".")
        {
            out.append(t.range.lowerBound..<tokens[k + 2].range.upperBound)
            k += 3
            continue
        }
        let qualifiedBefore = k > 0 && tokens[k - 1].text == "."
        let qualifiedAfter = k + 1 < tokens.count && tokens[k + 1].text == "."
        if database == defaultDatabase, isName(t, name), !qualifiedBefore, !qualifiedAfter {
            out.append(t.range)
        }
        k += 1
    }
    return out
}

/// `sql` with every reference to the table replaced by `replacement`.
func replacingTable(in sql: String, database: String, name: String, defaultDatabase: String, with replacement: String) -> String {
    var out = sql
    for r in tableReferences(in: sql, database: database, name: name, defaultDatabase: defaultDatabase).reversed() {
        out.replaceSubrange(r, with: replacement)
    }
    return out
}

extension Catalog {
    /// Views that read `database.name`: materialized views the server lists as
    /// its dependents, and any view whose SELECT names it (plain views are not
    /// in the dependency list). `except` names views to leave out (the bridge).
    package func views(reading name: String, database: String, except: Set<String> = []) -> [DependentView] {
        guard !viewPositions.isEmpty else { return [] }  // no views: nothing to look up (asked per migration)
        let listed = Set(table(name, database: database)?.dependentViews ?? [])
        let columns = table(name, database: database)?.definition.columns.map(\.name) ?? []
        var out: [DependentView] = []
        for i in viewPositions {
            let t = tables[i]
            guard !except.contains("\(t.database).\(t.name)") else { continue }
            guard let select = viewSelect(t.createQuery) else { continue }
            let refs = tableReferences(in: select, database: database, name: name, defaultDatabase: t.database)
            guard listed.contains("\(t.database).\(t.name)") || !refs.isEmpty else { continue }
            let words = Set(sqlTokens(select).filter { $0.kind == .word || $0.kind == .quotedIdentifier }.map(\.text))
            out.append(DependentView(
                database: t.database, name: t.name, kind: t.isMaterializedView ? .materialized : .plain,
                target: t.viewTarget, select: select, columnsUsed: columns.filter { words.contains($0) }))
        }
        return out
    }
}

extension MigrationSQL {
    /// The views reading the old version and whether cut-over can carry them exactly.
    package func viewCarry(_ catalog: Catalog) -> ViewCarry {
        let oldDB = migration.from.database ?? database
        let twins = Set(catalog.views(reading: newName, database: db).map { "\($0.database).\($0.name)" })
        let views = catalog.views(reading: oldName, database: oldDB, except: Set(["\(db).\(migration.bridge)"]).union(twins))
        var carry = ViewCarry(views: views)
        guard !views.isEmpty else { return carry }
        let names = views.map(\.name).joined(separator: ", ")
        // Every column a view reads must exist in the new version with the same type,
        // or its copy would make every insert into the new version fail.
        let newTypes = Dictionary(migration.to.columns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        let oldTypes = Dictionary(oldColumns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        for v in views {
            for c in v.columnsUsed where newTypes[c] != oldTypes[c] {
                carry.refusal = "view \(v.name) reads column \(c), which \(new) \(newTypes[c] == nil ? "does not have" : "has with another type"): change the view first, or keep the column"
                return carry
            }
        }
        let mvs = carry.materialized
        guard !mvs.isEmpty else { return carry }
        if migration.cutover == .swap {
            carry.refusal = "materialized view(s) \(names) read \(old): a swap's catch-up copies would feed them twice; use versioned cut-over"
            return carry
        }
        if !capabilities.modernSQL {
            carry.refusal = "materialized view(s) \(mvs.map(\.name).joined(separator: ", ")) read \(old), and ClickHouse \(capabilities.version) has no ALTER TABLE … MODIFY QUERY (and ignores a WHERE inside a view's subquery), so mbg cannot move them to \(new) without counting rows twice or missing some. Exact alternative: stop the writers of \(old), recreate the view(s) on \(new) by hand, then run cutover"
            return carry
        }
        // The time column the split uses: the migration's cutoff column, else a
        // DateTime column every materialized view reads.
        let timeColumns = oldColumns.filter { $0.isStored && $0.type.contains("DateTime") }.map(\.name)
        let candidates = ([migration.cutoffColumn].compactMap { $0 } + timeColumns).filter { c in
            timeColumns.contains(c) && mvs.allSatisfy { $0.columnsUsed.contains(c) }
        }
        guard let col = candidates.first else {
            carry.refusal = "materialized view(s) \(names) read \(old) but share no DateTime column of it: cut-over needs one to split the rows between the view and its copy on \(new) exactly"
            return carry
        }
        carry.timeColumn = col
        return carry
    }

    /// The twin of a materialized view on the new version.
    package func twinName(_ v: DependentView) -> String {
        v.name + "_" + (splitPhysicalName(newName)?.version.suffix ?? newName)
    }

    private func restricted(_ v: DependentView, source: String, columns: [ColumnDef], filter: String?) -> String {
        let list = columns.filter { $0.kind != .ephemeral }.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let sub = filter.map { "(SELECT \(list) FROM \(source) WHERE \($0))" } ?? source
        return replacingTable(in: v.select, database: migration.from.database ?? database, name: oldName,
                              defaultDatabase: v.database, with: sub)
    }

    /// Statements that carry `views` at cut-over with split time `t`: twins on the
    /// new version first (they see nothing yet: rows are older than T), then the
    /// originals narrowed to rows before T, then plain views re-pointed.
    package func carryViews(_ carry: ViewCarry, cutoff t: Int) -> [String] {
        var sql: [String] = []
        let col = quoteIdentifier(carry.timeColumn ?? "")
        for v in carry.materialized {
            let twin = qualified(v.database, twinName(v))
            let select = restricted(v, source: new, columns: migration.to.columns, filter: "\(col) >= toDateTime(\(t))")
            let target = (v.target ?? "").split(separator: ".", maxSplits: 1).map { quoteIdentifier(String($0)) }.joined(separator: ".")
            sql.append("CREATE MATERIALIZED VIEW IF NOT EXISTS \(twin) TO \(target) AS \(select)")
        }
        for v in carry.materialized {
            let select = restricted(v, source: old, columns: oldColumns, filter: "\(col) < toDateTime(\(t))")
            sql.append("ALTER TABLE \(v.qualifiedName) MODIFY QUERY \(select)")
        }
        for v in carry.views where v.kind == .plain {
            let select = restricted(v, source: new, columns: [], filter: nil)
            if capabilities.modernSQL {
                sql.append("CREATE OR REPLACE VIEW \(v.qualifiedName) AS \(select)")
            } else {
                // 18.x has no CREATE OR REPLACE: the new definition is swapped in by one RENAME.
                let fresh = qualified(v.database, "_mbg_view_" + v.name)
                let gone = qualified(v.database, "_mbg_old_view_" + v.name)
                sql += ["CREATE VIEW \(fresh) AS \(select)", "RENAME TABLE \(v.qualifiedName) TO \(gone), \(fresh) TO \(v.qualifiedName)",
                        drop(gone, isView: true)]
            }
        }
        return sql
    }
}
