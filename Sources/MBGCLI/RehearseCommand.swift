import ArgumentParser
import Foundation
import MBG

/// `mbg rehearse`: the script's migrations run on a sample of production, in
/// the local engine, under synthetic writers; the report says how long the
/// real one would take. The server at `--url` is only read.
struct RehearseCommand: ParsableCommand, MBGRunnable {
    static let configuration = CommandConfiguration(
        commandName: "rehearse",
        abstract: "Rehearse the scripts' migrations on a sample of the server's tables, in the local engine.",
        discussion: """
            Reads (readonly=1) the catalog and a sample of every table the migrations read from the
            server at --url, creates them in a fresh database of the local engine (--local DIR,
            default .mbg/engine), runs each migration there through cut-over under synthetic
            writers, checks every row arrived exactly once, and reports the steps, rates, writer
            latency and the duration extrapolated to the real table sizes. Nothing is written to --url.
            """)

    @Argument(help: "Script files (.mbg).") var files: [String]
    @Option(help: "Rows to copy per table, in total over its partitions (proportionally).")
    var sample = 100_000
    @Option(help: "Synthetic writers inserting during the migration.")
    var writers = 2
    @Option(help: "Rows per second each writer inserts (in batches every 100 ms).")
    var rate = 100
    @Flag(help: "Keep the rehearsal's database in the local engine (it is dropped otherwise).")
    var keep = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if sample < 1 { throw ValidationError("--sample must be at least 1") }
        if writers < 0 || rate < 0 { throw ValidationError("--writers and --rate must not be negative") }
        if common.dryRun || common.catalog != nil {
            throw ValidationError("rehearse reads a live server: --dry-run and --catalog do not apply")
        }
    }

    func execute() -> MBGExit {
        guard let sources = readFiles(files) else { return .usage }
        do {
            let report = try Rehearsal(command: self).run(sources)
            if common.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                Console.out(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                Console.out(report.rendered())
            }
            return report.migrations.allSatisfy(\.exact.ok) ? .success : .verificationMismatch
        } catch {
            return report(error)
        }
    }
}

/// One rehearsal run: the source (read only), the local engine, the report.
struct Rehearsal {
    let command: RehearseCommand
    var common: CommonOptions { command.common }

