import Foundation
import MBG
import XCTest

final class CatalogIntegrationTests: XCTestCase {
    /// A table using every clause the lane's server understands.
    private func fullTable(_ ctx: LaneContext) -> TableDef {
        var columns = [
            ColumnDef(name: "id", type: "UInt64", isKey: true),
            ColumnDef(name: "ts", type: "DateTime"),
            ColumnDef(name: "order", type: "String", defaultExpression: "'none'"),
            ColumnDef(name: "ver", type: "UInt32"),
            ColumnDef(name: "twice", type: "UInt64", defaultExpression: "id * 2", defaultKind: "MATERIALIZED"),
            ColumnDef(name: "tags", type: "Array(LowCardinality(String))"),
            ColumnDef(name: "note", type: "Nullable(String)"),
            ColumnDef(name: "amount", type: "Decimal(18, 4)", defaultExpression: "0"),
        ]
        if ctx.lane.isModern {
            // CODEC (19.1+), DateTime64 and TTL (19.6+) are not in 18.16.
            columns[1].codec = "Delta(4), ZSTD(1)"
            columns.append(ColumnDef(name: "at", type: "DateTime64(3, 'UTC')", codec: "ZSTD(3)"))
        } else {
            columns[5].type = "Array(String)"
        }
        return TableDef(
            name: "events", version: Version([0, 2]), database: ctx.database, columns: columns,
            orderBy: ["id", "toStartOfHour(ts)", "`order`"], partitionBy: "toYYYYMM(ts)",
            engine: "ReplacingMergeTree(ver)",
            ttl: ctx.lane.isModern ? "ts + INTERVAL 30 DAY" : nil,
            settings: [SettingDef(name: "index_granularity", value: "4096")]
                + (ctx.lane.isModern ? [SettingDef(name: "merge_with_ttl_timeout", value: "3600")] : []))
    }

    func testDDLRoundTripHasNoDrift() {
        onEveryLane { ctx in
            let declared = fullTable(ctx)
            try ctx.transport.run(createTableSQL(declared, ifNotExists: true))
            // Again: IF NOT EXISTS makes it a no-op.
            try ctx.transport.run(createTableSQL(declared, ifNotExists: true))

            let plain = TableDef(
                name: "plain", database: ctx.database,
                columns: [ColumnDef(name: "x", type: "UInt8"), ColumnDef(name: "odd name", type: "String")],
                orderBy: [])
            try ctx.transport.run(createTableSQL(plain, ifNotExists: false))
            let memory = TableDef(
                name: "mem", database: ctx.database, columns: [ColumnDef(name: "x", type: "UInt8")],
                engine: "Memory")
            try ctx.transport.run(createTableSQL(memory, ifNotExists: false))

            let catalog = try CatalogReader(transport: ctx.transport, database: ctx.database).read()
            XCTAssertEqual(catalog.database, ctx.database)
            XCTAssertEqual(catalog.capabilities.atomicDatabase, ctx.lane.isModern)
            XCTAssertEqual(catalog.capabilities.exchangeTables, ctx.lane.isModern)
            XCTAssertEqual(catalog.capabilities.blockNumber, ctx.lane.isModern)
            XCTAssertEqual(Set(catalog.tables.map(\.name)), ["events_0_2", "plain", "mem"])

            guard let events = catalog.table("events_0_2") else { return XCTFail("[\(ctx.lane)] no events_0_2") }
            let live = events.definition
            XCTAssertEqual(live.name, "events")
            XCTAssertEqual(live.version, Version([0, 2]))
            XCTAssertEqual(live.engine, "ReplacingMergeTree(ver)")
            XCTAssertEqual(live.partitionBy, "toYYYYMM(ts)")
            XCTAssertEqual(live.orderBy?.count, 3)
            XCTAssertEqual(live.primaryKey, ["id"], "[\(ctx.lane)] primary key differs from the sorting key")
            XCTAssertEqual(live.column(named: "twice")?.defaultKind, "MATERIALIZED")
            XCTAssertEqual(
                catalogTableDiff(declared: declared, live: live), [],
                "[\(ctx.lane)] engine_full: \(events.engineFull)")
            if ctx.lane.isModern {
                XCTAssertNotNil(live.ttl)
                XCTAssertEqual(live.settings.map(\.name), ["index_granularity", "merge_with_ttl_timeout"])
                XCTAssertEqual(live.column(named: "at")?.codec, "ZSTD(3)")
            } else {
                XCTAssertEqual(live.settings, [SettingDef(name: "index_granularity", value: "4096")])
            }

            for (declaredTable, name) in [(plain, "plain"), (memory, "mem")] {
                guard let t = catalog.table(name) else { return XCTFail("[\(ctx.lane)] no \(name)") }
                XCTAssertEqual(
                    catalogTableDiff(declared: declaredTable, live: t.definition), [],
                    "[\(ctx.lane)] \(name): \(t.engineFull)")
            }
            XCTAssertEqual(catalog.table("plain")?.definition.orderBy, [])
        }
    }

