// The module emitter: a Program and its kernels become <name>.h and <name>.c (and, for large models, <name>.weights).
import KilnIR
import KilnPasses

/// The files of one generated module.
public struct GeneratedModule: Sendable {
  public var name: String
  public var header: String
  public var source: String
  /// The Kiln weights file, when the weights are too large to embed.
  public var weightsFile: [UInt8]?
  public var program: Program
  public var placement: WeightsPlacement
  public var usesBLAS: Bool
  /// Bytes of arena the module needs (activations and kernel scratch, planned together), the header's ARENA_BYTES.
  public var arenaBytes: Int
  /// The kernel of each step of `program`, in order (the template each one rendered is its `template`).
  public var kernels: [KernelFunction]
  /// The training step, for a module built for training; nil otherwise (the module then has no training code).
  public var training: TrainingModule? = nil
}

/// Everything the emitter needs beyond the program.
public struct EmitOptions: Sendable {
  public var kernels: KernelOptions
  /// Embed weights when they take at most this many bytes.
  public var embedThreshold: Int
  /// Shown in the banner, e.g. `examples/lenet5.kiln` (no absolute paths, so output is reproducible).
  public var specName: String
  /// Write the weights file of an external-weights module (off when only the C text is wanted).
  public var writeWeightsFile: Bool

  public init(
    kernels: KernelOptions = KernelOptions(), embedThreshold: Int = defaultEmbedThreshold, specName: String,
    writeWeightsFile: Bool = true
  ) {
    self.kernels = kernels
    self.embedThreshold = embedThreshold
    self.specName = specName
    self.writeWeightsFile = writeWeightsFile
  }
}

/// Writes the header and the source of a module.
public enum ModuleEmitter {
  /// Where the weights will go for a program, decided before any weight is materialized.
  public static func placement(for program: Program, options: EmitOptions) -> WeightsPlacement {
    program.parameterFloats * 4 <= options.embedThreshold ? .embedded : .external
  }

  /// Renders every step's kernel, records the scratch each one needs in its step (`Step.scratchFloats`) and plans
  /// the arena again, so each step's scratch shares the arena with the activations not live at that step.
  /// `emit` goes through here, and so does `kiln plan`, so both show one plan. A kernel with several scratch
  /// parameters gets them one after another, each 64-byte aligned, in its step's region.
  public static func planScratch(
    _ program: Program, options: KernelOptions
  ) throws -> (program: Program, kernels: [KernelFunction]) {
    // A training program's batch norms, dropouts and loss take their training kernels.
    var options = options
    options.training = program.mode == .training
    let kernels = try program.steps.map { try KernelCatalog.kernel(for: $0, program: program, options: options) }
    var planned = program
    try planned.planMemory(scratchFloats: kernels.map(scratchFloats(of:)))
    return (planned, kernels)
  }

  /// Floats of the kernel's scratch parameters, each rounded up to 64 bytes.
  static func scratchFloats(of kernel: KernelFunction) -> Int {
    kernel.parameters.filter { $0.role == .scratch }.map { alignedFloats($0.floats) }.reduce(0, +)
  }

  /// Emits the module. `parameters` gives each SOURCE tensor's values by name (the unfolded tensors a weights
  /// file holds; folded batch norms are prepared from them); it is called only when the weights are embedded
  /// or written to the weights file, so large models can pass their values lazily.
  ///
  /// With a `training` program (lowered by `Lowering.lowerTraining`, its params laid out like `program`'s), the
  /// module also gets `<name>_train_step` and its state: optimizer state, learning rate, seed, checkpoints.
  public static func emit(
    _ program: Program, training: Program? = nil, options: EmitOptions, parameters: () throws -> [String: [Float]]
  ) throws -> GeneratedModule {
    let (program, kernels) = try planScratch(program, options: options.kernels)
    var trainingModule: TrainingModule?
    if let training {
      try TrainingModule.checkSharedParameters(program, training)
      let (planned, trainingKernels) = try planScratch(training, options: options.kernels)
      let state = try TrainingModule.optimizerStateLayout(of: planned, kernels: trainingKernels)
      trainingModule = TrainingModule(
        program: planned, kernels: trainingKernels, optimizerState: state.slots, optimizerStateFloats: state.floats)
    }
    let usesBLAS = kernels.contains { $0.usesBLAS } || trainingModule?.kernels.contains { $0.usesBLAS } == true
    let placement = placement(for: program, options: options)
    let names = CNames(program.name)

    var params: [Float]? = nil
    if placement == .embedded || options.writeWeightsFile {
      let values: [String: [Float]]
      do {
        values = try ParameterPreparation.kernelValues(
          from: parameters(), kernel: program.parameters.map(\.spec), folds: program.folds)
      } catch let error as PreparationError {
        throw EmitError(error.description)
      }
      var flat = [Float](repeating: 0, count: program.parameterFloats)
      for slot in program.parameters {
        guard let v = values[slot.spec.name], v.count == slot.spec.elementCount else {
          throw EmitError("no values of \(slot.spec.elementCount) floats for parameter '\(slot.spec.name)'")
        }
        flat.replaceSubrange(slot.offset..<(slot.offset + v.count), with: v)
      }
      params = flat
    }

    let layout = ModuleLayout(
      program: program, names: names, kernels: kernels,
      placement: placement, usesBLAS: usesBLAS, threadSlots: options.kernels.threadSlots, specName: options.specName,
      training: trainingModule)
    let header = try HeaderWriter.write(layout)
    let source = try SourceWriter.write(layout, embedded: placement == .embedded ? params : nil)
    let weightsFile = placement == .external && options.writeWeightsFile
      ? try WeightsFile.encode(
        network: program.name, fingerprint: WeightsFile.fingerprint(of: program.parameters.map(\.spec)),
        params: params ?? [])
      : nil
    return GeneratedModule(
      name: program.name, header: header, source: source, weightsFile: weightsFile, program: program,
      placement: placement, usesBLAS: usesBLAS, arenaBytes: program.arenaFloats * 4, kernels: kernels,
      training: trainingModule)
  }
}

/// A problem emitting a module.
public struct EmitError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// What the header and source writers share.
struct ModuleLayout {
  var program: Program
  var names: CNames
  var kernels: [KernelFunction]
  var placement: WeightsPlacement
  var usesBLAS: Bool
  var threadSlots: Int
  var specName: String
  /// The training step of a module built for training.
  var training: TrainingModule? = nil
}

/// The C identifiers of a module: `lenet5_create`, `LENET5_MAX_BATCH`.
struct CNames {
  var prefix: String
  var macro: String
  init(_ network: String) {
    prefix = network
    macro = network.uppercased()
  }
  func fn(_ s: String) -> String { "\(prefix)_\(s)" }
  func m(_ s: String) -> String { "\(macro)_\(s)" }
}
