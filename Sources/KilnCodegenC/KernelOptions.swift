// Choices that shape every kernel of a module, and the registry of kernel template contexts.

/// How kernels are generated.
public struct KernelOptions: Hashable, Sendable {
  /// Call OpenBLAS's cblas_sgemm/sgemv for convolutions and dense layers; otherwise Kiln's own loops.
  public var blas: Bool
  /// Per-thread working-memory slots: kernels that need scratch (im2col columns) split their work over
  /// this many slots, indexed by loop variable rather than thread id, so the result never depends on the
  /// thread count. It also caps useful threads for those kernels.
  public var threadSlots: Int
  /// Whether the module trains: batch norm then normalizes with batch statistics and updates its running
  /// statistics, and dropout draws its mask (both are the inference kernels, or nothing, otherwise).
  public var training: Bool = false
  /// With `blas`, let small stride-1 convolutions and their gradients take the flat register-tiled loops
  /// (`conv2d_flat`, `conv2d_grad_weight_flat`) instead of im2col + OpenBLAS; off, every conv that can use
  /// OpenBLAS does (tests turn it off to cover the GEMM kernels on every geometry).
  public var flatConvolutions: Bool = true
  /// With `blas`, let convolutions of any stride (and the input gradients of stride-1 ones) with output
  /// rows at least 8 wide take `conv2d_tiled` (register tiles of filters × row vectors, channel blocks)
  /// ahead of the flat loops and OpenBLAS; off, they take those as before (tests turn it off to keep them
  /// covered).
  public var tiledConvolutions: Bool = true
  /// With `blas`, let 3×3 stride-1 convolutions with at least 16 channels in and out (and the input gradients
  /// of such) take `conv2d_winograd` (F(2×2, 3×3): 2.25× fewer multiplies) ahead of the tiled loops; off, they
  /// take those (tests turn it off to keep the tiled loops covered on the shapes Winograd would take).
  public var winogradConvolutions: Bool = true

  public init(
    blas: Bool = true, threadSlots: Int = 8, training: Bool = false, flatConvolutions: Bool = true,
    tiledConvolutions: Bool = true, winogradConvolutions: Bool = true
  ) {
    self.blas = blas
    self.threadSlots = threadSlots
    self.training = training
    self.flatConvolutions = flatConvolutions
    self.tiledConvolutions = tiledConvolutions
    self.winogradConvolutions = winogradConvolutions
  }
}

/// Every kernel context type, for the test that each template's tags and its context's fields agree.
/// Add a new context here when adding a template.
public enum KernelContexts {
  public static let all: [any KernelContext.Type] = [
    ElementwiseBinaryContext.self,
    MaxPoolContext.self,
    AvgPoolContext.self,
    GlobalAvgPoolContext.self,
    BatchNormContext.self,
    LRNContext.self,
    ActivationContext.self,
    SoftmaxContext.self,
    ConcatContext.self,
    DenseBLASContext.self,
    DenseLoopsContext.self,
    Conv2DGemmContext.self,
    Conv2DDirectContext.self,
    Conv2DFlatContext.self,
    Conv2DTiledContext.self,
    Conv2DWinogradContext.self,
    Conv2DGradWeightFlatContext.self,
    DenseGradInputBLASContext.self,
    DenseGradWeightBLASContext.self,
    DenseGradInputLoopsContext.self,
    DenseGradWeightLoopsContext.self,
    DenseGradBiasContext.self,
    Conv2DGradBiasContext.self,
    Conv2DGradWeightDirectContext.self,
    Conv2DGradInputDirectContext.self,
    Conv2DGradWeightGemmContext.self,
    Conv2DGradInputGemmContext.self,
    OptimizerStepContext.self,
    MaxPoolGradientContext.self,
    AvgPoolGradientContext.self,
    GlobalAvgPoolGradientContext.self,
    SliceCopyContext.self,
    ActivationGradientContext.self,
    SoftmaxGradientContext.self,
    BatchNormInputGradientContext.self,
    BatchNormWeightGradientContext.self,
    BatchNormBiasGradientContext.self,
    LRNGradientContext.self,
    BatchNormTrainingContext.self,
    DropoutTrainingContext.self,
    CrossEntropyLossContext.self,
    ElementwiseLossContext.self,
    CrossEntropyLossGradientContext.self,
    ElementwiseLossGradientContext.self,
  ]
}