    func testPartitionsAndViews() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE ev (id UInt64, day Date) ENGINE = MergeTree PARTITION BY toYYYYMM(day) ORDER BY id")
            try t.run("CREATE TABLE ev_0_2 (id UInt64, day Date) ENGINE = MergeTree PARTITION BY toYYYYMM(day) ORDER BY id")
            try t.run("INSERT INTO ev SELECT number, toDate('2024-01-01') + number % 60 FROM numbers(1000)")
            try t.run("INSERT INTO ev SELECT number, toDate('2024-01-01') FROM numbers(10)")
            try t.run("CREATE MATERIALIZED VIEW bridge TO \(quoteIdentifier(ctx.database)).ev_0_2 AS SELECT id, day FROM ev")

            let catalog = try CatalogReader(transport: ctx.transport, database: ctx.database).read()
            guard let ev = catalog.table("ev"), let bridge = catalog.table("bridge") else {
                return XCTFail("[\(ctx.lane)] tables: \(catalog.tables.map(\.name))")
            }
            XCTAssertEqual(ev.totalRows, 1010)
            XCTAssertEqual(ev.partitions.map(\.partitionID), ["202401", "202402"])
            XCTAssertEqual(ev.partitions.map(\.rows), [537, 473])
            // Two inserts made two parts in January, unless a merge already joined them.
            XCTAssertTrue((1...2).contains(ev.partitions.first?.parts ?? 0))
            XCTAssertGreaterThan(ev.partitions.first?.maxBlockNumber ?? 0, 0)
            XCTAssertEqual(ev.dependentViews, ["\(ctx.database).bridge"])
            XCTAssertTrue(bridge.isMaterializedView)
            XCTAssertEqual(bridge.viewTarget, "\(ctx.database).ev_0_2")
            XCTAssertEqual(catalog.versions(of: "ev").map(\.name), ["ev", "ev_0_2"])
            XCTAssertEqual(catalog.table("ev_0_2")?.totalRows, 0)
        }
    }

    func testDriftIsReported() {
        onEveryLane { ctx in
            let t = try ctx.transportInDatabase()
            try t.run("CREATE TABLE d (id UInt64, v UInt32, extra String) ENGINE = MergeTree ORDER BY (id, v)")
            let declared = TableDef(
                name: "d",
                columns: [
                    ColumnDef(name: "id", type: "UInt64", isKey: true),
                    ColumnDef(name: "v", type: "UInt64"),
                    ColumnDef(name: "missing", type: "String"),
                ],
                orderBy: ["id"], partitionBy: "id % 10")
            let catalog = try CatalogReader(transport: ctx.transport, database: ctx.database).read()
            guard let live = catalog.table("d")?.definition else { return XCTFail("no d") }
            XCTAssertEqual(
                catalogTableDiff(declared: declared, live: live),
                [
                    "column v: type UInt64 declared, UInt32 on the server",
                    "column missing is declared but not on the server",
                    "column extra is on the server but not declared",
                    "order by: id declared, (id, v) on the server",
                    "primary key: id declared, (id, v) on the server",
                    "partition by: id % 10 declared, none on the server",
                ], "[\(ctx.lane)]")
        }
    }

    func testMissingDatabase() {
        onEveryLane { ctx in
            XCTAssertThrowsError(
                try CatalogReader(transport: ctx.transport, database: ctx.database + "_nope").read()
            ) { error in
                XCTAssertEqual(error as? CatalogReadError, .missingDatabase(ctx.database + "_nope"))
            }
        }
    }
}
