import MBG

/// The exit codes of `mbg`, documented in docs/exit-codes.md.
public enum MBGExit: Int32, CaseIterable, Sendable {
    case success = 0
    /// A bug in mbg.
    case internalError = 1
    /// `plan --detailed-exitcode`: the plan has changes to apply.
    case changesPending = 2
    /// Wrong command-line arguments.
    case usage = 64
    /// The script is malformed or wrong: syntax, check, runtime error, failed assert.
    case scriptError = 65
    /// ClickHouse answered with an error or could not be reached.
    case serverError = 69
    /// Verification found the old and new tables differ.
    case verificationMismatch = 70
    /// Another run holds the migration's lock.
    case locked = 73
    /// A destructive action needed `--yes` (no terminal to ask on) or was declined.
    case notConfirmed = 77

    public static func of(_ kind: Diagnostic.Kind) -> MBGExit {
        switch kind {
        case .syntax, .check, .runtime: .scriptError
        case .server: .serverError
        case .verification, .notCompared: .verificationMismatch
        case .lock: .locked
        case .confirmation: .notConfirmed
        }
    }

    /// The most specific code for several failures: the first non-script one wins.
    public static func of(_ diagnostics: [Diagnostic]) -> MBGExit {
        let codes = diagnostics.map { of($0.kind) }
        return codes.first { $0 != .scriptError } ?? codes.first ?? .success
    }
}
