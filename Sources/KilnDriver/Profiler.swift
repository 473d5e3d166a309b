// `kiln profile` as a library: build the fused and unfused variants with the same weights, time every step of both.
import Foundation
import KilnCodegenC
import KilnData
import KilnHarness
import KilnIR
import KilnPasses

/// What to profile and how.
public struct ProfileOptions: Sendable {
  /// How both variants are compiled. `passes` is the fused variant's pipeline; the unfused variant runs it with
  /// `fuse` off. `maxBatch` is replaced by `batch`, and the timers are compiled in.
  public var compile = CompileOptions()
  /// Samples per call.
  public var batch = 1
  /// OpenMP threads (nil: OpenMP's default).
  public var threads: Int? = nil
  /// Timed runs of each variant (medians are reported), after `warmup` untimed ones.
  public var reps = 20
  public var warmup = 3
  /// Weights as safetensors, loaded by both modules; nil initializes them from the spec with `seed`.
  public var weightsPath: String? = nil
  /// Seeds the initial weights (when no file is given) and the input; nil takes the spec's seed, or 0.
  public var seed: UInt64? = nil

  public init() {}

  /// Throws a `ProfileError` naming the first option out of range.
  public func validate() throws {
    guard batch >= 1 else { throw ProfileError("--batch must be at least 1, got \(batch)") }
    if let threads, threads < 1 { throw ProfileError("--threads must be at least 1, got \(threads)") }
    guard reps >= 1 else { throw ProfileError("--reps must be at least 1, got \(reps)") }
    guard warmup >= 0 else { throw ProfileError("--warmup must be at least 0, got \(warmup)") }
    guard compile.passes.fuse else {
      throw ProfileError("--no-fuse: kiln profile always builds both the fused and the unfused variant")
    }
  }
}

/// A problem profiling a network.
public struct ProfileError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Builds, runs and times the two variants of a network.
public enum Profiler {
  /// Profiles `graph` (as loaded, before any pass). Both variants load the same source tensors (folded batch
  /// norms are prepared from them in C) and run the same seeded input. The timed runs alternate between the
  /// variants, so a slow phase of the machine slows both alike.
  public static func run(_ graph: Graph, specName: String, options: ProfileOptions) throws -> ProfileReport {
    try options.validate()
    let seed = options.seed ?? ParameterSource.defaultSeed(for: graph)
    if let path = options.weightsPath {
      // Checked here, against the graph as written, so every missing or mis-shaped tensor is named at once.
      _ = try ParameterSource.parameters(for: graph, weightsPath: path, seed: seed)
    }
    var initialized: Weights? = nil
    let weights = {
      if let initialized { return initialized }
      let w = try ParameterSource.parameters(for: graph, weightsPath: nil, seed: seed)
      initialized = w
      return w
    }
    var unfused = try Variant(name: "unfused", graph, fuse: false, specName: specName, options: options, weights)
    var fused = try Variant(name: "fused", graph, fuse: true, specName: specName, options: options, weights)

    let inputs = seededInputs(graph, batch: options.batch, seed: seed)
    let unfusedCall = try PreparedInference(model: unfused.model, inputs: inputs, n: options.batch)
    let fusedCall = try PreparedInference(model: fused.model, inputs: inputs, n: options.batch)
    for rep in 0..<(options.warmup + options.reps) {
      let order = rep % 2 == 0 ? [false, true] : [true, false]
      for isFused in order {
        let nanoseconds = try (isFused ? fusedCall : unfusedCall).run()
        guard rep >= options.warmup else { continue }
        if isFused { try fused.record(nanoseconds) } else { try unfused.record(nanoseconds) }
      }
    }
    let (absolute, relative) = differences(fusedCall.outputValues, unfusedCall.outputValues)
    let unfusedProfile = unfused.profile()
    let fusedProfile = fused.profile()
    return ProfileReport(
      network: graph.name, batch: options.batch, threads: options.threads, reps: options.reps,
      warmup: options.warmup, compiler: fused.compiler, unfused: unfusedProfile, fused: fusedProfile,
      groups: groups(
        fused: fused.graph, fusedSteps: fused.program.steps, unfused: unfused.graph,
        unfusedSteps: unfused.program.steps),
      maxAbsoluteDifference: absolute, maxRelativeDifference: relative)
  }

  /// One input tensor per data input, uniform in [−1, 1), from `seed`.
  static func seededInputs(_ graph: Graph, batch: Int, seed: UInt64) -> [[Float]] {
    graph.inputs(role: .data).map { node in
      var random = Xoshiro256StarStar(seed: seed, stream: "kiln-profile-input:\(node.name)")
      return (0..<(batch * (node.type?.elementCount ?? 0))).map { _ in Float(random.nextUnit() * 2 - 1) }
    }
  }

  /// The largest absolute difference over every output, and the largest per-output ratio of that to the
  /// output's largest |reference| value.
  static func differences(_ values: [[Float]], _ reference: [[Float]]) -> (absolute: Double, relative: Double) {
    var absolute = 0.0
    var relative = 0.0
    for (v, r) in zip(values, reference) {
      var worst = 0.0
      var scale = 0.0
      for (a, b) in zip(v, r) {
        let d = abs(Double(a) - Double(b))
        worst = d.isNaN || worst.isNaN ? .nan : Swift.max(worst, d)
        scale = Swift.max(scale, abs(Double(b)))
      }
      absolute = worst.isNaN || absolute.isNaN ? .nan : Swift.max(absolute, worst)
      let ratio = worst == 0 ? 0 : worst / scale
      relative = ratio.isNaN || relative.isNaN ? .nan : Swift.max(relative, ratio)
    }
    return (absolute, relative)
  }

