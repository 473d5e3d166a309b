// swift-tools-version:6.0
// Kiln: a compile-ahead neural-network compiler that emits plain, fast C.
import PackageDescription

// The interpreter, tensor files and weight emission loop over millions of values; unoptimized they make the
// debug test suite minutes slower (AlexNet's 62M initial weights took 170 s), so they build with -O always.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
  name: "Kiln",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "kiln", targets: ["kiln"]),
    .library(name: "KilnIR", targets: ["KilnIR"]),
    .library(name: "KilnFrontend", targets: ["KilnFrontend"]),
    .library(name: "KilnPasses", targets: ["KilnPasses"]),
    .library(name: "KilnReference", targets: ["KilnReference"]),
    .library(name: "KilnData", targets: ["KilnData"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
  ],
  targets: [
    // The graph IR: types, ops, graphs, diagnostics, the verifier.
    .target(name: "KilnIR"),
    // Spec text (.kiln) -> Graph, with located diagnostics.
    .target(name: "KilnFrontend", dependencies: ["KilnIR"]),
    // Graph passes: shape inference, summaries, (later) folding, fusion, autodiff, planning.
    .target(name: "KilnPasses", dependencies: ["KilnIR"]),
    // The reference interpreter: the op specification every generated kernel is checked against.
    .target(name: "KilnReference", dependencies: ["KilnIR"], swiftSettings: optimizedInDebug),
    // zlib, for the gzip'd IDX files of the Debian dataset packages.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    // Tensor files (safetensors, .npy, IDX), weight stores and initializers.
    .target(name: "KilnData", dependencies: ["KilnIR", "CZlib"], swiftSettings: optimizedInDebug),
    // The C compiler driver: find a compiler that builds OpenMP code, build and cache by content hash, dlopen.
    .target(name: "KilnHarness", dependencies: ["KilnIR"]),
    // The top-level Templates/ folder (C kernel bodies and the C runtime) as resources.
    .target(name: "KilnTemplates", path: "Templates", resources: [.copy("kernels"), .copy("runtime")]),
    // C emission: the CPrinter for structure and glue, typed template contexts for kernel bodies.
    .target(
      name: "KilnCodegenC",
      dependencies: ["KilnIR", "KilnPasses", "KilnTemplates", .product(name: "Mustache", package: "swift-mustache")],
      swiftSettings: optimizedInDebug),
    // What the commands do, as a library: load and check a network, resolve its weights, run it.
    .target(
      name: "KilnDriver",
      dependencies: ["KilnIR", "KilnFrontend", "KilnPasses", "KilnReference", "KilnData", "KilnCodegenC", "KilnHarness"]),
    // The thin command-line tool.
    .executableTarget(
      name: "kiln",
      dependencies: [
        "KilnIR", "KilnDriver", "KilnPasses", "KilnData",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Helpers shared by every test target.
    .target(
      name: "KilnTestSupport",
      dependencies: [
        "KilnIR", "KilnFrontend", "KilnPasses", "KilnReference", "KilnData", "KilnDriver", "KilnCodegenC", "KilnHarness",
      ],
      path: "Sources/KilnTestSupport"),
    .testTarget(name: "KilnIRTests", dependencies: ["KilnIR", "KilnTestSupport"]),
    .testTarget(name: "KilnFrontendTests", dependencies: ["KilnFrontend", "KilnPasses", "KilnTestSupport"]),
    // Fixtures/ holds lit-style pass fixtures, found from the tests' #filePath.
    .testTarget(
      name: "KilnPassesTests",
      dependencies: ["KilnPasses", "KilnFrontend", "KilnReference", "KilnData", "KilnDriver", "KilnTestSupport"],
      exclude: ["Fixtures"]),
    .testTarget(
      name: "KilnReferenceTests", dependencies: ["KilnReference", "KilnFrontend", "KilnPasses", "KilnData", "KilnTestSupport"]),
    .testTarget(name: "KilnDataTests", dependencies: ["KilnData", "KilnTestSupport"]),
    .testTarget(
      name: "KilnCodegenCTests",
      dependencies: ["KilnCodegenC", "KilnPasses", "KilnReference", "KilnTestSupport", "KilnData", "KilnIR", "KilnHarness"]),
    .testTarget(
      name: "KilnCompileTests",
      dependencies: ["KilnDriver", "KilnCodegenC", "KilnHarness", "KilnReference", "KilnData", "KilnTestSupport"]),
    .testTarget(name: "KilnDriverTests", dependencies: ["KilnDriver", "KilnTestSupport"]),
    .testTarget(name: "KilnHarnessTests", dependencies: ["KilnHarness", "KilnTestSupport"]),
    .testTarget(name: "KilnCLITests", dependencies: ["KilnTestSupport", "KilnData", "KilnHarness"]),
  ]
)
