import Foundation

/// A JSON value, decoded strictly (`true` is a boolean, never the number 1).
public indirect enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public static func parse(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n == n.rounded() ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): String(b)
        case .number(let n): String(n)
        case .string(let s): "\"\(s)\""
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): "{" + o.keys.sorted().map { "\($0): \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

/// Checks a JSON value against a JSON Schema (draft 2020-12), for the keywords
/// docs/plan-schema.json uses: type, properties, required,
/// additionalProperties, items, enum, const, minLength, $ref to #/$defs/….
/// An unknown keyword is reported rather than ignored, so the schema cannot
/// grow a rule this check silently skips.
public struct JSONSchema {
    public let root: JSONValue

    public init(contentsOf url: URL) throws {
        root = try JSONDecoder().decode(JSONValue.self, from: try Data(contentsOf: url))
    }

    static let annotations: Set<String> = ["$schema", "$id", "$defs", "title", "description"]

    /// Every violation, as `path: problem`; empty when the value is valid.
    public func validate(_ value: JSONValue) -> [String] {
        var errors: [String] = []
        check(value, root, "$", &errors)
        return errors
    }

    /// Parses `text` as one JSON value and validates it.
    public func validate(jsonText text: String) -> [String] {
        guard let value = try? JSONValue.parse(text) else { return ["$: not a single JSON value"] }
        return validate(value)
    }

    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    func check(_ value: JSONValue, _ schema: JSONValue, _ path: String, _ errors: inout [String]) {
        guard case .object(let rules) = schema else {
            errors.append("\(path): a schema must be an object")
            return
        }
        for (key, rule) in rules.sorted(by: { $0.key < $1.key }) {
            switch (key, rule) {
            case _ where Self.annotations.contains(key):
                continue
            case ("$ref", .string(let ref)):
                guard let target = resolve(ref) else {
                    errors.append("\(path): unresolvable $ref \(ref)")
                    continue
                }
                check(value, target, path, &errors)
            case ("type", .string(let want)):
                let have = value.typeName
                if !(have == want || (want == "number" && have == "integer")) {
                    errors.append("\(path): expected \(want), got \(have)")
                }
            case ("const", _):
                if value != rule { errors.append("\(path): expected \(rule), got \(value)") }
            case ("enum", .array(let options)):
                if !options.contains(value) { errors.append("\(path): \(value) is not one of \(rule)") }
            case ("minLength", .number(let n)):
                if case .string(let s) = value, Double(s.count) < n { errors.append("\(path): shorter than \(Int(n))") }
            case ("required", .array(let names)):
                guard case .object(let object) = value else { continue }
                for case .string(let name) in names where object[name] == nil {
                    errors.append("\(path): missing \(name)")
                }
            case ("properties", .object(let properties)):
                guard case .object(let object) = value else { continue }
                for (name, sub) in properties.sorted(by: { $0.key < $1.key }) {
                    if let v = object[name] { check(v, sub, "\(path).\(name)", &errors) }
                }
            case ("additionalProperties", .bool(false)):
                guard case .object(let object) = value else { continue }
                let known: Set<String>
                if case .object(let p)? = rules["properties"] { known = Set(p.keys) } else { known = [] }
                for name in object.keys.sorted() where !known.contains(name) {
                    errors.append("\(path): unexpected field \(name)")
                }
            case ("items", _):
                guard case .array(let items) = value else { continue }
                for (i, item) in items.enumerated() { check(item, rule, "\(path)[\(i)]", &errors) }
            default:
                errors.append("\(path): the schema uses '\(key)': \(rule), which this check does not know")
            }
        }
    }
}
