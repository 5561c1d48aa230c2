/// The parser's verdict on the text typed so far.
public enum InputCompleteness: Equatable, Sendable {
    /// A whole statement (or several): evaluate it.
    case complete
    /// Valid so far but unfinished (an open brace, string or list): read
    /// another line with the continuation prompt.
    case incomplete
    /// Wrong in a way more lines cannot fix: evaluate at once, so the
    /// diagnostics print, and start afresh.
    case invalid
}

/// Everything the REPL needs from the interpreter. The REPL owns the terminal
/// (lines, prompts, history, dot-command parsing); the backend owns the
/// language and the connection. All methods are called on the REPL's thread,
/// except `cancelRunning`.
///
/// The backend writes its own output (results, diagnostics) to the
/// `ReplOutput` it was built with; use the same sink for the REPL.
public protocol ReplBackend: AnyObject {
    /// Whether `source` (every line of the statement so far, joined with
    /// "\n") is a complete statement. Lua's rule works: a parse that fails
    /// only at end of input is incomplete.
    func completeness(of source: String) -> InputCompleteness

    /// Evaluates `source` in the session, printing results and diagnostics.
    /// Returns false if it reported an error.
    func evaluate(_ source: String) -> Bool

    /// Candidates for Tab: keywords, declared names, catalog tables and
    /// columns. `prefix` is the word under the cursor; `line` is the statement
    /// typed so far up to and including the current line. Candidates that do
    /// not start with `prefix` are ignored.
    func completions(prefix: String, line: String) -> [String]

    /// `.tables`: the tables of the connected database.
    func tableNames() throws -> [String]

    /// `.describe NAME`: a printable description of a table (its columns,
    /// keys, engine) — a declared one or one in the catalog.
    func describe(_ name: String) throws -> String

    /// `.load FILE`: evaluates a script file in this session, printing its
    /// output and diagnostics. Returns false if it reported an error.
    func load(path: String) -> Bool

    /// `.connect URL`: switches the session to another server. Returns a
    /// message to show (say, the server version); must not echo a password.
    func connect(url: String) throws -> String

    /// Asks the server to cancel the query now running (Ctrl-C during an
    /// evaluation). Called from another thread while `evaluate` or `load` is
    /// still running, hence `@Sendable`; a no-op when nothing runs.
    var cancelRunning: @Sendable () -> Void { get }
}
