import Foundation
import MBG

/// Threads inserting small batches of uniquely numbered rows over HTTP, every
/// 100 ms, until stopped; what each insert wrote is known exactly.
final class Writers: @unchecked Sendable {
    typealias Batch = @Sendable (_ writer: Int, _ sequence: Int) -> [String]
    typealias Insert = @Sendable (_ table: String, _ list: String) -> String

    private let makeTransport: @Sendable () throws -> HTTPTransport
    private let database: String
    private let count: Int
    private let label: String
    private let batch: Batch
    private let insertSQL: Insert
    private let idColumn: String
    private let lock = NSLock()
    private var target: String
    private var stopping = false
    private var ids: [String] = []
    private var _failures = 0
    private var _unresolved = 0
    private let done = DispatchGroup()

    /// `batch` gives SQL literals of the ids a writer inserts next; `insert`
    /// the statement that writes them (`list` joins them with commas).
    init(
        transport: @escaping @Sendable () throws -> HTTPTransport, database: String, table: String, threads: Int,
        label: String, batch: @escaping Batch, insert: @escaping Insert, idColumn: String = "id"
    ) {
        self.idColumn = idColumn
        makeTransport = transport
        self.database = database
        target = table
        count = threads
        self.label = label
        self.batch = batch
        insertSQL = insert
    }

    /// How many rows were acknowledged, and their ids as SQL literals.
    var acked: Int { lock.withLock { ids.count } }
    var ackedIDs: [String] { lock.withLock { ids } }
    var failures: Int { lock.withLock { _failures } }
    var unresolved: Int { lock.withLock { _unresolved } }
    func retarget(_ table: String) { lock.withLock { target = table } }

    func start() {
        for w in 0..<count {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                guard let transport = try? makeTransport() else {
                    lock.withLock { _unresolved += 1 }
                    return
                }
                var sequence = 0
                while !lock.withLock({ stopping }) {
                    insert(batch(w, sequence), transport)
                    sequence += 1
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
        }
    }

    /// A failed insert is retried only after checking that none of its rows
    /// landed, so a retry can never duplicate.
    func insert(_ rows: [String], _ transport: HTTPTransport) {
        let list = rows.joined(separator: ", ")
        for _ in 0..<20 {
            let table = qualified(database, lock.withLock { target })
            do {
                try transport.run(insertSQL(table, list))
                lock.withLock { ids += rows }
                return
            } catch {
                lock.withLock { _failures += 1 }
                print("[\(label)] writer insert failed: \(error)")
                Thread.sleep(forTimeInterval: 0.05)
                guard let n = try? transport.execute(Query("SELECT count() FROM \(table) WHERE \(idColumn) IN (\(list))")).scalar.flatMap({ Int($0) }) else { continue }
                if n == rows.count { lock.withLock { ids += rows }; return }
                if n != 0 { lock.withLock { _unresolved += 1 }; return }
            }
        }
        lock.withLock { _unresolved += 1 }
    }

    func stop() {
        lock.withLock { stopping = true }
        done.wait()
    }
}
