import Foundation

/// The machine-readable plan that `mbg plan --json` prints. Its shape is
/// documented in docs/plan-schema.json; `schema` changes when the shape does.
public struct PlanDocument: Codable, Sendable {
    public var schema = "mbg.plan/v1"
    public var changesPending: Bool
    public var steps: [PlanStep]
    public var warnings: [String]

    public init(plans: [Plan]) {
        steps = plans.flatMap(\.steps)
        warnings = plans.flatMap(\.warnings)
        changesPending = plans.contains { $0.hasChanges }
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case changesPending = "changes_pending"
        case steps, warnings
    }

    public func encoded(pretty: Bool) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
