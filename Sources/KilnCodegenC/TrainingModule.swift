// The training half of a module: the planned training program, its kernels, and the optimizer-state layout.
import KilnIR
import KilnPasses

/// One tensor of optimizer state in the `opt_state` array.
public struct OptimizerStateSlot: Hashable, Sendable {
  /// `<parameter>.<slot>` with PyTorch's slot name, e.g. `c1.weight.exp_avg`: what a checkpoint calls it.
  public var name: String
  /// The parameter it belongs to, e.g. `c1.weight`.
  public var parameter: String
  /// Its shape in a checkpoint: the parameter's, or `[]` for a scalar (NAdam's `mu_product`).
  public var dims: [Int]
  /// Offset in floats from the start of opt_state; a multiple of 16 (64 bytes).
  public var offset: Int
  /// The value every element starts from: 1 for `mu_product` (PyTorch's `torch.ones(())`), else 0.
  public var initialValue: Float

  /// Elements of the slot.
  public var floats: Int { dims.reduce(1, *) }
}

/// What a module built for training adds to the inference module: `<name>_train_step` and its state.
public struct TrainingModule: Sendable {
  /// The training program, planned with its kernels' scratch (its parameters laid out like the module's).
  public var program: Program
  /// The kernel of each step of `program`, in order.
  public var kernels: [KernelFunction]
  /// Every optimizer-state tensor, in step order and, within a parameter, in its kernel's slot order.
  public var optimizerState: [OptimizerStateSlot]
  /// Floats of opt_state (each slot padded to 64 bytes).
  public var optimizerStateFloats: Int

  /// Bytes of arena one training step needs: the header's TRAIN_ARENA_BYTES.
  public var arenaBytes: Int { program.arenaFloats * 4 }

  /// The slots the optimizer-step kernels read and write, laid out in opt_state: each `.optimizerState`
  /// parameter of each optimizer step's kernel, in step order, 64-byte aligned.
  /// - Throws: `EmitError` when a kernel other than an optimizer step keeps state, when a slot is not named
  ///   `<parameter>.<slot>`, or its size is neither the parameter's nor (for `mu_product`) one float.
  static func optimizerStateLayout(
    of program: Program, kernels: [KernelFunction]
  ) throws -> (slots: [OptimizerStateSlot], floats: Int) {
    var slots: [OptimizerStateSlot] = []
    var floats = 0
    for (step, kernel) in zip(program.steps, kernels) {
      let state = kernel.parameters.filter { $0.role == .optimizerState }
      guard !state.isEmpty else { continue }
      guard case .optimizerStep(let update) = step.op else {
        throw EmitError("kernel \(kernel.name) keeps optimizer state but is not an optimizer step")
      }
      for parameter in state {
        let name = parameter.tensor ?? ""
        let prefix = update.parameter + "."
        guard name.hasPrefix(prefix), name.count > prefix.count else {
          throw EmitError("kernel \(kernel.name) names its state '\(name)'; expected '\(prefix)<slot>'")
        }
        let slot = String(name.dropFirst(prefix.count))
        let dims = slot == "mu_product" ? [] : update.dims
        guard parameter.floats == dims.reduce(1, *) else {
          throw EmitError(
            "kernel \(kernel.name) declares \(parameter.floats) floats of state '\(name)'; expected \(dims.reduce(1, *))"
          )
        }
        guard !slots.contains(where: { $0.name == name }) else {
          throw EmitError("optimizer state '\(name)' is kept by two steps")
        }
        slots.append(
          OptimizerStateSlot(
            name: name, parameter: update.parameter, dims: dims, offset: floats,
            initialValue: slot == "mu_product" ? 1 : 0))
        floats += alignedFloats(parameter.floats)
      }
    }
    return (slots, floats)
  }

  /// Checks that the training program reads and writes params in the inference program's layout, which one
  /// context's params array serves both.
  static func checkSharedParameters(_ inference: Program, _ training: Program) throws {
    guard inference.parameters == training.parameters, inference.parameterFloats == training.parameterFloats else {
      throw EmitError(
        "the training program of '\(training.name)' lays params out differently from its inference program; "
          + "share one layout first (Lowering.shareParameters)")
    }
    guard inference.folds.isEmpty else {
      throw EmitError(
        "the inference program of a training module must not fold batch norms (their statistics are trained)")
    }
  }
}

extension TrainingModule {
  /// The loss's target: its type (i64 class labels, or floats shaped like the prediction).
  func target() throws -> ProgramValue {
    guard program.targets.count == 1 else {
      throw EmitError(
        "training program '\(program.name)' has \(program.targets.count) targets; expected the loss's one")
    }
    return program.targets[0]
  }

  /// The C element type of the targets array: `int64_t` for class labels, else `float`.
  func targetCType() throws -> String { try target().type.dtype == .i64 ? "int64_t" : "float" }

  /// The number of classes a class label indexes (the prediction's elements per sample), for class labels.
  func classCount() throws -> Int? {
    guard try target().type.dtype == .i64 else { return nil }
    guard let loss = program.steps.first(where: { if case .loss = $0.op { return true } else { return false } }),
      let prediction = loss.inputTypes.first
    else { throw EmitError("training program '\(program.name)' has no loss step") }
    return prediction.elementCount
  }
}
