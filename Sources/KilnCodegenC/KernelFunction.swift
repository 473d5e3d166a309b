// A rendered kernel: one static C function with a declared, ordered parameter list.
import KilnIR

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
    /// A parameter tensor the kernel reads and writes in place, e.g. `c1.weight` in an optimizer step or
    /// `bn.running_mean` in a training-mode batch norm (`float *`).
    case updatedParameter
    /// One slot of a parameter's optimizer state, read and written in place; `tensor` is
    /// `<parameter>.<slot>` with PyTorch's slot name, e.g. `c1.weight.exp_avg` (`float *`).
    case optimizerState
    /// The step's run-time scalars, `const kiln_step_info *` (see `TrainingABI`): learning rate, step number,
    /// dropout seed.
    case stepInfo
  }
  public var name: String
  public var role: Role
  /// For parameters, updated parameters and optimizer state: the tensor's name (`c1.weight`,
  /// `c1.weight.exp_avg`); for the others: unused.
  public var tensor: String?
  /// Elements: per sample for batched inputs/outputs, in all otherwise (0 for `stepInfo`).
  public var floats: Int
  /// The element type: `.i64` for class labels (`const int64_t *`), else `.f32`.
  public var dtype: DType
  /// Whether an input or output holds `n ×` `floats` (a batch) or `floats` in all (a parameter gradient, a loss).
  public var batched: Bool

  public init(
    _ name: String, _ role: Role, tensor: String? = nil, floats: Int, dtype: DType = .f32, batched: Bool = true
  ) {
    self.name = name
    self.role = role
    self.tensor = tensor
    self.floats = floats
    self.dtype = dtype
    self.batched = batched
  }

  /// Elements of the argument at batch `n`.
  public func count(batch n: Int) -> Int {
    switch role {
    case .input, .output: return batched ? n * floats : floats
    case .parameter, .scratch, .updatedParameter, .optimizerState: return floats
    case .stepInfo: return 0
    }
  }

  /// The C type of the argument as the kernel declares it, without `restrict`.
  public var cType: String {
    switch role {
    case .input: return dtype == .i64 ? "const int64_t *" : "const float *"
    case .parameter: return "const float *"
    case .output, .scratch, .updatedParameter, .optimizerState: return "float *"
    case .stepInfo: return "const kiln_step_info *"
    }
  }
}

/// The C declarations training kernels share with the module that calls them.
public enum TrainingABI {
  /// `kiln_step_info`: what one training step passes every kernel that needs a run-time scalar.
  ///
  /// - `lr`: the learning rate of this step (set by `<name>_set_lr`, changed by schedules between epochs);
  /// - `step`: the optimizer step number t, 1 for the first step (Adam's bias correction);
  /// - `seed`: this step's dropout seed, `CounterRandom.stepSeed(base:step:)` of the module's seed.
  public static let stepInfoDeclaration = """
    typedef struct kiln_step_info {
      float lr;
      int64_t step;
      uint64_t seed;
    } kiln_step_info;
    """
}

/// C every kernel may use, emitted once before the kernels (by the module writer and by test benches).
public enum KernelPrelude {
  /// `kiln_v8`: 8 floats as one value (GCC/Clang vector extensions), at float alignment and allowed to alias
  /// float, so `*(const kiln_v8 *)(p)` loads from any float pointer. It is one ymm register with AVX2 or
  /// AVX-512 (gcc keeps Zen at 256-bit vectors; 16-float ones were split and spilled), two xmm without, so
  /// the same C builds for any x86-64 (`--portable`). `KILN_V8_SUM` adds the lanes pairwise in a fixed order.
  /// `KILN_IN_REGISTER(v)` makes the compiler hold a loaded vector in a register (an empty asm that "changes"
  /// it): without it gcc folds the same load into each of a register tile's FMAs, which doubles the loads and
  /// cost `conv2d_tiled` 20–40% here. It does nothing without AVX (no 256-bit register to hold).
  /// `KILN_V8_ZIP_LO(a, b)` is (a0, b0, a1, b1, a2, b2, a3, b3) and `_HI` the same of lanes 4–7;
  /// `KILN_V8_JOIN(lo, hi)` puts two `kiln_v4` halves together (`conv2d_winograd`'s tile vectors).
  public static let vectorDeclarations = """
    typedef float kiln_v8 __attribute__((vector_size(32), aligned(4), may_alias));
    typedef float kiln_v4 __attribute__((vector_size(16), aligned(4), may_alias));
    #if defined(__clang__)
    #define KILN_V8_ZIP_LO(a, b) __builtin_shufflevector((a), (b), 0, 8, 1, 9, 2, 10, 3, 11)
    #define KILN_V8_ZIP_HI(a, b) __builtin_shufflevector((a), (b), 4, 12, 5, 13, 6, 14, 7, 15)
    #define KILN_V8_JOIN(lo, hi) __builtin_shufflevector((lo), (hi), 0, 1, 2, 3, 4, 5, 6, 7)
    #else
    typedef int kiln_v8i __attribute__((vector_size(32)));
    #define KILN_V8_ZIP_LO(a, b) __builtin_shuffle((a), (b), (kiln_v8i){ 0, 8, 1, 9, 2, 10, 3, 11 })
    #define KILN_V8_ZIP_HI(a, b) __builtin_shuffle((a), (b), (kiln_v8i){ 4, 12, 5, 13, 6, 14, 7, 15 })
    #define KILN_V8_JOIN(lo, hi) ((kiln_v8){ (lo)[0], (lo)[1], (lo)[2], (lo)[3], (hi)[0], (hi)[1], (hi)[2], (hi)[3] })
    #endif
    #define KILN_V8_SUM(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))
    #if defined(__AVX__) && (defined(__GNUC__) || defined(__clang__))
    #define KILN_IN_REGISTER(v) __asm__("" : "+x"(v))
    #else
    #define KILN_IN_REGISTER(v) ((void)0)
    #endif
    """
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
