// Compiling a network: run the pass pipeline, lower, emit C, write the files, build the shared library, load it.
import Foundation
import KilnCodegenC
import KilnData
import KilnHarness
import KilnIR
import KilnPasses

/// How `kiln compile` and `kiln run` build a network.
public struct CompileOptions: Sendable {
  /// The largest batch the module accepts; buffers are sized for it.
  public var maxBatch: Int = 64
  /// Call OpenBLAS for convolutions and dense layers (`--no-blas` for Kiln's own loops).
  public var blas: Bool = true
  /// Let 3×3 stride-1 convolutions take Winograd F(2×2, 3×3) where it applies (`--no-winograd`: the direct
  /// tiled loops, whose sums are in the direct order and whose scratch is smaller: ResNet-20's arena at batch 1
  /// is 280 KB without Winograd against 487 KB with it, which holds the largest layer's transformed weights).
  public var winograd: Bool = true
  /// A generic build instead of `-march=native`.
  public var portable: Bool = false
  /// Build with OpenMP (off: sequential code).
  public var openMP: Bool = true
  /// `--cc`: the C compiler to use (else `CC`, else the measured default).
  public var compiler: String? = nil
  /// Per-thread scratch slots of kernels that need scratch.
  public var threadSlots: Int = 8
  /// Embed weights up to this many bytes.
  public var embedThreshold: Int = defaultEmbedThreshold
  /// The pass pipeline's options (`--disable-pass`, `--print-after`, `--no-fuse`).
  public var passes = PassOptions()
  /// Build with the per-step timers compiled in (`-DKILN_PROFILE`), as `kiln profile` does.
  public var profile = false
  /// `kiln compile --train`: the module also gets `<name>_train_step` (forward, loss, backward and every optimizer
  /// step of the spec's train section), optimizer state and checkpoints; its inference keeps batch norms
  /// unfolded, since training changes their statistics. Off, the module holds no training code at all.
  public var training = false
  public init() {}

  /// More scratch slots than samples would never be used: a batch-1 module needs one im2col buffer, not eight.
  var kernelOptions: KernelOptions {
    KernelOptions(blas: blas, threadSlots: max(1, min(threadSlots, maxBatch)), winogradConvolutions: winograd)
  }

  var buildOptions: BuildOptions {
    BuildOptions(
      optimization: portable ? .portable : .native, openMP: openMP, blas: blas, warningsAsErrors: true, profile: profile)
  }
}

/// The compile pipeline as a library, for the CLI, the tests and the benchmarks.
public enum Compilation {
  /// Runs the pipeline `options` select on a loaded graph (shape inference runs again: it is cheap and
  /// idempotent, and it keeps `--print-after shape-inference` meaningful).
  /// - Throws: `PipelineError` for bad pass options, `DiagnosticError` when a pass reports an error.
  public static func optimize(_ graph: Graph, options: PassOptions) throws -> Graph {
    let pipeline = try Pipeline(options: options)
    var g = graph
    let diagnostics = pipeline.run(&g)
    if diagnostics.contains(where: { $0.severity == .error }) { throw DiagnosticError(diagnostics) }
    return g
  }

  /// Runs the inference pipeline on `graph`, then lowers and emits it; `weights` (resolved against the graph
  /// as written, so removed layers never change which tensors a weights file must hold) is asked for values
  /// only when the module needs them.
  public static func generate(
    _ graph: Graph, specName: String, options: CompileOptions, writeWeightsFile: Bool = true,
    weights: () throws -> Weights
  ) throws -> GeneratedModule {
    var program: Program
    var training: Program?
    if options.training {
      var inference = options.passes
      if !inference.disabled.contains(FoldBatchNorm.passName) { inference.disabled.append(FoldBatchNorm.passName) }
      program = try Lowering.lower(optimize(graph, options: inference), maxBatch: options.maxBatch)
      var trainingProgram = try lowerTraining(graph, options: options)
      try Lowering.shareParameters(&program, &trainingProgram)
      training = trainingProgram
    } else {
      program = try Lowering.lower(optimize(graph, options: options.passes), maxBatch: options.maxBatch)
    }
    let emit = EmitOptions(
      kernels: options.kernelOptions, embedThreshold: options.embedThreshold, specName: specName,
      writeWeightsFile: writeWeightsFile)
    return try ModuleEmitter.emit(program, training: training, options: emit) {
      let w = try weights()
      var values: [String: [Float]] = [:]
      for name in w.names { if let t = w.float(name) { values[name] = t.data } }
      return values
    }
  }

