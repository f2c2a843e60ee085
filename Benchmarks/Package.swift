// swift-tools-version: 6.1
// Microbenchmarks of IdentityRisk's per-call work (ordo-one/benchmark).
//
// A package of its own so that the main build stays lean: the root package
// never sees the benchmark dependency. Run from this folder (it builds into
// Benchmarks/.build, not the root's .build):
//
//     cd Benchmarks
//     swift package --allow-writing-to-package-directory benchmark --target PerCallWork
//
// docs/microbenchmarks.md has the numbers and how to read them.
import PackageDescription

import struct Foundation.URL

// A path dependency's identity is the name of its folder, which is whatever the
// clone was called ("main" here, something else in CI): derive it.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "IdentityRiskBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // Only the MallocInterposer trait (malloc counts): benchmark 1.38.1's default
        // traits also pull in swift-runtime-interposer on Linux with Swift 6.3, which
        // is not available here (and older setups wanted jemalloc).
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "PerCallWork",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "IdentityRiskCore", package: root),
                .product(name: "IdentityRiskService", package: root),
                .product(name: "IdentityRiskWire", package: root),
                .product(name: "IdentityRiskStore", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/PerCallWork",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
    ]
)
