import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the REPL and its backend write text for the user.
public protocol ReplOutput: AnyObject {
    func write(_ text: String)
}

extension ReplOutput {
    public func writeLine(_ text: String = "") {
        write(text + "\n")
    }
}

/// Writes straight to file descriptor 1, unbuffered, so output interleaves
/// correctly with what libedit draws.
public final class StandardOutputSink: ReplOutput {
    public init() {}

    public func write(_ text: String) {
        writeToStandardOutput(text)
    }
}

/// write(2) to fd 1 until all of `text` is out.
func writeToStandardOutput(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes {
            write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}

/// Keeps everything written, for tests and for embedding.
public final class CapturedOutput: ReplOutput {
    public private(set) var text = ""

    public init() {}

    public func write(_ text: String) {
        self.text += text
    }
}
