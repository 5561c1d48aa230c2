/// What a script declared so far: the session. Indexed by name so that
/// declaring and looking up stay constant-time however long the script.
package struct Session {
    /// Tables in declaration order.
    package private(set) var tables: [TableDef] = []
    package private(set) var views: [ViewDef] = []
    /// Migrations in declaration order; a redeclared name replaces the old one in place.
    package private(set) var migrations: [MigrationDef] = []
    private var tablesByName: [String: [Int]] = [:]
    private var viewsByName: [String: Int] = [:]
    private var migrationsByName: [String: Int] = [:]

    /// Room for this many more declarations: a big script's arrays then grow
    /// once, not by doubling (each doubling holds the old and the new copy).
    mutating func reserve(tables more: Int, migrations moreMigrations: Int) {
        tables.reserveCapacity(tables.count + more)
        migrations.reserveCapacity(migrations.count + moreMigrations)
    }

    mutating func add(_ t: TableDef) {
        tablesByName[t.name, default: []].append(tables.count)
        tables.append(t)
    }

    mutating func add(_ v: ViewDef) {
        viewsByName[v.name] = views.count
        views.append(v)
    }

    mutating func add(_ m: MigrationDef) {
        if let i = migrationsByName[m.name] {
            migrations[i] = m
        } else {
            migrationsByName[m.name] = migrations.count
            migrations.append(m)
        }
    }

    /// Versions of a logical table, lowest first (unversioned counts lowest).
    package func versions(of logical: String) -> [TableDef] {
        (tablesByName[logical] ?? []).map { tables[$0] }.sorted {
            ($0.version ?? Version([-1])) < ($1.version ?? Version([-1]))
        }
    }
    package func table(_ logical: String, _ version: Version?) -> TableDef? {
        (tablesByName[logical] ?? []).lazy.map { tables[$0] }.first { $0.version == version }
    }
    package func latest(_ logical: String) -> TableDef? { versions(of: logical).last }
    package func migration(_ name: String) -> MigrationDef? { migrationsByName[name].map { migrations[$0] } }
    package func view(_ name: String) -> ViewDef? { viewsByName[name].map { views[$0] } }

    /// Every name the session knows, for completion.
    package var names: [String] {
        Array(Set(tables.map(\.name) + tables.map(\.physicalName) + views.map(\.name) + migrations.map(\.name))).sorted()
    }
}
