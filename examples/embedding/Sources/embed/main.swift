// Embeds the mbg interpreter in a Swift program:
//   1. a transport of the host's own (here: one that logs every statement and
//      passes it on to another transport, registered under its own URL scheme);
//   2. a host function scripts can call;
//   3. source text evaluated, then values and the plan read back in Swift.
//
//   swift run embed                                   # no server: dry-run
//   MBG_URL=http://127.0.0.1:8123 MBG_DATABASE=db swift run embed   # a real server (plans only)
import Foundation
import MBG

/// Passes statements to `inner` and remembers them: the host's own transport.
final class LoggingTransport: Transport, @unchecked Sendable {
    let inner: any Transport
    private let lock = NSLock()
    private(set) var log: [String] = []

    init(inner: any Transport) { self.inner = inner }

    func execute(_ query: Query) throws -> QueryResult {
        lock.lock()
        log.append(query.sql)
        lock.unlock()
        FileHandle.standardError.write(Data("transport: \(query.sql.prefix(70).replacingOccurrences(of: "\n", with: " "))\n".utf8))
        return try inner.execute(query)
    }
    func cancel(queryID: String) throws { try inner.cancel(queryID: queryID) }
    var displayURL: String { "logged+" + inner.displayURL }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("embed: \(message)\n".utf8))
    exit(1)
}

// 1. The transport, picked by URL scheme from a registry the host extends.
let registry = TransportRegistry.standard()
registry.register(scheme: "logged+http") { options in
    var plain = options
    plain.url = URL(string: options.url.absoluteString.replacingOccurrences(of: "logged+http", with: "http"))!
    return LoggingTransport(inner: try HTTPTransport(options: plain))
}
registry.register(scheme: "logged+dry-run") { _ in LoggingTransport(inner: DryRunTransport()) }

let env = ProcessInfo.processInfo.environment
let live = env["MBG_URL"] != nil
let url = URL(string: "logged+" + (env["MBG_URL"] ?? "dry-run:"))!
let transport = try registry.make(ConnectionOptions(url: url, database: env["MBG_DATABASE"]))

// The standard library of the checkout this example lives in.
let stdlib = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("../../../../stdlib").standardizedFileURL.path

var options = InterpreterOptions(
    mode: live ? .live : .dryRun, transport: transport, database: env["MBG_DATABASE"], stdlibPaths: [stdlib])
options.planOnly = true  // read, never change: `apply` and `sql` are skipped
let output = CollectingOutput()
let interpreter = Interpreter(options: options, output: output)

// 2. A host function: scripts call `approved_by()` and `notify(text)`.
var notifications: [String] = []
interpreter.register("approved_by", arity: 0) { _, _ in .string("release-bot") }
interpreter.register("notify", arity: 1) { args, context in
    guard case .string(let text) = args[0] else { throw context.error("notify takes a string") }
    notifications.append(text)
    return .null
}

// 3. Evaluate source text…
let source = """
    import "reorder"
    table events v0.0 {
        id          String  key
        created_at  DateTime
    } partition_by "toYYYYMM(created_at)"
    let m = reorder(events v0.0, "v0.1", ["created_at", "id"])
    notify("\\(m.name): \\(m.from) -> \\(m.to), approved by \\(approved_by())")
    let summary = {table: m.to.physical_name, order_by: m.to.order_by}
    print summary
    """
do {
    try interpreter.evaluate(source: source, name: "<host>")
} catch let list as DiagnosticList {
    fail(list.diagnostics.map { $0.render(color: false) }.joined(separator: "\n"))
}

// …and read values back.
guard case .migration(let m)? = interpreter.globals.lookup("m") else { fail("no migration m") }
guard case .record? = interpreter.globals.lookup("summary") else { fail("no record summary") }
let plan = try interpreter.makePlan(only: nil, nil)

print("migration: \(m.name) \(m.from.physicalName) -> \(m.to.physicalName), order by \(m.to.effectiveOrderBy.joined(separator: ", "))")
print("notified: \(notifications.joined(separator: "; "))")
print("printed: \(output.lines.joined(separator: "; "))")
print("plan: \(plan.steps.count) steps, changes pending: \(plan.hasChanges)")
for step in plan.steps { print("  \(step.status.rawValue) \(step.kind.rawValue) \(step.target)") }
print("transport: \(transport.displayURL), \((transport as? LoggingTransport)?.log.count ?? 0) statements")
let json = String(decoding: PlanDocument(plans: [plan]).encoded(pretty: false), as: UTF8.self)
print("plan json: \(json.count) bytes, schema \(PlanDocument(plans: [plan]).schema)")

// The example checks itself, so CI notices when the API breaks.
guard m.to.physicalName == "events_0_1", notifications.count == 1, notifications[0].hasSuffix("approved by release-bot"),
    plan.steps.contains(where: { $0.kind == .backfill && $0.status == .pending }),
    output.lines == ["{table: \"events_0_1\", order_by: [\"created_at\", \"id\"]}"]
else { fail("unexpected results") }
print("ok")