    func run(_ sources: [(String, String)]) throws -> RehearsalReport {
        // The source: the connection the options describe, never the local engine.
        var sourceOptions = common
        sourceOptions.local = nil
        let sourceConnection = try RunSettings(common: sourceOptions, mode: .live).connection()
        let source = ReadOnlyTransport(try TransportRegistry.standard().make(sourceConnection))
        let sourceDB = try sourceConnection.database ?? source.run(RehearsalSQL.currentDatabase).scalar ?? "default"
        let catalog = try readLiveCatalog(source, sourceDB)
        let reporter: any ProgressReporter = common.quiet ? QuietReporter() : ConsoleReporter()

        // 1. The migrations, as the scripts declare them against the real catalog.
        let migrations = try declaredMigrations(sources, source, sourceDB)
        guard !migrations.isEmpty else { throw CLIError.usage("rehearse: the scripts declare no migration") }
        var tables: [CatalogTable] = []
        // The server table each migration's rows come from: its own source, or
        // for a chain (v0.1 -> v0.2 after v0.0 -> v0.1) the first one's.
        var origin: [String: CatalogTable] = [:]
        for m in migrations {
            if let db = m.from.database, db != sourceDB {
                throw CLIError.usage("rehearse: migration \(m.name) reads \(db).\(m.from.physicalName); rehearse one database at a time (--database \(db))")
            }
            if m.from.distributedBy != nil || m.to.cluster != nil || m.from.cluster != nil {
                throw CLIError.usage("rehearse: migration \(m.name) runs on a cluster; the local engine is one server")
            }
            if let table = catalog.table(m.from.physicalName, database: sourceDB) {
                if !tables.contains(where: { $0.name == table.name }) { tables.append(table) }
                origin[m.name] = table
            } else if let earlier = migrations.first(where: { $0.to.physicalName == m.from.physicalName }),
                let table = origin[earlier.name]
            {
                origin[m.name] = table
            } else {
                throw CLIError.usage("rehearse: migration \(m.name) reads \(sourceDB).\(m.from.physicalName), which the server at \(source.displayURL) does not have")
            }
        }

        // 2. A fresh database in the local engine.
        let localURL = try LocalEngine.ensureRunning(dataDir: common.local ?? ".mbg/engine")
        guard let url = URL(string: localURL) else { throw CLIError.usage("--local: the engine printed no URL") }
        let localConnection = ConnectionOptions(url: url)
        let local = try TransportRegistry.standard().make(localConnection)
        let localDB = "mbg_rehearsal_" + UUID().uuidString.lowercased().prefix(8)
        try local.run(RehearsalSQL.createDatabase(localDB))
        defer { if !command.keep { _ = try? local.run(RehearsalSQL.dropDatabase(localDB)) } }
        reporter.info("rehearsal database \(localDB) in the local engine at \(localURL)")

        // 3. The tables and a sample of each.
        var sizes: [String: RehearsalReport.TableSize] = [:]
        var samples: [String: RehearsalReport.Sample] = [:]
        let copier = SampleCopier(source: source, target: local)
        for table in tables {
            try local.run(createTableSQL(localTwin(table.definition, database: localDB), ifNotExists: false, name: table.name))
            let size = try source.run(RehearsalSQL.tableSize(sourceDB, table.name)).rows.first ?? []
            sizes[table.name] = RehearsalReport.TableSize(
                rows: Int(size.first.flatMap { $0 } ?? "") ?? table.totalRows,
                bytes: Int(size.count > 1 ? size[1] ?? "" : "") ?? 0, partitions: table.partitions.count)
            let copied = try copier.copy(from: sourceDB, table, to: localDB, sample: command.sample)
            let localSize = try local.run(RehearsalSQL.tableSize(localDB, table.name)).rows.first ?? []
            samples[table.name] = RehearsalReport.Sample(
                rows: copied.rows, partitions: copied.partitions, seconds: rounded(copied.seconds),
                bytes: Int(localSize.count > 1 ? localSize[1] ?? "" : "") ?? 0)
            reporter.info("copied \(copied.rows) of \(sizes[table.name]!.rows) rows of \(table.name) from \(copied.partitions) partition(s) in \(String(format: "%.2f", copied.seconds)) s")
        }

        // 4. The migrations, locally, through cut-over, under writers.
        let clock = PhaseClock(next: reporter)
        var options = InterpreterOptions(mode: .live, transport: local, database: localDB)
        options.stdlibPaths = LocalEngine.stdlibPaths()
        options.catalogLoader = readLiveCatalog
        options.assumeYes = true
        options.planOnly = true
        options.reporter = clock
        let output = TerminalOutput(json: false)
        output.scriptOutputToStderr = true
        output.quiet = common.quiet
        let interp = Interpreter(options: options, output: output)
        for (name, text) in sources { try interp.evaluate(source: text, name: name) }
        interp.options.planOnly = false

        var results: [RehearsalReport.Migration] = []
        for m in migrations {
            let table = origin[m.name]!
            // The table as it is now in the local engine (a chain's source was made by the migration before).
            guard let from = try readLiveCatalog(local, localDB).table(m.from.physicalName, database: localDB) else {
                throw CLIError.usage("rehearse: \(m.from.physicalName) is missing in the local engine before \(m.name)")
            }
            let before = Int(try local.run(RehearsalSQL.countAndHash(localDB, from.name, [])).scalar ?? "") ?? 0
            let plan = try interp.makePlan(only: m.name, nil)
            let steps = plan.steps.filter { $0.migration == m.name || $0.target.contains(m.to.physicalName) }
                .map { RehearsalReport.Step(kind: $0.kind.rawValue, target: $0.target, sql: $0.sql) }
            clock.reset()
            let writers = SyntheticWriters(
                transport: { try TransportRegistry.standard().make(localConnection) }, database: localDB,
                table: m.from.physicalName, rows: SyntheticRows(from.definition), count: command.writers,
                rowsPerSecond: command.rate)
            writers.start()
            let started = Date()
            do {
                try interp.evaluate(source: "apply \(quoteIdentifier(m.name)) cutover", name: "<rehearse>")
            } catch {
                writers.stop()
                throw error
            }
            let ended = Date()
            // Writers go on a moment after the cut-over: rows written then must arrive too.
            Thread.sleep(forTimeInterval: 0.5)
            writers.stop()
            let written = writers.summary
            let exact = try checkExact(m, from, local, localDB, before: before, written: written)
            results.append(
                RehearsalReport.Migration(
                    name: m.name, sourceTable: "\(sourceDB).\(table.name)" + (table.name == from.name ? "" : " (through \(from.name))"), newTable: m.to.physicalName,
                    cutover: m.cutover.rawValue, steps: steps, sourceSize: sizes[table.name]!,
                    sample: samples[table.name]!,
                    measured: measured(clock, started: started, ended: ended), writers: written, exact: exact))
        }
        return RehearsalReport(
            source: .init(url: source.displayURL, database: sourceDB, version: catalog.capabilities.version),
            local: .init(url: localURL, database: localDB, kept: command.keep),
            sampleRows: command.sample, writerCount: command.writers, writerRate: command.rate,
            migrations: results.map { $0.extrapolated() }, assumptions: RehearsalReport.assumptions(command))
    }

