/// Decides which entries the REPL may write to the history file, which lives
/// on disk across sessions: anything that may carry a credential stays out.
///
/// An entry is not recorded if, ignoring case, it
/// - contains `password`, `passwd`, `secret`, `api_key`/`apikey`,
///   `access_key`, `credential` or `token` anywhere — in an
///   `env("CH_PASSWORD")` call, a setting or a SQL string alike;
/// - contains `identified by` / `identified with` (SQL `CREATE USER`,
///   `ALTER USER`);
/// - contains a URL with a password in it (`scheme://user:secret@host`), as
///   `.connect` might be given.
/// Blank entries are not recorded either. The rule errs on the side of
/// forgetting: a table named `tokens` is not recorded, which costs a retyped line.
public enum HistoryPolicy {
    static let sensitiveWords = [
        "password", "passwd", "secret", "api_key", "apikey", "access_key", "credential",
        "token", "identified by", "identified with",
    ]

    public static func mayRecord(_ entry: String) -> Bool {
        let lowered = entry.lowercased()
        if lowered.allSatisfy(\.isWhitespace) { return false }
        if sensitiveWords.contains(where: { lowered.contains($0) }) { return false }
        return !containsURLWithPassword(lowered)
    }

    /// `://user:anything@`: a colon in the user-info part of a URL.
    private static func containsURLWithPassword(_ text: String) -> Bool {
        var rest = text[...]
        while let schemeEnd = rest.range(of: "://") {
            let authority = rest[schemeEnd.upperBound...].prefix { !"/ \t\n\"'?#".contains($0) }
            if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
                return true
            }
            rest = rest[schemeEnd.upperBound...]
        }
        return false
    }
}
