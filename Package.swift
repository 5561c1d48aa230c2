// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mbg",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "MBG", targets: ["MBG"]),
        .executable(name: "mbg", targets: ["mbg"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "CLibEdit",
            path: "Sources/CLibEdit",
            pkgConfig: "libedit",
            providers: [.apt(["libedit-dev"])]
        ),
        .target(name: "MBG", path: "Sources/MBG"),
        // The command line and the REPL: everything that knows about terminals.
        .target(
            name: "MBGCLI",
            dependencies: [
                "MBG", "CLibEdit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/MBGCLI"
        ),
        .executableTarget(name: "mbg", dependencies: ["MBGCLI"], path: "Sources/mbg"),
        // libFuzzer target (scripts/fuzz); without -DFUZZING it replays a corpus.
        .executableTarget(
            name: "mbg-fuzz", dependencies: ["MBG"], path: "Sources/mbg-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        // Depends on the executable so golden tests can run the real binary.
        // Helpers shared by the test targets (running the built binary, paths,
        // the JSON Schema check of `plan --json`).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "MBGTests", dependencies: ["MBG", "MBGCLI", "mbg", "TestSupport"], path: "Tests/MBGTests"),
        .testTarget(
            name: "IntegrationTests", dependencies: ["MBG", "MBGCLI", "mbg", "TestSupport"],
            path: "Tests/IntegrationTests"),
    ],
    swiftLanguageModes: [.v6]
)
