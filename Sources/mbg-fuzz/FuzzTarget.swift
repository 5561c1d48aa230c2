import Foundation
import MBG

/// Lexes, parses and evaluates one input in dry-run: nothing reaches a server.
/// Any crash here is a bug; every input must end in output or diagnostics.
func fuzzOne(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = Parser.completeness(of: text)
    let interpreter = Interpreter(
        options: InterpreterOptions(mode: .dryRun, transport: DryRunTransport()), output: CollectingOutput())
    _ = try? interpreter.evaluate(source: text, name: "fuzz")
}

#if FUZZING
    /// libFuzzer's driver, called from our own entry point: SwiftPM links an
    /// executable's `main` to the module's entry function, so libFuzzer's
    /// `main` is never used.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @main
    struct Fuzz {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv) { data, size in
                fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
                return 0
            })
        }
    }
#else
    /// Without libFuzzer: replays the files given (a corpus, or crashes found).
    @main
    struct Replay {
        static func main() {
            var count = 0
            for path in CommandLine.arguments.dropFirst() {
                var paths = [path]
                if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                    paths = names.sorted().map { path + "/" + $0 }
                }
                for p in paths {
                    guard let data = FileManager.default.contents(atPath: p) else { continue }
                    data.withUnsafeBytes { fuzzOne($0) }
                    count += 1
                }
            }
            print("replayed \(count) inputs without a crash")
        }
    }
#endif
