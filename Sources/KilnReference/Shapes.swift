// Output-shape rules of every op on full (batched) shapes, shared by the ops and the interpreter's static walk.
import KilnIR

/// One function per op: the output shape for the given input shapes, or a `ReferenceError` saying what does
/// not fit. The ops call these before computing, and `Interpreter` calls them (with batch 1) to derive the
/// parameter shapes a graph needs, so each shape rule and its error message is written once.
enum Shapes {
  static func format(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

  static func requireRank(_ op: String, _ what: String, _ shape: [Int], _ rank: Int, layout: String) throws {
    guard shape.count == rank else {
      throw ReferenceError("\(op): \(what) has shape \(format(shape)); expected rank \(rank) (\(layout))")
    }
  }

  static func requirePositive(_ op: String, _ what: String, _ pair: Pair) throws {
    guard pair.h >= 1, pair.w >= 1 else { throw ReferenceError("\(op): \(what) \(pair) must be at least 1") }
  }

  static func requireShape(_ op: String, _ what: String, _ shape: [Int], _ expected: [Int]) throws {
    guard shape == expected else {
      throw ReferenceError("\(op): \(what) has shape \(format(shape)); expected \(format(expected))")
    }
  }

  /// Dense: [N, in] → [N, units].
  static func dense(input: [Int], units: Int) throws -> [Int] {
    try requireRank("dense", "input", input, 2, layout: "[N, features]; flatten first")
    guard units >= 1 else { throw ReferenceError("dense: units \(units) must be at least 1") }
    return [input[0], units]
  }

  /// The pads and output (height, width) of a window over the last two axes of an NCHW shape.
  static func window(_ op: String, _ w: Window2D, input: [Int]) throws -> (pads: Pads, out: Pair) {
    try requirePositive(op, "kernel", w.kernel)
    try requirePositive(op, "stride", w.stride)
    try requirePositive(op, "dilation", w.dilation)
    let pads = w.pads(inputH: input[2], inputW: input[3])
    guard pads.top >= 0, pads.left >= 0, pads.bottom >= 0, pads.right >= 0 else {
      throw ReferenceError("\(op): padding \(pads) must not be negative")
    }
    switch w.outputSize(inputH: input[2], inputW: input[3]) {
    case .success(let out): return (pads, out)
    case .failure(let e): throw ReferenceError("\(op): input \(format(input)): \(e)")
    }
  }

  /// Conv2d: [N, C, H, W] → [N, filters, OH, OW]; C and filters must be multiples of groups.
  static func conv2d(input: [Int], _ c: Conv2D) throws -> (shape: [Int], pads: Pads) {
    try requireRank("conv2d", "input", input, 4, layout: "[N, C, H, W]")
    guard c.groups >= 1, c.filters >= 1 else {
      throw ReferenceError("conv2d: filters \(c.filters) and groups \(c.groups) must be at least 1")
    }
    guard input[1] % c.groups == 0, c.filters % c.groups == 0 else {
      throw ReferenceError(
        "conv2d: input channels \(input[1]) and filters \(c.filters) must both be multiples of groups \(c.groups)")
    }
    let (pads, out) = try window("conv2d", c.window, input: input)
    return ([input[0], c.filters, out.h, out.w], pads)
  }

  /// The weight shape a conv needs for an input with `channels` channels: [filters, channels/groups, kh, kw].
  static func convWeight(channels: Int, _ c: Conv2D) -> [Int] {
    [c.filters, channels / max(c.groups, 1), c.kernel.h, c.kernel.w]
  }

  /// Max and average pooling: [N, C, H, W] → [N, C, OH, OW]. Every window must hold at least one input cell.
  static func pool(_ op: String, input: [Int], _ p: Pool) throws -> (shape: [Int], pads: Pads) {
    try requireRank(op, "input", input, 4, layout: "[N, C, H, W]")
    let (pads, out) = try window(op, p.window, input: input)
    // NOTE: a window lying wholly in the padding has no input cell to take the max of, or to average
    // without padding; PyTorch rules it out by requiring padding ≤ kernel/2. The first window starts at
    // −pad, the last at (out−1)·stride − pad.
    let lastTop = (out.h - 1) * p.stride.h - pads.top
    let lastLeft = (out.w - 1) * p.stride.w - pads.left
    guard pads.top < p.kernel.h, pads.left < p.kernel.w, lastTop < input[2], lastLeft < input[3] else {
      throw ReferenceError(
        "\(op): with padding \(pads) some \(p.kernel) windows over input \(format(input)) lie wholly in the padding;"
          + " expected padding of at most half the kernel")
    }
    return ([input[0], input[1], out.h, out.w], pads)
  }

  /// Global average pooling: [N, C, H, W] → [N, C].
  static func globalAvgPool(input: [Int]) throws -> [Int] {
    try requireRank("global_avgpool", "input", input, 4, layout: "[N, C, H, W]")
    guard input[2] * input[3] > 0 else { throw ReferenceError("global_avgpool: input \(format(input)) is empty") }
    return [input[0], input[1]]
  }

  /// Flatten: [N, d1, d2, …] → [N, d1·d2·…].
  static func flatten(input: [Int]) throws -> [Int] {
    guard input.count >= 1 else { throw ReferenceError("flatten: input is a scalar; expected a batch dimension") }
    return [input[0], input.dropFirst().reduce(1, *)]
  }

  /// Reshape: [N, …] → [N] + dims, with at most one −1 inferred from the per-sample element count.
  static func reshape(input: [Int], dims: [Int]) throws -> [Int] {
    guard input.count >= 1 else { throw ReferenceError("reshape: input is a scalar; expected a batch dimension") }
    let count = input.dropFirst().reduce(1, *)
    let inferred = dims.indices.filter { dims[$0] == -1 }
    guard inferred.count <= 1, dims.allSatisfy({ $0 >= 1 || $0 == -1 }) else {
      throw ReferenceError("reshape: dims \(format(dims)) must be positive, with at most one −1")
    }
    let known = dims.filter { $0 != -1 }.reduce(1, *)
    var result = dims
    if let i = inferred.first {
      guard count % known == 0 else {
        throw ReferenceError("reshape: \(count) elements per sample do not divide into dims \(format(dims))")
      }
      result[i] = count / known
    } else if known != count {
      throw ReferenceError("reshape: dims \(format(dims)) hold \(known) elements; the input holds \(count) per sample")
    }
    return [input[0]] + result
  }

  /// Concat along dim 1: equal ranks (≥ 2) and equal dims except dim 1.
  static func concat(inputs: [[Int]]) throws -> [Int] {
    guard let first = inputs.first, first.count >= 2 else {
      throw ReferenceError("concat: expected at least one input of rank 2 or more")
    }
    var channels = 0
    for (i, s) in inputs.enumerated() {
      var expected = first
      expected[1] = s.count == first.count ? s[1] : -1
      guard s == expected else {
        throw ReferenceError(
          "concat: input \(i) has shape \(format(s)); expected \(format(first)) except along dim 1")
      }
      channels += s[1]
    }
    var out = first
    out[1] = channels
    return out
  }

  /// Add and mul: both operands of one shape.
  static func elementwise(_ op: String, _ a: [Int], _ b: [Int]) throws -> [Int] {
    guard a == b else {
      throw ReferenceError("\(op): operands have shapes \(format(a)) and \(format(b)); expected equal")
    }
    return a
  }

  /// A conv or dense epilogue: one operand per `add`/`mul`, each shaped like the layer's value; activations
  /// elementwise.
  static func epilogue(_ ops: [EpilogueOp], value: [Int], operands: [[Int]]) throws {
    guard operands.count == ops.operandCount else {
      throw ReferenceError("epilogue reads \(ops.operandCount) operands; the node has \(operands.count) extra inputs")
    }
    for case .activation(let a) in ops where !a.isElementwise {
      throw ReferenceError("epilogue holds \(a); expected elementwise activations")
    }
    for (k, shape) in operands.enumerated() {
      _ = try elementwise("epilogue operand \(k + 1)", value, shape)
    }
  }

  /// Ops over dimension 1 (batch norm, LRN, softmax): rank ≥ 2; the output has the input's shape.
  static func channelwise(_ op: String, input: [Int]) throws -> [Int] {
    guard input.count >= 2 else {
      throw ReferenceError("\(op): input has shape \(format(input)); expected rank 2 or more ([N, C, …])")
    }
    return input
  }

  /// Activations keep the shape; softmax and log_softmax need a dimension 1.
  static func activation(input: [Int], _ a: Activation) throws -> [Int] {
    a.isElementwise ? input : try channelwise(a.description, input: input)
  }

  /// Losses: a scalar. Cross-entropy takes logits [N, C] and labels [N]; the others a target shaped like the prediction.
  static func loss(_ kind: LossKind, prediction: [Int], target: [Int], targetType: DType) throws -> [Int] {
    let op = kind.rawValue
    if kind.takesClassIndices {
      try requireRank(op, "prediction", prediction, 2, layout: "[N, classes]")
      guard targetType == .i64 else { throw ReferenceError("\(op): target has element type f32; expected i64 labels") }
      try requireShape(op, "target", target, [prediction[0]])
    } else {
      guard targetType == .f32 else { throw ReferenceError("\(op): target has element type i64; expected f32") }
      try requireShape(op, "target", target, prediction)
    }
    guard prediction.reduce(1, *) > 0 else { throw ReferenceError("\(op): prediction \(format(prediction)) is empty") }
    return []
  }
}
