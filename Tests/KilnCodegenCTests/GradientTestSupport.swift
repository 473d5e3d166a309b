// Helpers shared by the training-kernel tests: building gradient kernels, running them, thread-count checks.
import KilnCodegenC
import KilnIR
import KilnReference
import KilnTestSupport
import Testing

/// The batches every training-kernel case runs at, one after another through the same compiled code.
let trainingBatches = [1, 3, 8]

/// The kernel of the gradient of `op` (on inputs of per-sample `inputs` dims, producing `output` dims) toward
/// `target`, with `operands` in the order `Autodiff.rule` gives them. A loss's target operand is i64 [] when
/// the loss takes class indices.
func gradientKernel(
  _ name: String, _ op: Op, layer: String = "layer", inputs: [[Int]], output: [Int],
  target: Gradient.Target = .input(0),
  operands: [GradientOperand]
) throws -> KernelFunction {
  var inputTypes = inputs.map { TensorType(.f32, $0) }
  if case .loss(let kind) = op, kind.takesClassIndices { inputTypes[1] = TensorType(.i64, []) }
  let g = Gradient(forward: op, forwardName: layer, forwardInputTypes: inputTypes, target: target, operands: operands)
  let types = operands.map { operand -> TensorType in
    switch operand {
    case .outputGradient, .forwardOutput: return TensorType(.f32, output)
    case .forwardInput(let k): return inputTypes[k]
    }
  }
  let result = try #require(g.resultType, "\(op.name) has no \(target)")
  return try GradientKernels.make(
    name: name, gradient: g, inputTypes: types, outputType: result, options: KernelOptions())
}

extension KernelBench {
  /// The kernel called `name`, or a recorded failure.
  func kernel(named name: String) throws -> KernelFunction { try #require(kernels[name], "no kernel \(name)") }

  /// Runs `kernel` and returns its one `.output` value.
  func output(
    _ kernel: KernelFunction, n: Int, _ arguments: [String: [Float]], labels: [String: [Int64]] = [:],
    stepInfo: StepInfo? = nil
  ) throws -> [Float] {
    let out = try #require(kernel.parameters.first { $0.role == .output }, "\(kernel.name) has no output")
    let results = try run(kernel, n: n, arguments, labels: labels, stepInfo: stepInfo)
    return try #require(results[out.name], "\(kernel.name) returned no \(out.name)")
  }
}

/// Runs `kernel` on one and on two OpenMP threads and expects every result (outputs, updated parameters)
/// to be bit-identical.
func expectSameBitsOnOneAndTwoThreads(
  _ bench: KernelBench, _ kernel: KernelFunction, n: Int, _ arguments: [String: [Float]],
  labels: [String: [Int64]] = [:], stepInfo: KernelBench.StepInfo? = nil,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
  try bench.setThreads(1)
  let one = try bench.run(kernel, n: n, arguments, labels: labels, stepInfo: stepInfo)
  try bench.setThreads(2)
  let two = try bench.run(kernel, n: n, arguments, labels: labels, stepInfo: stepInfo)
  #expect(!one.isEmpty, sourceLocation: sourceLocation)
  for (name, values) in one {
    #expect(
      bitPatterns(values) == bitPatterns(two[name] ?? []), "\(kernel.name): '\(name)' differs on 1 and 2 threads",
      sourceLocation: sourceLocation)
  }
}

/// A seeded tensor of shape [n] + `dims` with values in [low, high).
func randomTensor(_ n: Int, _ dims: [Int], seed: UInt64, low: Float = -2, high: Float = 2) -> Tensor {
  var random = SeededRandom(seed: seed)
  return random.tensor([n] + dims, low: low, high: high)
}
