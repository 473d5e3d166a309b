// Dense, conv2d (stride, per-side padding, dilation, groups, depthwise; batch 1 and 3) and every activation:
// VJPs against central differences in Double, and the Float VJPs against the Double ones.
import KilnIR
import KilnReference
import Testing

/// The smooth piece an activation is in at each pre-activation value: relu, relu6, leaky_relu and elu have
/// kinks (elu's derivative jumps from α to 1 at 0 unless α = 1); the others are smooth.
func activationPieces(_ a: Activation, _ z: DoubleTensor) -> [Int] {
  switch a {
  case .relu, .leakyRelu, .elu: return z.data.map { $0 > 0 ? 1 : 0 }
  case .relu6: return z.data.map { ($0 > 0 ? 1 : 0) + ($0 >= 6 ? 1 : 0) }
  case .identity, .sigmoid, .tanh, .softmax, .logSoftmax: return []
  }
}

/// A dense case: x [n, features] → units, with or without bias, and a fused activation.
func denseCase(
  _ n: Int, _ features: Int, _ units: Int, bias: Bool = true, _ a: Activation = .identity, scale: Double = 1
)
  -> VJPCase
{
  let seed = UInt64(n * 100 + features * 10 + units)
  var inputs = [
    randomDoubles([n, features], seed: seed, low: -scale, high: scale),
    randomDoubles([units, features], seed: seed + 1),
  ]
  if bias { inputs.append(randomDoubles([units], seed: seed + 2)) }
  return VJPCase(
    name: "dense [\(n), \(features)] → \(units)\(bias ? "" : " no bias") \(a)", inputs: inputs,
    forward: { try DoubleReferenceOps.dense($0[0], weight: $0[1], bias: bias ? $0[2] : nil, activation: a) },
    vjp: { xs, dy in
      let r = try ReferenceGradients.dense(dy: dy, x: xs[0], weight: xs[1], bias: bias ? xs[2] : nil, activation: a)
      return [r.dx, r.dWeight] + (bias ? [r.dBias] : [])
    },
    floatVJP: { xs, dy in
      let r = try ReferenceGradients.dense(dy: dy, x: xs[0], weight: xs[1], bias: bias ? xs[2] : nil, activation: a)
      return [r.dx, r.dWeight] + (bias ? [r.dBias] : [])
    },
    pieces: { xs in activationPieces(a, try DoubleReferenceOps.dense(xs[0], weight: xs[1], bias: bias ? xs[2] : nil)) })
}

/// A conv case on x [n, channels, h, w] with the given attributes.
func convCase(_ label: String, _ x: [Int], _ attrs: Conv2D) -> VJPCase {
  let seed = UInt64(x.reduce(0) { $0 * 7 + $1 } + attrs.filters)
  let weight = [attrs.filters, x[1] / attrs.groups, attrs.kernel.h, attrs.kernel.w]
  var inputs = [randomDoubles(x, seed: seed), randomDoubles(weight, seed: seed + 1, low: -0.5, high: 0.5)]
  if attrs.bias { inputs.append(randomDoubles([attrs.filters], seed: seed + 2)) }
  let linear = {
    var a = attrs
    a.activation = .identity
    return a
  }()
  let bias = attrs.bias
  return VJPCase(
    name: "conv \(label) x\(x)", inputs: inputs,
    forward: { try DoubleReferenceOps.conv2d($0[0], weight: $0[1], bias: bias ? $0[2] : nil, attrs) },
    vjp: { xs, dy in
      let r = try ReferenceGradients.conv2d(dy: dy, x: xs[0], weight: xs[1], bias: bias ? xs[2] : nil, attrs)
      return [r.dx, r.dWeight] + (bias ? [r.dBias] : [])
    },
    floatVJP: { xs, dy in
      let r = try ReferenceGradients.conv2d(dy: dy, x: xs[0], weight: xs[1], bias: bias ? xs[2] : nil, attrs)
      return [r.dx, r.dWeight] + (bias ? [r.dBias] : [])
    },
    pieces: { xs in
      activationPieces(
        attrs.activation, try DoubleReferenceOps.conv2d(xs[0], weight: xs[1], bias: bias ? xs[2] : nil, linear))
    })
}

