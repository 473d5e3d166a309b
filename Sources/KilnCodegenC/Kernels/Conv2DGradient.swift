// The backward kernels of a 2-D convolution: ∂L/∂x, ∂L/∂W and ∂L/∂b from dy, by im2col + OpenBLAS or direct loops.
import KilnIR

/// The kernels of a `.gradient` node whose forward op is `.conv2d`.
public enum Conv2DGradientKernel {
  // z[n, f, i, j] = b[f] + Σ_{c, p, q} x[n, g·Cg + c, i·sh − top + p·dh, j·sw − left + q·dw]·W[f, c, p, q], g = ⌊f/Fg⌋.
  // With columns(x_n)[(c, p, q), (i, j)] = x[n, g·Cg + c, i·sh − top + p·dh, j·sw − left + q·dw] (0 in the padding),
  // the forward is z_n,g = W_g·columns(x_n,g), so
  //   dW_g = Σ_n dy_n,g·columns(x_n,g)ᵀ            (per image a [Fg × OH·OW]·[OH·OW × Cg·kh·kw] GEMM, summed)
  //   dx_n,g = col2im(W_gᵀ·dy_n,g)                  (a [Cg·kh·kw × Fg]·[Fg × OH·OW] GEMM, each column entry added
  //                                                  back to the input position it was read from; padding dropped)
  //   db[f] = Σ_{n, i, j} dy[n, f, i, j]
  // The direct loops compute the same sums tap by tap.

