// Measuring a compiled network: generated C size, compile time, and inference time beside the interpreter's.
import Foundation
import KilnData
import KilnHarness
import KilnIR
import KilnReference

/// What `kiln bench` measures for one network.
public struct BenchmarkReport: Sendable {
  public var network: String
  public var compiler: String
  public var sourceBytes: Int
  public var headerBytes: Int
  /// Lowering and emission, seconds.
  public var generateSeconds: Double
  /// The C compile (never from the cache), seconds.
  public var compileSeconds: Double
  /// Median seconds per call of the generated C, by batch.
  public var c: [Int: Double]
  /// Median seconds per run of the interpreter, by batch (absent when not measured).
  public var interpreter: [Int: Double]
}

/// Times networks. Medians after warm-up; noisy machines call for ratios from one run.
public enum Benchmark {
  public static func run(
    _ graph: Graph, specName: String, options: CompileOptions, batches: [Int], reps: Int, interpreterReps: Int,
    threads: Int?
  ) throws -> BenchmarkReport {
    var options = options
    options.maxBatch = batches.max() ?? 1
    let weights = try ParameterSource.parameters(for: graph, weightsPath: nil, seed: 0)
    let started = Date()
    let module = try Compilation.generate(graph, specName: specName, options: options) { weights }
    let generateSeconds = Date().timeIntervalSince(started)

    // A private cache folder, so the compile is really timed.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: scratch) }
    try Compilation.write(module, to: scratch)
    let builder = CBuilder(compiler: try CCompiler.detect(override: options.compiler), cacheDirectory: scratch.appendingPathComponent("cache"))
    var build = options.buildOptions
    build.blas = module.usesBLAS
    let result = try builder.buildSharedLibrary(
      sources: [scratch.appendingPathComponent("\(module.name).c")], includeDirs: [scratch], options: build)
    let model = try CompiledModel(library: result.url, interface: Compilation.interface(of: module))
    if module.placement == .external {
      try model.loadWeightsFile(scratch.appendingPathComponent("\(module.name).weights").path)
    }
    if let threads { try model.setThreads(threads) }

    var c: [Int: Double] = [:]
    for n in batches { c[n] = median(try model.timeInference(n: n, reps: reps)) }

    var interpreted: [Int: Double] = [:]
    if interpreterReps > 0 {
      let interpreter = try Interpreter(graph: graph, parameters: ParameterSource.tensors(weights))
      let input = graph.inputs(role: .data)[0]
      for n in batches {
        let x = Tensor(repeating: 0.5, shape: [n] + (input.type?.dims ?? []))
        var times: [Double] = []
        for _ in 0..<interpreterReps {
          let start = Date()
          _ = try interpreter.run([input.name: .f32(x)])
          times.append(Date().timeIntervalSince(start))
        }
        interpreted[n] = median(times)
      }
    }
    return BenchmarkReport(
      network: graph.name, compiler: "\(builder.compiler.name) (\(builder.compiler.version))",
      sourceBytes: module.source.utf8.count, headerBytes: module.header.utf8.count, generateSeconds: generateSeconds,
      compileSeconds: result.compileSeconds, c: c, interpreter: interpreted)
  }

  static func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }
}
