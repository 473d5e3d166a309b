// The pass registry: every pass Kiln has, in pipeline order, with why it runs and where it is legal.
import KilnIR

/// Whether a graph is being prepared for inference or for training.
public enum PipelineMode: String, Hashable, Sendable, CaseIterable {
  /// Running a trained network: dropout is the identity, batch norm uses running statistics.
  case inference
  /// Training: dropout is random, batch norm uses batch statistics, the losses are live.
  case training
}

/// One registered pass: its stable name, why it is in the pipeline, and where it may run.
public struct RegisteredPass: Sendable {
  /// Stable kebab-case name, as `--disable-pass` and `--print-after` take it.
  public let name: String
  /// One line: why the pipeline runs this pass.
  public let why: String
  /// The modes in which the pass is legal; it is left out of the other modes' pipelines.
  public let modes: Set<PipelineMode>
  /// A fusion pass: `--no-fuse` disables every one of these.
  public let isFusion: Bool
  /// A pass the rest of the pipeline cannot do without; it cannot be disabled.
  public let isRequired: Bool
  /// Makes the pass for a mode.
  public let make: @Sendable (PipelineMode) -> any GraphPass

  /// Registers a pass.
  public init(
    name: String, why: String, modes: Set<PipelineMode>, isFusion: Bool = false, isRequired: Bool = false,
    make: @escaping @Sendable (PipelineMode) -> any GraphPass
  ) {
    self.name = name
    self.why = why
    self.modes = modes
    self.isFusion = isFusion
    self.isRequired = isRequired
    self.make = make
  }
}

/// The one list of passes. Its order is the pipeline order; each mode runs the entries legal in it.
///
/// NOTE: passes that remove or move nodes renumber the rest. A training-mode dropout's random stream is keyed
/// by its node NAME (`CounterRandom.stream(named:)`), which no pass changes, so every mask survives renumbering.
///
/// The fusion passes (`isFusion`: fold-batchnorm and fuse-epilogues) are what `--no-fuse` turns off: the
/// unfused network then runs a kernel per layer as written (standalone batch norms, activations and adds),
/// which `kiln profile` compares against.
public enum PassRegistry {
  /// Every pass, in the order the pipelines run them.
  public static let passes: [RegisteredPass] = [
    RegisteredPass(
      name: "shape-inference", why: "every later pass, lowering and the interpreter rely on inferred types",
      modes: [.inference, .training], isRequired: true
    ) { _ in ShapeInference() },
    RegisteredPass(
      name: EliminateDead.passName, why: "values no output (or, in training, no loss) needs cost time and memory",
      modes: [.inference, .training]
    ) { EliminateDead(mode: $0) },
    RegisteredPass(
      name: RemoveIdentities.passName,
      why: "inference dropout, identity activations and no-op reshapes are copies; readers can read the input",
      modes: [.inference, .training]
    ) { RemoveIdentities(mode: $0) },
    RegisteredPass(
      name: FoldBatchNorm.passName,
      why: "an inference batch norm is a per-channel affine map: folded into the conv/dense before it, it costs nothing",
      modes: [.inference], isFusion: true
    ) { FoldBatchNorm(mode: $0) },
    // After fold-batchnorm, so that ResNet's relu(bn(conv(x)) + shortcut) is relu(conv'(x) + shortcut).
    RegisteredPass(
      name: FuseEpilogues.passName,
      why:
        "activations, residual adds and products applied by the conv/dense kernel that produces the value save a pass over memory each",
      modes: [.inference], isFusion: true
    ) { FuseEpilogues(mode: $0) },
    // NOTE: no eliminate-dead after fusion: fusing only removes the absorbed ops and leaves nothing dead.
    RegisteredPass(
      name: Autodiff.passName,
      why: "training is the same program run backward: gradient nodes go through the same lowering, planner and C emitter",
      modes: [.training]
    ) { Autodiff(mode: $0) },
    RegisteredPass(
      name: AppendOptimizerSteps.passName,
      why: "the update of every parameter is a node too, so one generated call runs forward, backward and the step",
      modes: [.training]
    ) { AppendOptimizerSteps(mode: $0) },
  ]

  /// The registered names, in pipeline order.
  public static var names: [String] { passes.map(\.name) }

  /// The registered pass called `name`, if any.
  public static func pass(named name: String) -> RegisteredPass? { passes.first { $0.name == name } }
}
