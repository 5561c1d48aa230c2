/// A table version such as `v0.1` or `v1.10.2`, compared numerically part by part.
public struct Version: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var parts: [Int]

    public init(_ parts: [Int]) { self.parts = parts }

    /// Parses `0.1` or `v0.1`; nil when it is not digits separated by dots.
    public init?(parsing text: String) {
        var body = Substring(text)
        if body.first == "v" { body = body.dropFirst() }
        let pieces = body.split(separator: ".", omittingEmptySubsequences: false)
        var parts: [Int] = []
        for piece in pieces {
            guard !piece.isEmpty, piece.allSatisfy(\.isASCII), let n = Int(piece), n >= 0 else {
                return nil
            }
            parts.append(n)
        }
        guard !parts.isEmpty else { return nil }
        self.parts = parts
    }

    /// `0.1`
    public var description: String { joined(UInt8(ascii: ".")) }
    /// `0_1`, as used in physical names.
    public var suffix: String { joined(UInt8(ascii: "_")) }

    /// The parts in decimal with `separator` between them, written as bytes
    /// straight into the string: physical names are made for every table and
    /// step of a plan.
    private func joined(_ separator: UInt8) -> String {
        // At most 20 digits and a sign per part, and a separator.
        String(unsafeUninitializedCapacity: parts.count * 22) { buffer in
            var end = 0
            for (i, n) in parts.enumerated() {
                if i > 0 {
                    buffer[end] = separator
                    end += 1
                }
                if n < 0 {
                    buffer[end] = UInt8(ascii: "-")
                    end += 1
                }
                var m = n.magnitude
                let start = end
                repeat {
                    buffer[end] = UInt8(ascii: "0") + UInt8(m % 10)
                    end += 1
                    m /= 10
                } while m > 0
                buffer[start..<end].reverse()
            }
            return end
        }
    }

    public static func < (a: Version, b: Version) -> Bool {
        let n = max(a.parts.count, b.parts.count)
        for i in 0..<n {
            let x = i < a.parts.count ? a.parts[i] : 0
            let y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }
}

/// The physical name of a logical table at a version: `events v0.1` → `events_0_1`.
package func physicalName(_ logical: String, _ version: Version?) -> String {
    guard let version else { return logical }
    return "\(logical)_\(version.suffix)"
}

/// Recognises `events_0_1` as `events` at v0.1. Nil for names without a version suffix.
package func splitPhysicalName(_ name: String) -> (logical: String, version: Version)? {
    var parts = name.split(separator: "_", omittingEmptySubsequences: false)
    var numbers: [Int] = []
    while let last = parts.last, !last.isEmpty, last.allSatisfy({ $0.isASCII && $0.isNumber }),
        let n = Int(last)
    {
        numbers.insert(n, at: 0)
        parts.removeLast()
    }
    // A version needs at least two numbers (`_0_1`) so `events_2024` stays a plain name.
    guard numbers.count >= 2, !parts.isEmpty, !parts.joined(separator: "_").isEmpty else {
        return nil
    }
    return (parts.joined(separator: "_"), Version(numbers))
}
