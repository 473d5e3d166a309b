// The 2-D convolution kernels: im2col + OpenBLAS GEMM, or Kiln's own direct loops; bias and epilogue fused.
import KilnIR

/// The sizes of one convolution that both conv templates spell as literal constants.
public struct Conv2DGeometry: Hashable, Sendable {
  /// The per-sample input [C, H, W].
  public var channels: Int, inH: Int, inW: Int
  /// The per-sample output [F, OH, OW].
  public var filters: Int, outH: Int, outW: Int
  /// The window, along (height, width).
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  /// The leading pads; the trailing ones are implied by the output size.
  public var padTop: Int, padLeft: Int
  /// 1 for an ordinary convolution; C for depthwise.
  public var groups: Int
  /// Input channels and filters per group.
  public var groupChannels: Int, groupFilters: Int

  /// The geometry of `conv` on a per-sample input of type [C, H, W]; nil when the window does not apply.
  public init?(conv: Conv2D, input: TensorType) {
    guard input.dtype == .f32, input.dims.count == 3, conv.groups >= 1, conv.filters >= 1 else { return nil }
    let (c, h, w) = (input.dims[0], input.dims[1], input.dims[2])
    guard c % conv.groups == 0, conv.filters % conv.groups == 0,
      case .success(let out) = conv.window.outputSize(inputH: h, inputW: w), out.h > 0, out.w > 0
    else { return nil }
    let pads = conv.window.pads(inputH: h, inputW: w)
    (channels, inH, inW) = (c, h, w)
    (filters, outH, outW) = (conv.filters, out.h, out.w)
    (kernelH, kernelW) = (conv.kernel.h, conv.kernel.w)
    (strideH, strideW) = (conv.stride.h, conv.stride.w)
    (dilationH, dilationW) = (conv.dilation.h, conv.dilation.w)
    (padTop, padLeft) = (pads.top, pads.left)
    groups = conv.groups
    (groupChannels, groupFilters) = (c / conv.groups, conv.filters / conv.groups)
  }

  /// Cg·kh·kw: the length of each output's dot product (the GEMM's inner dimension).
  public var depth: Int { groupChannels * kernelH * kernelW }
  /// OH·OW.
  public var outPlane: Int { outH * outW }
  /// Multiply-adds per sample.
  public var macsPerSample: Int { filters * outPlane * depth }
  /// A 1×1 kernel at stride 1 with no padding: the input planes already are the im2col columns.
  public var readsInputAsColumns: Bool {
    kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0
      && outH == inH && outW == inW
  }
}

/// Context of `conv2d_gemm.c.mustache`: per image and group, im2col into a scratch slot and one `cblas_sgemm`.
public struct Conv2DGemmContext: KernelContext {
  public static let template = "conv2d_gemm"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var depth: Int, outPlane: Int
  /// Floats per sample of x and y, per group of x, y and W, and per slot of scratch.
  public var inputFloats: Int, outputFloats: Int
  public var groupInputFloats: Int, groupOutputFloats: Int, groupWeightFloats: Int
  public var columnFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  /// Whether the columns are built in scratch (false for a 1×1, stride-1, unpadded kernel).
  public var im2col: Bool
  public var bias: Bool
  /// Whether a pass over each image's output follows its GEMMs (a bias or epilogue steps to apply).
  public var postPass: Bool
  /// The activation and epilogue steps applied to each value, and the extra inputs they read.
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = Conv2DGemmContext(
    geometry: Conv2DGeometry(conv: Conv2D(filters: 4, kernel: Pair(3)), input: TensorType(.f32, [2, 6, 6]))!,
    name: "k1_conv_c1", comment: "conv c1", slots: 2, im2col: true, bias: true,
    epilogue: FusedEpilogue(activation: .relu, epilogue: [.add, .activation(.tanh)]))

  init(
    geometry g: Conv2DGeometry, name: String, comment: String, slots: Int, im2col: Bool, bias: Bool,
    epilogue: FusedEpilogue
  ) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    (depth, outPlane) = (g.depth, g.outPlane)
    (inputFloats, outputFloats) = (g.channels * g.inH * g.inW, g.filters * g.outPlane)
    (groupInputFloats, groupOutputFloats) = (g.groupChannels * g.inH * g.inW, g.groupFilters * g.outPlane)
    groupWeightFloats = g.groupFilters * g.depth
    columnFloats = g.depth * g.outPlane
    self.slots = slots
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
    self.im2col = im2col
    self.bias = bias
    postPass = bias || !epilogue.steps.isEmpty
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }
}

