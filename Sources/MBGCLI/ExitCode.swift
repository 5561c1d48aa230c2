import MBG

/// The exit codes of `mbg`, documented in docs/exit-codes.md.
public enum MBGExit: Int32, CaseIterable, Sendable {
    case success = 0
    /// A bug in mbg; for `mbg fmt --check`, files that need formatting.
    case internalError = 1
    /// `plan --detailed-exitcode`: the plan has changes to apply.
    case changesPending = 2
    /// The script ran and failed: a failed `assert`, `fail(…)`, a runtime
    /// error (overflow, division by zero, …). Not a sysexits code: none of
    /// the free ones means "the script's own check failed" (75, TEMPFAIL,
    /// would even make retrying wrappers retry it); see docs/exit-codes.md.
    case runtimeError = 3
    /// `verify` (or `apply`'s verification) could not compare every partition:
    /// writes never paused long enough. Nothing was found to differ; see the report.
    case notFullyCompared = 4
    /// Wrong command-line arguments.
    case usage = 64
    /// The script does not parse or check (syntax or check error).
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
        case .syntax, .check: .scriptError
        case .runtime: .runtimeError
        case .server: .serverError
        case .verification: .verificationMismatch
        case .notCompared: .notFullyCompared
        case .lock: .locked
        case .confirmation: .notConfirmed
        }
    }

    /// The most specific code for several failures: the first that is not a
    /// script error (65) wins, so a failed check or server error is not hidden
    /// behind a broken statement reported before it.
    public static func of(_ diagnostics: [Diagnostic]) -> MBGExit {
        let codes = diagnostics.map { of($0.kind) }
        return codes.first { $0 != .scriptError } ?? codes.first ?? .success
    }
}
