// A rendered kernel: one static C function with a declared, ordered parameter list.

/// One pointer parameter of a kernel, after the leading `int n` (the runtime batch).
public struct KernelParameter: Hashable, Sendable {
  public enum Role: String, Hashable, Sendable {
    /// A value the kernel reads.
    case input
    /// A parameter tensor it reads, e.g. `c1.weight`.
    case parameter
    /// The value it writes.
    case output
    /// Working memory it may overwrite, `floats` long.
    case scratch
  }
  public var name: String
  public var role: Role
  /// For parameters: the tensor's name (`c1.weight`); for scratch: unused.
  public var tensor: String?
  /// Elements: per sample for inputs/outputs, in all for parameters and scratch.
  public var floats: Int

  public init(_ name: String, _ role: Role, tensor: String? = nil, floats: Int) {
    self.name = name
    self.role = role
    self.tensor = tensor
    self.floats = floats
  }
}

/// A kernel ready to emit: `static void name(int n, <parameters>)` and its body. The template owns the C
/// declaration of each parameter (whether it is `restrict` depends on whether the kernel may run in place).
public struct KernelFunction: Hashable, Sendable {
  /// The C function name, e.g. `k3_conv_c1`.
  public var name: String
  /// The whole static function definition.
  public var definition: String
  /// The pointer parameters, in order.
  public var parameters: [KernelParameter]
  /// Whether it calls OpenBLAS (the module then includes cblas.h and links OpenBLAS).
  public var usesBLAS: Bool
  /// The template that rendered the body (`conv2d_gemm`, `dense_loops`, …): which variant of the op's kernels
  /// this is, as `kiln profile` shows it. `KernelCatalog` sets it; empty for a kernel built elsewhere.
  public var template: String = ""

  public init(name: String, definition: String, parameters: [KernelParameter], usesBLAS: Bool = false) {
    self.name = name
    self.definition = definition
    self.parameters = parameters
    self.usesBLAS = usesBLAS
  }
}