/// Context of `conv2d_direct.c.mustache`: the row-order direct loops.
public struct Conv2DDirectContext: KernelContext {
  public static let template = "conv2d_direct"
  public var name: String
  public var comment: String
  public var channels: Int, inH: Int, inW: Int
  public var filters: Int, outH: Int, outW: Int
  public var kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var groups: Int, groupChannels: Int, groupFilters: Int
  public var depth: Int, outPlane: Int
  public var inputFloats: Int, groupInputFloats: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  /// The activation and epilogue steps applied to each value, and the extra inputs they read.
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = Conv2DDirectContext(
    geometry: Conv2DGeometry(conv: Conv2D(filters: 4, kernel: Pair(3)), input: TensorType(.f32, [2, 6, 6]))!,
    name: "k1_conv_c1", comment: "conv c1", bias: true,
    epilogue: FusedEpilogue(activation: .relu, epilogue: [.mul, .activation(.sigmoid)]))

  init(geometry g: Conv2DGeometry, name: String, comment: String, bias: Bool, epilogue: FusedEpilogue) {
    self.name = name
    self.comment = comment
    (channels, inH, inW, filters, outH, outW) = (g.channels, g.inH, g.inW, g.filters, g.outH, g.outW)
    (kernelH, kernelW, strideH, strideW) = (g.kernelH, g.kernelW, g.strideH, g.strideW)
    (dilationH, dilationW, padTop, padLeft) = (g.dilationH, g.dilationW, g.padTop, g.padLeft)
    (groups, groupChannels, groupFilters) = (g.groups, g.groupChannels, g.groupFilters)
    (depth, outPlane) = (g.depth, g.outPlane)
    (inputFloats, groupInputFloats) = (g.channels * g.inH * g.inW, g.groupChannels * g.inH * g.inW)
    macsPerSample = g.macsPerSample
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }
}