  /// The backward of `y = conv(x, W) + b` (W: [F, C/groups, kh, kw], PyTorch's layout) on a per-sample `input`
  /// [C, H, W], toward `target`:
  ///
  /// - `.input(0)`, operands [dy]: parameters `dy` (F·OH·OW per sample), `weight` (`<layer>.weight`), output `dx`
  ///   (C·H·W per sample), and with BLAS `scratch` (`options.threadSlots` column buffers of Cg·kh·kw·OH·OW floats)
  ///   unless the kernel is 1×1 at stride 1 without padding.
  /// - `.parameter(.weight)`, operands [dy, x0]: parameters `dy`, `x` (C·H·W per sample), output `dweight`
  ///   (unbatched, F·Cg·kh·kw), and with BLAS `scratch` (a partial dW per slot, then the slots' columns).
  /// - `.parameter(.bias)`, operands [dy]: parameters `dy`, output `dbias` (unbatched, F).
  ///
  /// With `options.blas`, dx of a stride-1 conv takes `conv2d_winograd` (the forward Winograd kernel of dy with the
  /// flipped, transposed weights) where `Conv2DWinograd` applies (`options.winogradConvolutions`), else
  /// `conv2d_tiled` where `Conv2DTiling` does (`options.tiledConvolutions`).
  /// With `options.blas` and `options.flatConvolutions`, a small stride-1 conv (output channels × taps per
  /// group at most 2400) takes the flat loops instead: dx as the forward `conv2d_flat` kernel of dy with the
  /// flipped weights (`transposed`, when no leading pad exceeds (k − 1)·dilation), dW by
  /// `conv2d_grad_weight_flat` (kernels at most 12 wide); both with `scratch` (padded planes per slot).
  /// Otherwise, with `options.blas`, dx and dW use one OpenBLAS GEMM per image and group (the module keeps OpenBLAS
  /// single-threaded), images dealt to `options.threadSlots` fixed slots spread over OpenMP, dW partial sums
  /// added in slot order; depthwise convolutions (one input channel per group) use the direct loops even then,
  /// as the forward does: their GEMMs would be a few rows deep. Without `options.blas`, direct loops. No
  /// result depends on the thread count.
  ///
  /// - Throws: `KernelShapeError` when the forward layer still has a fused activation, an epilogue or a folded
  ///   batch norm, when `input` is not an f32 [C, H, W] the window applies to (sizes, stride, dilation, pads,
  ///   group divisibility), or when `target` names something the layer does not have.
  public static func make(
    name: String, layer: String, conv: Conv2D, input: TensorType, target: Gradient.Target, options: KernelOptions
  ) throws -> KernelFunction {
    let g = try geometry(name: name, layer: layer, conv: conv, input: input)
    let slots = max(options.threadSlots, 1)
    let depthwise = g.groups > 1 && g.groupChannels == 1
    let useGemm = options.blas && !depthwise
    let inputFloats = g.channels * g.inH * g.inW
    let outputFloats = g.filters * g.outPlane
    let weightFloats = g.filters * g.depth
    let dy = KernelParameter("dy", .input, floats: outputFloats)
    let renderer = TemplateRenderer.shared

    switch target {
    case .input(0):
      let comment = "conv \(layer): dx"
      let weight = KernelParameter("weight", .parameter, tensor: "\(layer).weight", floats: weightFloats)
      var parameters = [dy, weight, KernelParameter("dx", .output, floats: inputFloats)]
      if let plan = Conv2DFlatShape(inputGradientOf: g)?.winograd(under: options) {
        let context = Conv2DWinogradContext(
          plan: plan, name: name, comment: comment, transposed: true, slots: slots, bias: false,
          epilogue: FusedEpilogue(activation: .identity, epilogue: []))
        parameters.append(KernelParameter("scratch", .scratch, floats: context.scratchFloats))
        var kernel = KernelFunction(name: name, definition: renderer.render(context), parameters: parameters)
        kernel.template = Conv2DWinogradContext.template
        return kernel
      }
      if let tiling = Conv2DFlatShape(inputGradientOf: g)?.tiled(under: options) {
        let context = Conv2DTiledContext(
          tiling: tiling, name: name, comment: comment, transposed: true, slots: slots, bias: false,
          epilogue: FusedEpilogue(activation: .identity, epilogue: []))
        parameters.append(KernelParameter("scratch", .scratch, floats: context.scratchFloats))
        var kernel = KernelFunction(name: name, definition: renderer.render(context), parameters: parameters)
        kernel.template = Conv2DTiledContext.template
        return kernel
      }
      if let flat = Conv2DFlatShape(inputGradientOf: g)?.chosen(under: options) {
        let context = Conv2DFlatContext(
          shape: flat, name: name, comment: comment, transposed: true, slots: slots, bias: false,
          epilogue: FusedEpilogue(activation: .identity, epilogue: []))
        parameters.append(KernelParameter("scratch", .scratch, floats: context.scratchFloats))
        var kernel = KernelFunction(
          name: name, definition: renderer.render(context), parameters: parameters)
        kernel.template = Conv2DFlatContext.template
        return kernel
      }
      guard useGemm else {
        let definition = renderer.render(Conv2DGradInputDirectContext(geometry: g, name: name, comment: comment))
        return KernelFunction(name: name, definition: definition, parameters: parameters)
      }
      let col2im = !g.readsInputAsColumns
      if col2im { parameters.append(KernelParameter("scratch", .scratch, floats: slots * g.depth * g.outPlane)) }
      let definition = renderer.render(
        Conv2DGradInputGemmContext(geometry: g, name: name, comment: comment, slots: slots, col2im: col2im))
      return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: true)

    case .parameter(.weight):
      let comment = "conv \(layer): dW"
      var parameters = [
        dy, KernelParameter("x", .input, floats: inputFloats),
        KernelParameter("dweight", .output, floats: weightFloats, batched: false),
      ]
      if let flat = Conv2DFlatShape(forward: g), Conv2DGradWeightFlatContext.chosen(flat, under: options) {
        let context = Conv2DGradWeightFlatContext(shape: flat, name: name, comment: comment, slots: slots)
        parameters.append(KernelParameter("scratch", .scratch, floats: context.scratchFloats))
        var kernel = KernelFunction(
          name: name, definition: renderer.render(context), parameters: parameters)
        kernel.template = Conv2DGradWeightFlatContext.template
        return kernel
      }
      guard useGemm else {
        let definition = renderer.render(Conv2DGradWeightDirectContext(geometry: g, name: name, comment: comment))
        return KernelFunction(name: name, definition: definition, parameters: parameters)
      }
      let im2col = !g.readsInputAsColumns
      let scratch = slots * weightFloats + (im2col ? slots * g.depth * g.outPlane : 0)
      parameters.append(KernelParameter("scratch", .scratch, floats: scratch))
      let definition = renderer.render(
        Conv2DGradWeightGemmContext(geometry: g, name: name, comment: comment, slots: slots, im2col: im2col))
      return KernelFunction(name: name, definition: definition, parameters: parameters, usesBLAS: true)

    case .parameter(.bias) where conv.bias:
      let definition = renderer.render(
        Conv2DGradBiasContext(
          name: name, comment: "conv \(layer): db", filters: g.filters, outPlane: g.outPlane,
          outputFloats: outputFloats, parallelThreshold: denseParallelThreshold))
      return KernelFunction(
        name: name, definition: definition,
        parameters: [dy, KernelParameter("dbias", .output, floats: g.filters, batched: false)])

    default:
      throw KernelShapeError(
        kernel: name,
        "conv '\(layer)' has no \(target) to differentiate; expected x0, weight\(conv.bias ? " or bias" : "")")
    }
  }

  /// Whether `gradient` is the backward of a convolution (the kernels of this enum).
  public static func differentiates(_ gradient: Gradient) -> Bool {
    if case .conv2d = gradient.forward { return true }
    return false
  }

  /// The kernel of a gradient node of a convolution: `make(name:layer:conv:input:target:options:)` with the
  /// node's forward attributes, parameter prefix, input type and target.
  public static func make(name: String, gradient g: Gradient, options: KernelOptions) throws -> KernelFunction {
    guard case .conv2d(let conv) = g.forward, let x = g.forwardInputTypes.first else {
      throw KernelShapeError(kernel: name, "gradient of '\(g.forwardName)' is not the backward of a conv with an input")
    }
    return try make(name: name, layer: g.forwardName, conv: conv, input: x, target: g.target, options: options)
  }

  /// The geometry of a differentiable conv on `input`, or a `KernelShapeError` saying what does not fit.
  static func geometry(name: String, layer: String, conv: Conv2D, input: TensorType) throws -> Conv2DGeometry {
    guard conv.activation == .identity, conv.epilogue.isEmpty else {
      throw KernelShapeError(
        kernel: name,
        "conv '\(layer)' has a fused \(conv.activation) activation or epilogue \(conv.epilogue); autodiff splits it off, so its backward expects identity"
      )
    }
    guard conv.foldedBatchNorm == nil else {
      throw KernelShapeError(
        kernel: name, "conv '\(layer)' has a folded batch norm; training differentiates the unfolded graph")
    }
    try KernelChecks.require(input, "conv '\(layer)' input", ranks: 3...3, layout: "[C, H, W]", kernel: name)
    let positive = [
      conv.filters, conv.groups, conv.kernel.h, conv.kernel.w, conv.stride.h, conv.stride.w,
      conv.dilation.h, conv.dilation.w,
    ]
    guard positive.allSatisfy({ $0 >= 1 }) else {
      throw KernelShapeError(
        kernel: name,
        "conv '\(layer)': filters \(conv.filters), groups \(conv.groups), kernel \(conv.kernel), stride \(conv.stride), dilation \(conv.dilation); expected all ≥ 1"
      )
    }
    if case .explicit(let p) = conv.padding, min(p.top, p.left, p.bottom, p.right) < 0 {
      throw KernelShapeError(kernel: name, "conv '\(layer)' has padding \(p); expected pads ≥ 0")
    }
    let c = input.dims[0]
    guard c % conv.groups == 0, conv.filters % conv.groups == 0 else {
      throw KernelShapeError(
        kernel: name,
        "conv '\(layer)': \(c) input channels and \(conv.filters) filters must both divide into \(conv.groups) groups")
    }
    if case .failure(let error) = conv.window.outputSize(inputH: input.dims[1], inputW: input.dims[2]) {
      throw KernelShapeError(kernel: name, "conv '\(layer)' on \(input): \(error)")
    }
    guard let g = Conv2DGeometry(conv: conv, input: input) else {
      throw KernelShapeError(kernel: name, "conv '\(layer)' on \(input) has an empty output")
    }
    // Flat indices are C `long`, but loop bounds and the GEMM sizes are `int`.
    func product(_ factors: Int...) -> Int? {
      factors.reduce(Optional(1)) { p, f in
        guard let p else { return nil }
        let (r, overflow) = p.multipliedReportingOverflow(by: f)
        return overflow || r > KernelChecks.maxElements ? nil : r
      }
    }
    let sizes = [
      product(g.filters, g.outH, g.outW), product(g.filters, g.groupChannels, g.kernelH, g.kernelW),
      product(g.groupChannels, g.kernelH, g.kernelW, g.outH, g.outW),
      product(g.filters, g.outH, g.outW, g.groupChannels, g.kernelH, g.kernelW),
    ]
    guard sizes.allSatisfy({ $0 != nil }) else {
      throw KernelShapeError(
        kernel: name, "conv '\(layer)' on \(input) is too large: a size exceeds \(KernelChecks.maxElements)")
    }
    return g
  }

  /// The geometry of the contexts' samples: 2 channels of 6×6, 4 filters of 3×3.
  static let sampleGeometry = Conv2DGeometry(
    conv: Conv2D(filters: 4, kernel: Pair(3)), input: TensorType(.f32, [2, 6, 6]))!
}