/// A standalone activation on x of `shape` with values in [low, high).
func activationCase(_ a: Activation, _ shape: [Int], low: Double = -3, high: Double = 3) -> VJPCase {
  VJPCase(
    name: "\(a) \(shape)", inputs: [randomDoubles(shape, seed: UInt64(shape.reduce(1, *)), low: low, high: high)],
    forward: { try DoubleReferenceOps.activation($0[0], a) },
    vjp: { [try ReferenceGradients.activation(dy: $1, x: $0[0], a)] },
    floatVJP: { [try ReferenceGradients.activation(dy: $1, x: $0[0], a)] },
    pieces: { activationPieces(a, $0[0]) })
}

@Suite struct BackwardLayerTests {
  static let denseCases = [
    denseCase(1, 5, 3), denseCase(3, 6, 4, .relu), denseCase(4, 3, 5, bias: false, .sigmoid),
    denseCase(2, 4, 3, .softmax), denseCase(3, 4, 6, .logSoftmax), denseCase(3, 5, 4, .relu6, scale: 8),
    denseCase(2, 5, 3, .elu(alpha: 0.5)), denseCase(3, 3, 4, .leakyRelu(alpha: 0.1)), denseCase(2, 3, 2, .tanh),
  ]

  static let convCases = [
    convCase("3×3 stride 1 valid", [1, 2, 5, 5], Conv2D(filters: 3, kernel: Pair(3))),
    convCase(
      "3×3 stride 2 pad 1 relu", [3, 2, 7, 7],
      Conv2D(
        filters: 4, kernel: Pair(3), stride: Pair(2),
        padding: .explicit(Pads(1)), activation: .relu)),
    convCase(
      "dilation 2, pads 1/0/2/1, floor", [3, 2, 8, 7],
      Conv2D(
        filters: 3, kernel: Pair(3),
        padding: .explicit(Pads(top: 1, left: 0, bottom: 2, right: 1)), dilation: Pair(2), rounding: .floor)),
    convCase(
      "groups 2, kernel 2×3, stride [1, 2], tanh", [3, 4, 5, 7],
      Conv2D(
        filters: 4, kernel: Pair(2, 3),
        stride: Pair(1, 2), groups: 2, activation: .tanh)),
    convCase(
      "depthwise ×2, same, leaky", [1, 3, 6, 6],
      Conv2D(
        filters: 6, kernel: Pair(3), padding: .same,
        groups: 3, activation: .leakyRelu(alpha: 0.2))),
    convCase(
      "no bias, same, stride 2, elu", [3, 2, 6, 5],
      Conv2D(
        filters: 2, kernel: Pair(3), stride: Pair(2),
        padding: .same, bias: false, activation: .elu(alpha: 1))),
    convCase("1×1 relu6", [1, 3, 4, 4], Conv2D(filters: 2, kernel: Pair(1), activation: .relu6)),
  ]

  static let activationCases = [
    activationCase(.identity, [3, 4]), activationCase(.relu, [3, 4, 2, 2]),
    activationCase(.relu6, [3, 5], low: -2, high: 8), activationCase(.relu6, [4, 6], low: 5, high: 7),
    activationCase(.leakyRelu(alpha: 0.01), [2, 6]), activationCase(.elu(alpha: 1.5), [3, 4]),
    activationCase(.sigmoid, [2, 3, 2, 2]), activationCase(.tanh, [4, 3]), activationCase(.softmax, [3, 4]),
    activationCase(.softmax, [2, 3, 2, 2]), activationCase(.logSoftmax, [3, 5]),
    activationCase(.logSoftmax, [2, 4, 3]),
  ]

  @Test(arguments: denseCases + convCases + activationCases)
  func vjpMatchesCentralDifferences(_ c: VJPCase) throws { try expectFiniteDifferences(c) }

  @Test(arguments: denseCases + convCases + activationCases)
  func floatVJPAgreesWithDouble(_ c: VJPCase) throws { try expectFloatAgrees(c) }

  /// A dy of the wrong shape is an error naming the op, not a trap.
  @Test func wrongGradientShapeThrows() {
    let x = Tensor(zeros: [2, 3])
    #expect(throws: ReferenceError.self) {
      try ReferenceGradients.dense(dy: Tensor(zeros: [2, 5]), x: x, weight: Tensor(zeros: [4, 3]), bias: nil)
    }
    #expect(throws: ReferenceError.self) {
      try ReferenceGradients.conv2d(
        dy: Tensor(zeros: [1, 2, 3, 3]), x: Tensor(zeros: [1, 1, 4, 4]), weight: Tensor(zeros: [2, 1, 3, 3]), bias: nil,
        Conv2D(filters: 2, kernel: Pair(3)))
    }
  }
}