/// The kernels of `Op.conv2d`.
public enum Conv2DKernel {
  /// `y[n, F, OH, OW] = e(act(conv(x[n, C, H, W], W) + b))` with W in PyTorch's [F, C/groups, kh, kw] layout
  /// and e the conv's `epilogue` (activations, and adds/muls of the extra inputs r1, r2, …).
  ///
  /// Parameters: `x` (input, C·H·W per sample), `weight` (`<layer>.weight`), `bias` (`<layer>.bias`, only
  /// when `conv.bias`), `r1`, `r2`, … (the epilogue's operands, the node's inputs 1, 2, …, F·OH·OW per sample),
  /// `y` (output, F·OH·OW per sample), and `scratch` (`options.threadSlots` im2col buffers of Cg·kh·kw·OH·OW
  /// floats) when the kernel builds columns. The direct loops apply the epilogue to each value in registers;
  /// the GEMM path in a pass over each image's output right after its GEMMs, while that output is in cache.
  /// `y` never shares memory with an operand (the memory planner does not run conv in place), so every
  /// pointer stays `restrict`.
  ///
  /// With `options.blas`: im2col + `cblas_sgemm` per image and group (no im2col for a 1×1 stride-1 unpadded
  /// kernel), OpenMP over images, OpenBLAS kept single-threaded by the module (MACHINE-NOTES §2–3: 165–177
  /// GFLOP/s on 2 threads this way against 108–119 with OpenBLAS threading). Depthwise convolutions
  /// (groups > 1 with one input channel per group) use the direct loops even then: their GEMMs would have
  /// M = the depth multiplier (usually 1) and K = kh·kw, all overhead, after an im2col that copies the input
  /// kh·kw times. Without `options.blas`: the direct loops, parallel over (image, filter). With `options.blas`
  /// and `options.flatConvolutions`, a small stride-1 conv (per group, filters × Cg·kh·kw at most 2400 with
  /// at least 60% of the computed multiply-adds useful, as in LeNet-5) takes `conv2d_flat` instead, with
  /// `scratch` of padded planes and wide outputs per slot: OpenBLAS spent more time zeroing and copying than
  /// multiplying on those (LeNet-5 c1 19 against 50 GFLOP/s flat, 1 thread). Ahead of both, with
  /// `options.tiledConvolutions`, `conv2d_tiled` takes convs of any stride with at least 8 filters per group
  /// and rows at least 8 wide (`Conv2DTiling`): ResNet-20's layers ran 32–45 GFLOP/s by im2col + OpenBLAS
  /// per image and 45–65 tiled (`kiln profile`, batch 64, 1 thread, Zen 3, in builds that did not yet fuse
  /// multiply-adds: see `BuildOptions.Optimization.contraction`). Ahead of those, with
  /// `options.winogradConvolutions`, `conv2d_winograd` (F(2×2, 3×3)) takes 3×3 stride-1 convs with at least 16
  /// channels in and out and an even output (`Conv2DWinograd`): VGG-style at batch 64 went from 0.92× to 1.55×
  /// ONNX Runtime's speed with it. The kernel's `template` names the variant, so
  /// `kiln profile` shows it.
  ///
  /// The graph is verified before lowering (shape inference checked the window, the group divisibility and
  /// the [C, H, W] input), and softmax-like activations get their own kernel; anything else is a compiler
  /// defect and traps.
  public static func make(name: String, layer: String, conv: Conv2D, input: TensorType, options: KernelOptions)
    -> KernelFunction
  {
    precondition(conv.activation.isElementwise, "conv \(layer): \(conv.activation) needs its own kernel")
    guard let g = Conv2DGeometry(conv: conv, input: input) else {
      preconditionFailure("conv \(layer): \(conv) does not apply to an input of \(input); shape inference rejects it")
    }
    let comment = "conv \(layer)"
    let epilogue = FusedEpilogue(activation: conv.activation, epilogue: conv.epilogue)
    let slots = max(options.threadSlots, 1)
    if let plan = Conv2DFlatShape(tiledForward: g).winograd(under: options) {
      let context = Conv2DWinogradContext(
        plan: plan, name: name, comment: comment, transposed: false, slots: slots, bias: conv.bias,
        epilogue: epilogue)
      var kernel = KernelFunction(
        name: name, definition: TemplateRenderer.shared.render(context),
        parameters: parameters(g, layer: layer, bias: conv.bias, epilogue: epilogue)
          + [KernelParameter("scratch", .scratch, floats: context.scratchFloats)])
      kernel.template = Conv2DWinogradContext.template
      return kernel
    }
    if let tiling = Conv2DFlatShape(tiledForward: g).tiled(under: options) {
      let context = Conv2DTiledContext(
        tiling: tiling, name: name, comment: comment, transposed: false, slots: slots, bias: conv.bias,
        epilogue: epilogue)
      var kernel = KernelFunction(
        name: name, definition: TemplateRenderer.shared.render(context),
        parameters: parameters(g, layer: layer, bias: conv.bias, epilogue: epilogue)
          + [KernelParameter("scratch", .scratch, floats: context.scratchFloats)])
      kernel.template = Conv2DTiledContext.template
      return kernel
    }
    if let flat = Conv2DFlatShape(forward: g)?.chosen(under: options) {
      let context = Conv2DFlatContext(
        shape: flat, name: name, comment: comment, transposed: false, slots: slots, bias: conv.bias,
        epilogue: epilogue)
      var kernel = KernelFunction(
        name: name, definition: TemplateRenderer.shared.render(context),
        parameters: parameters(g, layer: layer, bias: conv.bias, epilogue: epilogue)
          + [KernelParameter("scratch", .scratch, floats: context.scratchFloats)])
      kernel.template = Conv2DFlatContext.template
      return kernel
    }
    let depthwise = g.groups > 1 && g.groupChannels == 1
    let useGemm = options.blas && !depthwise
    let im2col = useGemm && !g.readsInputAsColumns
    let definition: String
    if useGemm {
      definition = TemplateRenderer.shared.render(
        Conv2DGemmContext(
          geometry: g, name: name, comment: comment, slots: slots, im2col: im2col, bias: conv.bias,
          epilogue: epilogue))
    } else {
      definition = TemplateRenderer.shared.render(
        Conv2DDirectContext(geometry: g, name: name, comment: comment, bias: conv.bias, epilogue: epilogue))
    }
    var parameters = parameters(g, layer: layer, bias: conv.bias, epilogue: epilogue)
    if im2col { parameters.append(KernelParameter("scratch", .scratch, floats: slots * g.depth * g.outPlane)) }
    return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: useGemm)
  }

  /// The template `make` renders for `conv` on a per-sample `input` under `options`: `conv2d_winograd`,
  /// `conv2d_tiled`, `conv2d_flat`,
  /// `conv2d_gemm` or `conv2d_direct`; nil when the window does not apply to the input.
  public static func template(conv: Conv2D, input: TensorType, options: KernelOptions) -> String? {
    guard let g = Conv2DGeometry(conv: conv, input: input) else { return nil }
    if Conv2DFlatShape(tiledForward: g).winograd(under: options) != nil { return Conv2DWinogradContext.template }
    if Conv2DFlatShape(tiledForward: g).tiled(under: options) != nil { return Conv2DTiledContext.template }
    if Conv2DFlatShape(forward: g)?.chosen(under: options) != nil { return Conv2DFlatContext.template }
    let depthwise = g.groups > 1 && g.groupChannels == 1
    return options.blas && !depthwise ? Conv2DGemmContext.template : Conv2DDirectContext.template
  }

  /// The parameters every conv kernel starts with: x, weight, bias (when present), the epilogue's operands, y.
  static func parameters(_ g: Conv2DGeometry, layer: String, bias: Bool, epilogue: FusedEpilogue)
    -> [KernelParameter]
  {
    var parameters = [
      KernelParameter("x", .input, floats: g.channels * g.inH * g.inW),
      KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: g.filters * g.depth),
    ]
    if bias { parameters.append(KernelParameter("bias", .parameter, tensor: "\(layer).bias", floats: g.filters)) }
    parameters += epilogue.parameters(floats: g.filters * g.outPlane)
    parameters.append(KernelParameter("y", .output, floats: g.filters * g.outPlane))
    return parameters
  }
}