    /// The migrations the scripts declare, evaluated against the source's
    /// catalog with every acting statement skipped (plan-only: nothing is sent
    /// but reads, and those through the read-only transport).
    func declaredMigrations(_ sources: [(String, String)], _ source: any Transport, _ db: String) throws -> [MigrationDef] {
        var options = InterpreterOptions(mode: .live, transport: source, database: db)
        options.stdlibPaths = LocalEngine.stdlibPaths()
        options.catalogLoader = readLiveCatalog
        options.planOnly = true
        // What the scripts print shows once, in the local run.
        let interp = Interpreter(options: options, output: CollectingOutput())
        for (name, text) in sources { try interp.evaluate(source: text, name: name) }
        return interp.session.migrations
    }

    /// Every row exactly once: after the cut-over, the table with the new
    /// layout and the one with the old data each hold the rows the source had
    /// before (`before`: the sample) plus every acknowledged writer row, and
    /// (same columns) the same rows.
    func checkExact(
        _ m: MigrationDef, _ table: CatalogTable, _ local: any Transport, _ db: String, before: Int,
        written: SyntheticWriters.Summary
    ) throws -> RehearsalReport.Exact {
        let newLayout = m.cutover == .swap ? m.from.physicalName : m.to.physicalName
        let oldData = m.cutover == .swap ? m.to.physicalName : m.from.physicalName
        let columns = insertableColumns(table.definition).map(\.name)
        let newColumns = Set(m.to.columns.map(\.name))
        let comparable = m.transform == nil && (m.to.columns.isEmpty || Set(columns).isSubset(of: newColumns))
        let hashed = comparable ? columns : []
        let new = try local.run(RehearsalSQL.countAndHash(db, newLayout, hashed)).rows.first ?? []
        let old = try local.run(RehearsalSQL.countAndHash(db, oldData, hashed)).rows.first ?? []
        let expected = before + written.rows
        let newRows = Int(new.first.flatMap { $0 } ?? "") ?? -1
        let oldRows = Int(old.first.flatMap { $0 } ?? "") ?? -1
        let hashes: Bool? = comparable ? new.last == old.last : nil
        // A failed insert may still have written its rows (the server's answer was lost): then counts cannot be exact.
        let ok = newRows == expected && oldRows == expected && hashes != false
        return RehearsalReport.Exact(
            ok: ok, expectedRows: expected, newLayoutRows: newRows, oldDataRows: oldRows, hashesMatch: hashes,
            newLayoutTable: newLayout, oldDataTable: oldData)
    }

    func measured(_ clock: PhaseClock, started: Date, ended: Date) -> RehearsalReport.Measured {
        let backfilled = clock.backfilled ?? ended
        let verified = clock.verified ?? backfilled
        let rate = clock.backfillRowsPerSecond
        let backfillSeconds = rate > 0 ? Double(clock.backfillRows) / rate : 0
        // Before the backfill: the new table, the bridge, and the wait for T + lateness (cutoff) or in-flight inserts (fence).
        let before = max(0, backfilled.timeIntervalSince(started) - backfillSeconds)
        return RehearsalReport.Measured(
            applySeconds: rounded(ended.timeIntervalSince(started)), beforeBackfillSeconds: rounded(before),
            backfillRows: clock.backfillRows, backfillSeconds: rounded(backfillSeconds), backfillRowsPerSecond: rounded(rate),
            verificationSeconds: rounded(verified.timeIntervalSince(backfilled)),
            cutoverSeconds: rounded(ended.timeIntervalSince(verified)))
    }
}

func rounded(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

/// A reporter that says nothing (`--quiet`).
final class QuietReporter: ProgressReporter, @unchecked Sendable {
    func info(_ line: String) {}
    func warning(_ line: String) { Console.err("warning: \(line)") }
    func progress(_ label: String, done: Int, total: Int, rowsPerSecond: Double) {}
}
