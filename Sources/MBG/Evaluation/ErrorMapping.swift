/// Errors from the layers below evaluation (transport, catalog, migration
/// engine), turned into diagnostics at the statement that ran them. The layers
/// below know nothing of diagnostics: the mapping lives here.

/// An error that knows which diagnostic kind (and so exit code) it belongs to.
/// A host's own engine can make its errors conform.
public protocol CategorizedError: Error {
    var diagnosticKind: Diagnostic.Kind { get }
}

extension MigrationError: CategorizedError {
    public var diagnosticKind: Diagnostic.Kind {
        switch self {
        case .locked: .lock
        case .verificationMismatch: .verification
        case .notFullyCompared: .notCompared
        case .inconsistent, .injectedFault: .server
        case .wrongPhase, .unsupported: .runtime
        }
    }
}

extension ClusterError: CategorizedError {
    package var diagnosticKind: Diagnostic.Kind {
        switch self {
        case .hostDown, .cannotReachNodes, .ddlTimeout: .server
        case .unknownCluster: .check
        // A setting of the server's, not the script: refused before anything changes.
        case .internalReplicationOff: .runtime
        }
    }
}

extension Interpreter {
    /// Errors from transports and engines, as diagnostics at the statement.
    func wrap<T>(_ location: SourceLocation, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let d as Diagnostic {
            throw d
        } catch let d as DiagnosticList {
            throw d
        } catch let e as TransportError {
            throw Diagnostic(.server, e.description, at: location)
        } catch let e as any CategorizedError {
            throw Diagnostic(e.diagnosticKind, String(describing: e), at: location)
        } catch {
            throw Diagnostic(.runtime, String(describing: error), at: location)
        }
    }
}