  /// Writes `<name>.h`, `<name>.c` and, when present, `<name>.weights` into `directory`, each atomically.
  @discardableResult
  public static func write(_ module: GeneratedModule, to directory: URL) throws -> [URL] {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var files: [URL] = []
    for (suffix, text) in [("h", module.header), ("c", module.source)] {
      let url = directory.appendingPathComponent("\(module.name).\(suffix)")
      try AtomicFile.write(Array(text.utf8), to: url.path)
      files.append(url)
    }
    if let weights = module.weightsFile {
      let url = directory.appendingPathComponent("\(module.name).weights")
      try AtomicFile.write(weights, to: url.path)
      files.append(url)
    }
    return files
  }

  /// Builds the module written in `directory` into a shared library (from the content-hash cache when the
  /// same C was built before with the same compiler and flags).
  public static func build(_ module: GeneratedModule, in directory: URL, options: CompileOptions) throws -> BuildResult {
    let builder = try CBuilder.detect(override: options.compiler)
    var build = options.buildOptions
    build.blas = module.usesBLAS
    return try builder.buildSharedLibrary(
      sources: [directory.appendingPathComponent("\(module.name).c")], includeDirs: [directory], options: build)
  }

  /// What the harness needs to call the module.
  public static func interface(of module: GeneratedModule) -> ModelInterface {
    let p = module.program
    var interface = ModelInterface(
      name: p.name, inputs: p.inputs.map { .init(name: $0.name, size: $0.type.elementCount) },
      outputs: p.outputs.map { .init(name: $0.name, size: $0.type.elementCount) }, maxBatch: p.maxBatch,
      embeddedWeights: module.placement == .embedded)
    if let t = module.training, let target = t.program.targets.first {
      interface.training = TrainingInterface(
        targetSize: target.type.elementCount, classLabels: target.type.dtype == .i64,
        parameters: p.parameters.map { .init(name: $0.spec.name, offset: $0.offset, dims: $0.spec.dims) })
    }
    return interface
  }

  /// Generates, writes into a cache folder named by the C's content, builds and loads a network. `weights` are
  /// those compiled in (e.g. initialized from the spec); `safetensors`, when given, is then loaded by the
  /// module's own reader, so the C (and its cached build) never depends on the user's weights.
  public static func load(
    _ graph: Graph, specName: String, options: CompileOptions, safetensors: String? = nil,
    weights: () throws -> Weights
  ) throws -> (CompiledModel, GeneratedModule, BuildResult) {
    // With weights of the user's to load, a module whose weights live in a file needs no initialized ones:
    // for AlexNet that skips 62M random draws and a 249 MB write (embedded modules still need values to print).
    let module = try generate(graph, specName: specName, options: options, writeWeightsFile: safetensors == nil, weights: weights)
    let key = SHA256.hexDigest(Array((module.header + module.source).utf8)).prefix(16)
    let dir = BuildCache.defaultDirectory().appendingPathComponent("src-\(module.name)-\(key)")
    try write(module, to: dir)
    let result = try build(module, in: dir, options: options)
    let model = try CompiledModel(library: result.url, interface: interface(of: module))
    if let safetensors {
      try model.loadWeights(safetensors: safetensors)
    } else if module.placement == .external {
      try model.loadWeightsFile(dir.appendingPathComponent("\(module.name).weights").path)
    }
    return (model, module, result)
  }
}