  /// Groups every unfused step under the fused node that replaced it: a fused node claims the unfused steps of
  /// the nodes named by it or by its `absorbed` list. Unfused steps no fused node claims get groups of their own.
  static func groups(fused: Graph, fusedSteps: [Step], unfused: Graph, unfusedSteps: [Step]) -> [ProfileGroup] {
    var groups: [ProfileGroup] = []
    var groupOfNode: [NodeID: Int] = [:]
    var members: [Set<String>] = []
    for (i, step) in fusedSteps.enumerated() {
      if let g = groupOfNode[step.node] {
        groups[g].fusedSteps.append(i)
        continue
      }
      let node = fused[step.node]
      groupOfNode[step.node] = groups.count
      groups.append(ProfileGroup(name: node.name, fusedSteps: [i], unfusedSteps: []))
      members.append(Set([node.name] + node.absorbed))
    }
    var unclaimed: [String: Int] = [:]
    for (i, step) in unfusedSteps.enumerated() {
      let name = unfused[step.node].name
      if let g = members.firstIndex(where: { $0.contains(name) }) {
        groups[g].unfusedSteps.append(i)
      } else if let g = unclaimed[name] {
        groups[g].unfusedSteps.append(i)
      } else {
        unclaimed[name] = groups.count
        groups.append(ProfileGroup(name: name, fusedSteps: [], unfusedSteps: [i]))
      }
    }
    return groups
  }
}

/// One built variant and the timings gathered from it.
struct Variant {
  var name: String
  var graph: Graph
  var passes: [String]
  var program: Program
  var templates: [String]
  var model: CompiledModel
  var compiler: String
  var arenaBytes: Int
  var macs: [Int]
  /// Per timed run: the whole call, and each step's start and duration, in nanoseconds.
  var walls: [UInt64] = []
  var starts: [[UInt64]] = []
  var durations: [[UInt64]] = []

  init(
    name: String, _ source: Graph, fuse: Bool, specName: String, options: ProfileOptions,
    _ weights: () throws -> Weights
  ) throws {
    var compile = options.compile
    compile.passes.fuse = fuse
    compile.maxBatch = options.batch
    compile.profile = true
    self.name = name
    // The pipeline again for the optimized graph alone (for names and absorbed lists), without printing twice.
    var quiet = compile.passes
    quiet.printAfter = []
    graph = try Compilation.optimize(source, options: quiet)
    passes = try Pipeline(options: quiet).names
    let (model, module, build) = try Compilation.load(
      source, specName: specName, options: compile, safetensors: options.weightsPath, weights: weights)
    guard model.isProfilingBuild else {
      throw ProfileError(
        "the \(name) build of \(source.name) exports no \(source.name)_profile: -DKILN_PROFILE was lost")
    }
    if let threads = options.threads { try model.setThreads(threads) }
    self.model = model
    program = module.program
    templates = module.kernels.map(\.template)
    arenaBytes = module.arenaBytes
    compiler = URL(fileURLWithPath: build.command.first ?? "cc").lastPathComponent
    let perSample = Dictionary(
      NetworkSummary(graph).layers.map { ($0.name, $0.macs) }, uniquingKeysWith: { a, _ in a })
    macs = module.program.steps.map { step in
      switch step.op {
      case .conv2d, .dense: return (perSample[step.layer] ?? 0) * options.batch
      default: return 0
      }
    }
  }

  /// Keeps one timed run: its whole-call time and the module's step times.
  mutating func record(_ wall: UInt64) throws {
    let times = try model.lastStepTimes()
    let expected = program.steps.map(\.kernelName)
    guard times.names == expected else {
      throw ProfileError(
        "the \(name) module reports steps \(times.names.prefix(4))…, expected \(expected.prefix(4))… (\(expected.count))"
      )
    }
    walls.append(wall)
    starts.append(times.startNanoseconds)
    durations.append(times.durationNanoseconds)
  }

  /// The variant's profile from the recorded runs.
  func profile() -> VariantProfile {
    let byWall = walls.indices.sorted { walls[$0] < walls[$1] }
    let representative = byWall.isEmpty ? 0 : byWall[(byWall.count - 1) / 2]
    let steps = program.steps.enumerated().map { i, step in
      StepProfile(
        kernel: step.kernelName, layer: step.layer, op: Self.label(step.op), template: templates[i], macs: macs[i],
        time: TimingSummary(durations.map { Double($0[i]) / 1e9 }),
        representativeStart: durations.isEmpty ? 0 : Double(starts[representative][i]) / 1e9,
        representativeDuration: durations.isEmpty ? 0 : Double(durations[representative][i]) / 1e9)
    }
    return VariantProfile(
      name: name, passes: passes, steps: steps, wall: TimingSummary(walls.map { Double($0) / 1e9 }),
      arenaBytes: arenaBytes, representativeRun: representative)
  }

  /// `conv`, or what a conv or dense kernel computes besides: `conv+bn+add+relu`.
  static func label(_ op: Op) -> String {
    func parts(_ folded: FoldedBatchNorm?, _ activation: Activation, _ epilogue: [EpilogueOp]) -> [String] {
      [op.name] + (folded == nil ? [] : ["bn"]) + (activation == .identity ? [] : [activation.description])
        + epilogue.map(\.description)
    }
    switch op {
    case .conv2d(let c): return parts(c.foldedBatchNorm, c.activation, c.epilogue).joined(separator: "+")
    case .dense(let d): return parts(d.foldedBatchNorm, d.activation, d.epilogue).joined(separator: "+")
    default: return op.name
    }
  }
}
