import Foundation

/// Where the REPL and its backend write text for the user.
public protocol ReplOutput: AnyObject {
    func write(_ text: String)
}

extension ReplOutput {
    public func writeLine(_ text: String = "") {
        write(text + "\n")
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
