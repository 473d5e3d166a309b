// The elementwise add and multiply kernels against the interpreter, fused activations included.
import KilnCodegenC
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

@Suite struct ElementwiseBinaryTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var op: Op
    var perSample: Int
    var activation: Activation
    var n: Int
    var testDescription: String { "\(op.name) \(perSample)/sample \(activation) n=\(n)" }
  }

  static let cases: [Case] = [
    Case(op: .add, perSample: 1, activation: .identity, n: 1),
    Case(op: .add, perSample: 37, activation: .relu, n: 3),
    Case(op: .mul, perSample: 1000, activation: .identity, n: 2),
    Case(op: .add, perSample: 40_000, activation: .relu6, n: 2),  // above the parallel threshold
    Case(op: .mul, perSample: 5, activation: .leakyRelu(alpha: 0.1), n: 4),
    Case(op: .add, perSample: 7, activation: .sigmoid, n: 1),
  ]

  static let bench = Result {
    try KernelBench(
      cases.enumerated().map { i, c in
        ElementwiseBinaryKernel.make(name: "k\(i)_\(c.op.name)", op: c.op, perSample: c.perSample, activation: c.activation)
      })
  }

  @Test(arguments: cases.indices)
  func matchesTheInterpreter(_ i: Int) throws {
    let c = Self.cases[i]
    let bench = try Self.bench.get()
    var random = SeededRandom(seed: UInt64(i))
    let a = random.tensor([c.n, c.perSample], low: -3, high: 3)
    let b = random.tensor([c.n, c.perSample], low: -3, high: 3)
    let kernel = try #require(bench.kernels["k\(i)_\(c.op.name)"])
    let y = try bench.run(kernel, n: c.n, ["a": a.data, "b": b.data])
    let combined = try c.op == .add ? ReferenceOps.add(a, b) : ReferenceOps.mul(a, b)
    let expected = try ReferenceOps.activation(combined, c.activation)
    expectClose(Tensor(shape: [c.n, c.perSample], data: y["y"] ?? []), expected, c.testDescription)
  }
}
