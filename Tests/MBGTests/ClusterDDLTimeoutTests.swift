import Foundation
import XCTest

@testable import MBG

/// An `ON CLUSTER` DDL that timed out (18.16, code 159) becomes a diagnostic
/// naming the unfinished hosts, read from the DDL task's znode: the server's
/// answers here are the ones measured on the cluster lane.
final class ClusterDDLTimeoutTests: XCTestCase {
    /// Answers like a node of the lane with node 4 down: the task lists four
    /// hosts, three of which finished.
    final class Node: Transport, @unchecked Sendable {
        private(set) var sent: [String] = []
        let message = "Watching task /clickhouse/task_queue/ddl/query-0000000001 is executing longer than distributed_ddl_task_timeout (=5) seconds. There are 1 unfinished hosts (0 of them are currently active), they are going to execute the query in background"

        func execute(_ query: Query) throws -> QueryResult {
            let sql = query.sql
            sent.append(sql)
            if sql.contains("ON CLUSTER") {
                throw TransportError.server(code: 159, name: "TIMEOUT_EXCEEDED", message: message, url: "http://node1")
            }
            if sql.contains("FROM system.clusters") {
                return QueryResult(rows: (1...4).map { n in
                    ["mbg_cluster", String((n + 1) / 2), String(2 - n % 2), "127.0.0.1", "127.0.0.1", String(19130 + n)]
                })
            }
            if sql.contains("path = '/clickhouse/task_queue/ddl'") {
                return QueryResult(rows: [["query-0000000001", "version: 1\nquery: CREATE TABLE db.t ON CLUSTER mbg_cluster (id UInt64) ENGINE = MergeTree ORDER BY id\nhosts: ['127%2E0%2E0%2E1:19131','127%2E0%2E0%2E1:19132','127%2E0%2E0%2E1:19133','127%2E0%2E0%2E1:19134']\ninitiator: vm:19131\n"]])
            }
            if sql.contains("path = '/clickhouse/task_queue/ddl/query-0000000001/finished'") {
                return QueryResult(rows: [["127%2E0%2E0%2E1:19132", "0\n"], ["127%2E0%2E0%2E1:19131", "0\n"], ["127%2E0%2E0%2E1:19133", "0\n"]])
            }
            return .empty
        }
        func cancel(queryID: String) throws {}
        var displayURL: String { "node1" }
    }

    func testTimedOutDDLNamesTheUnfinishedHost() {
        let node = Node()
        let transport = ClusterDDLTransport(node)
        XCTAssertThrowsError(try transport.run("CREATE TABLE IF NOT EXISTS db.t ON CLUSTER mbg_cluster\n(\n    id UInt64\n)\nENGINE = MergeTree ORDER BY id")) { error in
            guard case ClusterError.ddlTimeout(let cluster, let statement, let unfinished, let count, let seconds, let task) = error else {
                return XCTFail("not a DDL timeout: \(error)")
            }
            XCTAssertEqual(cluster, "mbg_cluster")
            XCTAssertEqual(statement, "CREATE TABLE IF NOT EXISTS db.t ON CLUSTER mbg_cluster")
            XCTAssertEqual(unfinished.map(\.label), ["127.0.0.1:19134 (shard 2, replica 2)"])
            XCTAssertEqual(count, 1)
            XCTAssertEqual(seconds, 5)
            XCTAssertEqual(task, "/clickhouse/task_queue/ddl/query-0000000001")
            XCTAssertEqual((error as? ClusterError)?.diagnosticKind, .server, "exit 69")
            XCTAssertTrue("\(error)".contains("did not finish on host(s) 127.0.0.1:19134 (shard 2, replica 2) of cluster mbg_cluster within distributed_ddl_task_timeout (5 s)"), "\(error)")
        }
    }

    func testOtherErrorsPassThrough() {
        let transport = ClusterDDLTransport(Node())
        // Not ON CLUSTER: the server's own error, untouched.
        XCTAssertNoThrow(try transport.run("SELECT 1"))
        XCTAssertEqual(ClusterReader.onClusterName("DROP TABLE IF EXISTS db.t ON CLUSTER `my cluster` SYNC"), "my cluster")
        XCTAssertNil(ClusterReader.onClusterName("DROP TABLE db.t"))
        XCTAssertEqual(ClusterReader.taskHosts("hosts: ['a%2Eb:1','c:2']\n"), ["a.b:1", "c:2"])
    }
}
