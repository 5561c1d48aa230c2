// swift-tools-version:6.0
// A host program that embeds the mbg interpreter (see README.md here).
import PackageDescription

let package = Package(
    name: "mbg-embedding-example",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "mbg", path: "../..")],
    targets: [
        .executableTarget(
            name: "embed", dependencies: [.product(name: "MBG", package: "mbg")], path: "Sources/embed")
    ],
    swiftLanguageModes: [.v6]
)
