import Foundation
import MBG

/// What `mbg rehearse` found, as text or as JSON (docs/rehearsal-schema.json).
struct RehearsalReport: Codable {
    var schema = "mbg.rehearsal/v1"
    var source: Server
    var local: Local
    var sampleRows: Int
    var writerCount: Int
    var writerRate: Int
    var migrations: [Migration]
    var assumptions: [String]

    struct Server: Codable {
        var url: String
        var database: String
        var version: String
    }

    struct Local: Codable {
        var url: String
        var database: String
        var kept: Bool
    }

    struct Step: Codable {
        var kind: String
        var target: String
        var sql: [String]
    }

    struct TableSize: Codable {
        var rows: Int
        var bytes: Int
        var partitions: Int
    }

    struct Sample: Codable {
        var rows: Int
        var partitions: Int
        var seconds: Double
        /// On disk in the local engine, compressed.
        var bytes: Int
    }

    struct Measured: Codable {
        var applySeconds: Double
        var beforeBackfillSeconds: Double
        var backfillRows: Int
        var backfillSeconds: Double
        var backfillRowsPerSecond: Double
        var verificationSeconds: Double
        var cutoverSeconds: Double
    }

    struct Exact: Codable {
        var ok: Bool
        var expectedRows: Int
        var newLayoutRows: Int
        var oldDataRows: Int
        /// Nil when the new version's columns differ (a transform): only counts compare.
        var hashesMatch: Bool?
        var newLayoutTable: String
        var oldDataTable: String
    }

    struct Estimate: Codable {
        var backfillSecondsByRows: Double
        var backfillSecondsByBytes: Double?
        var verificationSeconds: Double
        var fixedSeconds: Double
        var totalSeconds: Double
    }

    struct Migration: Codable {
        var name: String
        var sourceTable: String
        var newTable: String
        var cutover: String
        var steps: [Step]
        var sourceSize: TableSize
        var sample: Sample
        var measured: Measured
        var writers: SyntheticWriters.Summary
        var exact: Exact
        var estimate: Estimate?

        /// The real table's duration, scaled from the sample's (see `assumptions`).
        func extrapolated() -> Migration {
            var m = self
            let rate = measured.backfillRowsPerSecond
            let byRows = rate > 0 ? Double(sourceSize.rows) / rate : 0
            // Bytes per second of the backfill, from the sample's compressed size locally.
            let sampleBytesPerSecond =
                measured.backfillSeconds > 0 && sample.rows > 0
                ? Double(sample.bytes) * Double(measured.backfillRows) / Double(sample.rows) / measured.backfillSeconds : 0
            let byBytes = sampleBytesPerSecond > 0 && sourceSize.bytes > 0 ? Double(sourceSize.bytes) / sampleBytesPerSecond : nil
            let compared = max(1, measured.backfillRows)
            let verification = measured.verificationSeconds * Double(sourceSize.rows) / Double(compared)
            let fixed = measured.beforeBackfillSeconds + measured.cutoverSeconds
            m.estimate = Estimate(
                backfillSecondsByRows: rounded(byRows), backfillSecondsByBytes: byBytes.map(rounded),
                verificationSeconds: rounded(verification), fixedSeconds: rounded(fixed),
                totalSeconds: rounded(fixed + max(byRows, byBytes ?? 0) + verification))
            return m
        }
    }

    static func assumptions(_ c: RehearseCommand) -> [String] {
        [
            "the backfill and the verification scale linearly with rows (and, for the by-bytes estimate, with compressed bytes); the total takes the larger of the two backfill estimates",
            "the production server copies and hashes at the rate the local engine did here (same hardware, no other load than the rehearsal's writers); a busier or slower server takes longer",
            "the sample (\(c.sample) rows per table at most, spread over the partitions in proportion to their rows) is representative of the whole table's rows and value sizes",
            "writers: \(c.writers) at \(c.rate) rows/s each, in batches every 100 ms, rows made from the column types (MATERIALIZED and ALIAS columns left to the server); production's insert pattern may differ",
            "the time before the backfill (new table, bridge, waiting for T + lateness or for inserts in flight) and the cut-over do not grow with the table",
            "rows and bytes of the real table are the active parts in the server's system.parts when the rehearsal read them",
        ]
    }

    func rendered() -> String {
        var out = "rehearsal of \(migrations.count) migration(s) from \(source.url) (ClickHouse \(source.version), database \(source.database)) in \(local.database) at \(local.url)\(local.kept ? " (kept)" : "")\n"
        for m in migrations {
            out += "\nmigration \(m.name): \(m.sourceTable) -> \(m.newTable), cut-over \(m.cutover)\n"
            out += "  sample: \(m.sample.rows) of \(m.sourceSize.rows) rows (\(m.sample.partitions) of \(m.sourceSize.partitions) partitions) copied in \(m.sample.seconds) s\n"
            out += "  steps:\n"
            for s in m.steps {
                out += "    \(s.kind) \(s.target)\n"
                for sql in s.sql { out += sql.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n") + ";\n" }
            }
            let d = m.measured
            out += "  apply through cut-over: \(d.applySeconds) s (before backfill \(d.beforeBackfillSeconds) s, backfill \(d.backfillSeconds) s, verification \(d.verificationSeconds) s, cut-over \(d.cutoverSeconds) s)\n"
            out += "  backfill: \(d.backfillRows) rows at \(Int(d.backfillRowsPerSecond)) rows/s\n"
            let w = m.writers
            out += "  writers: \(w.inserts) inserts, \(w.rows) rows acknowledged (\(Int(w.achievedRowsPerSecond)) rows/s over \(w.seconds) s), \(w.failures) failed; latency p50 \(w.p50Milliseconds) ms, p99 \(w.p99Milliseconds) ms, max \(w.maxMilliseconds) ms\n"
            if let e = w.lastError { out += "    last failure: \(e)\n" }
            let x = m.exact
            let hash = x.hashesMatch.map { $0 ? ", hashes match" : ", HASHES DIFFER" } ?? " (columns differ: counts only)"
            out += "  exactly once: \(x.ok ? "yes" : "NO"): expected \(x.expectedRows) rows, \(x.newLayoutTable) (new layout) \(x.newLayoutRows), \(x.oldDataTable) (old data) \(x.oldDataRows)\(hash)\n"
            if let e = m.estimate {
                let bytes = e.backfillSecondsByBytes.map { ", \(duration($0)) by bytes" } ?? ""
                out += "  estimate for \(m.sourceSize.rows) rows, \(m.sourceSize.bytes) bytes: \(duration(e.totalSeconds)) in all (backfill \(duration(e.backfillSecondsByRows)) by rows\(bytes), verification \(duration(e.verificationSeconds)), fixed \(duration(e.fixedSeconds)))\n"
            }
        }
        out += "\nassumptions:\n" + assumptions.map { "  - " + $0 }.joined(separator: "\n")
        return out
    }

    private func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        return s < 3600 ? "\(s / 60) min \(s % 60) s" : "\(s / 3600) h \(s % 3600 / 60) min"
    }

    enum CodingKeys: String, CodingKey {
        case schema, source, local, migrations, assumptions
        case sampleRows = "sample_rows", writerCount = "writers", writerRate = "rows_per_second_per_writer"
    }
}
