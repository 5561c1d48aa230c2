import XCTest

@testable import MBG

/// Functions close over their scope, and the scope holds the functions defined
/// in it: without care that is a reference cycle, and every call that defines a
/// function would leak its scope for as long as the host runs.
final class ClosureMemoryTests: XCTestCase {
    func interpreter() -> (Interpreter, CollectingOutput) {
        let output = CollectingOutput()
        return (Interpreter(options: InterpreterOptions(), output: output), output)
    }

    func testTenThousandClosureCreatingEvaluationsKeepMemoryFlat() throws {
        let baseline = Environment.liveCount
        let (interp, _) = interpreter()
        try interp.evaluate(source: """
            fn outer(n) {
                fn inner(x) { return x + n }
                let twice = inner
                for i in [1, 2] { fn inLoop(y) { return y * i } }
                return inner(1) + twice(1)
            }
            let total = 0
            """)
        let afterSetup = Environment.liveCount
        for i in 0..<10_000 {
            try interp.evaluate(source: "total = total + outer(\(i % 7))")
        }
        guard case .int(let total)? = interp.globals.lookup("total") else { return XCTFail("no total") }
        XCTAssertGreaterThan(total, 0)
        XCTAssertLessThanOrEqual(
            Environment.liveCount - afterSetup, 2, "scopes of 10,000 calls are still alive: closures leak them")
        _ = baseline
    }

    func testReturnedClosureKeepsItsScope() throws {
        let (interp, output) = interpreter()
        try interp.evaluate(source: """
            fn make(n) {
                fn add(x) { return x + n }
                return add
            }
            let plus2 = make(2)
            let fs = [make(10), make(20)]
            print plus2(3), fs[0](1), fs[1](1)
            fn fact(n) { if n <= 1 { return 1 } return n * fact(n - 1) }
            print fact(10)
            """)
        XCTAssertEqual(output.lines, ["5 11 21", "3628800"])
    }

    func testInterpreterIsFreedWithItsFunctions() throws {
        let baseline = Environment.liveCount
        do {
            let (interp, _) = interpreter()
            try interp.evaluate(source: "fn f(x) { fn g(y) { return y } return g(x) }\nlet a = f(1)\nlet h = f")
        }
        XCTAssertEqual(Environment.liveCount, baseline, "the interpreter's scopes outlive it")
    }
}
