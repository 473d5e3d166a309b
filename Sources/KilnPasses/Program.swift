// The lowered program: kernel steps in execution order over typed buffers, with parameter and arena layouts.
import KilnIR

/// Identifies a buffer of a program.
public struct BufferID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var index: Int
  public init(_ index: Int) { self.index = index }
  public static func < (a: BufferID, b: BufferID) -> Bool { a.index < b.index }
  public var description: String { "t\(index)" }
}

/// A tensor the program reads or writes: per-sample sized and batched to the compiled maximum, or (a parameter
/// gradient, the loss) a fixed number of elements.
public struct Buffer: Hashable, Sendable {
  public enum Storage: Hashable, Sendable {
    /// The caller's i-th input array.
    case input(Int)
    /// The caller's i-th output array.
    case output(Int)
    /// A region of the arena.
    case arena
    /// Training: the caller's i-th target array (class labels or regression targets of the loss).
    case target(Int)
    /// Training: the caller's loss scalar, which the loss step writes.
    case loss
    /// Training: the value of an optimizer step, which is nothing (it updates parameters in place); never bound.
    case empty
  }
  public var id: BufferID
  /// The graph value it holds, e.g. `c1` (or `fc2.pre` for a value split off by lowering).
  public var name: String
  public var storage: Storage
  /// Elements per sample of a batched buffer; elements in all of an unbatched one.
  public var floatsPerSample: Int
  /// Whether the buffer holds `floatsPerSample` for each sample of the batch (else that many in all).
  public var batched: Bool = true
  /// The element type: `.i64` for class-label targets, else `.f32`.
  public var dtype: DType = .f32

  /// Elements the buffer holds at batch `n`.
  public func elements(batch n: Int) -> Int { batched ? floatsPerSample * n : floatsPerSample }
}

/// One kernel call.
public struct Step: Hashable, Sendable {
  public var index: Int
  /// The graph node it computes.
  public var node: NodeID
  /// Stable C name: `k<index>_<op>_<node name>`.
  public var kernelName: String
  /// The op as the kernel computes it (a softmax split off a dense layer leaves the dense with identity).
  public var op: Op
  /// The node name, for parameter tensor names (`<layer>.weight`).
  public var layer: String
  public var inputs: [BufferID]
  public var inputTypes: [TensorType]
  public var output: BufferID
  public var outputType: TensorType
  /// Whether the memory plan puts the output in the region of an input that dies here (elementwise steps only).
  public var inPlace: Bool = false
  /// Floats of working memory (e.g. im2col columns) the kernel needs during this step alone, whatever the
  /// batch; 0 when it needs none. Lowering leaves it 0: the code generator, which knows the kernels, sets it
  /// before planning (see `Program.planMemory`).
  public var scratchFloats: Int = 0
  /// Where the memory plan puts this step's scratch, in floats from the start of the arena (64-byte aligned);
  /// nil when the step needs none.
  public var scratchOffset: Int? = nil
}

/// Where a parameter tensor lives in the params array.
public struct ParameterSlot: Hashable, Sendable {
  public var spec: ParameterSpec
  /// Offset in floats from the start of params; a multiple of 16 (64 bytes).
  public var offset: Int
}

/// A data input or an output of a program.
public struct ProgramValue: Hashable, Sendable {
  public var name: String
  public var buffer: BufferID
  public var type: TensorType
}

/// A network lowered at a maximum batch, for inference (forward steps into the caller's outputs) or training
/// (forward, loss, gradient and optimizer steps; see `Lowering.lowerTraining`).
public struct Program: Hashable, Sendable {
  public var name: String
  /// What the steps compute: a forward pass, or one whole training step.
  public var mode: PipelineMode = .inference
  public var maxBatch: Int
  public var buffers: [Buffer]
  public var steps: [Step]
  /// The tensors the kernels read, in the params array they get (folded weights where batch norms were folded).
  public var parameters: [ParameterSlot]
  /// Total floats of params (each tensor padded to 64 bytes).
  public var parameterFloats: Int
  /// The tensors a weights file holds (PyTorch's unfolded state_dict), laid out like params, for loading
  /// before `folds` prepare params from them. The same as `parameters` when nothing was folded.
  public var sourceParameters: [ParameterSlot]
  /// Total floats of the source layout (each tensor padded to 64 bytes).
  public var sourceFloats: Int
  /// The batch norms folded into layers, which turn source tensors into kernel tensors.
  public var folds: [ParameterFold]
  /// The data inputs, in declaration order.
  public var inputs: [ProgramValue]
  /// The outputs, in declaration order (none in a training program: its result is the loss).
  public var outputs: [ProgramValue]
  /// Training: the loss's target inputs (class labels as i64, or floats shaped like the prediction).
  public var targets: [ProgramValue] = []
  /// Training: the spec's training section (the optimizer's initial learning rate, the dropout seed, the loss).
  public var training: TrainingConfig? = nil
  /// Offsets in floats of the arena buffers, 64-byte aligned, as the memory planner assigned them.
  public var arenaOffsets: [BufferID: Int]
  /// Floats of arena the plan needs at the maximum batch: activations and every step's scratch.
  public var arenaFloats: Int

  public subscript(id: BufferID) -> Buffer { buffers[id.index] }

  /// The slot of the parameter tensor `name`.
  public func parameter(_ name: String) -> ParameterSlot? { parameters.first { $0.spec.name == name } }
}

/// Rounds a float count up to a whole number of 64-byte lines.
public func alignedFloats(_ n: Int) -> Int { (n + 15) / 16 * 16 }
