// What the generated module promises beyond agreement: thread-count independence, sequential builds,
// deterministic emission, cached builds, and clear error codes for bad calls.
import Foundation
import KilnCodegenC
import KilnData
import KilnDriver
import KilnHarness
import KilnIR
import KilnTestSupport
import Testing

/// A small network that reaches every kernel kind the examples miss: LRN, grouped and dilated convolution,
/// average pooling in ceil mode, log-softmax, multiply, and an output that is also read further on.
let kitchenSinkSpec = """
  network kitchen_sink
  input x: f32[4, 13, 11]
  conv a (filters: 8, kernel: 3, padding: [1, 2, 1, 0], dilation: 2, groups: 2, activation: elu, rounding: floor)
  lrn (size: 3, alpha: 0.01, beta: 0.75, k: 2)
  avgpool p (kernel: 3, stride: 2, padding: 1, rounding: ceil, count_include_pad: false)
  conv b (filters: 8, kernel: 1, activation: tanh) <- p
  mul m <- p, b
  batchnorm bn
  maxpool (kernel: 2, stride: 1)
  output features
  global_avgpool
  dense d (units: 5, activation: log_softmax)
  output scores
  """

@Suite(.serialized) struct ModuleBehaviorTests {
  static let sink = Result { try compileFixture(try graph(source: kitchenSinkSpec), options: small) }
  static var small: CompileOptions {
    var o = CompileOptions()
    o.maxBatch = 5
    return o
  }

  @Test func kitchenSinkAgreesWithTheInterpreter() throws {
    let f = try Self.sink.get()
    for (i, (out, ref)) in try runBoth(f, randomInputs(f.graph, n: 5, seed: 11)).enumerated() {
      expectAgrees(out, ref, "kitchen_sink \(f.graph.outputs[i].name)")
    }
  }

  @Test(arguments: ["lenet5.kiln", "resnet_block.kiln", "inception_block.kiln"])
  func oneAndTwoThreadsGiveBitIdenticalOutputs(_ file: String) throws {
    let g = try exampleGraph(file)
    let f = try compileFixture(g, options: Self.small)
    let inputs = randomInputs(g, n: 5, seed: 5).map(\.data)
    try f.model.setThreads(1)
    let one = try f.model.infer(inputs, n: 5)
    try f.model.setThreads(2)
    let two = try f.model.infer(inputs, n: 5)
    #expect(one.map { $0.map(\.bitPattern) } == two.map { $0.map(\.bitPattern) })
  }

  @Test func kitchenSinkThreadsAreBitIdentical() throws {
    let f = try Self.sink.get()
    let inputs = randomInputs(f.graph, n: 5, seed: 6).map(\.data)
    try f.model.setThreads(1)
    let one = try f.model.infer(inputs, n: 5)
    try f.model.setThreads(2)
    let two = try f.model.infer(inputs, n: 5)
    #expect(one.map { $0.map(\.bitPattern) } == two.map { $0.map(\.bitPattern) })
  }

  @Test func sequentialBuildWithoutOpenMPGivesTheSameOutputs() throws {
    let g = try graph(source: kitchenSinkSpec)
    var options = Self.small
    options.openMP = false
    let sequential = try compileFixture(g, options: options)
    let parallel = try Self.sink.get()
    let inputs = randomInputs(g, n: 3, seed: 8).map(\.data)
    let a = try sequential.model.infer(inputs, n: 3)
    let b = try parallel.model.infer(inputs, n: 3)
    #expect(a.map { $0.map(\.bitPattern) } == b.map { $0.map(\.bitPattern) })
  }

  @Test func emissionIsDeterministicAndBuildsAreCached() throws {
    let g = try exampleGraph("lenet5.kiln")
    let first = try compileFixture(g, options: Self.small)
    let second = try compileFixture(g, options: Self.small)
    #expect(first.module.header == second.module.header)
    #expect(first.module.source == second.module.source)
    #expect(second.module.cacheHit)
    #expect(first.module.header.contains("Do not edit"))
    #expect(!first.module.source.contains("/tmp") && !first.module.source.contains("/work"))
  }

  @Test func headerStatesTheSizes() throws {
    let f = try compileFixture(try exampleGraph("lenet5.kiln"), options: Self.small)
    let h = f.module.header
    #expect(h.contains("#define LENET5_INPUT_SIZE 784"))
    #expect(h.contains("#define LENET5_OUTPUT_SIZE 10"))
    #expect(h.contains("#define LENET5_MAX_BATCH 5"))
    #expect(h.contains("#define LENET5_PARAMS_BYTES "))
    #expect(h.contains("#define LENET5_ARENA_BYTES "))
    #expect(h.contains("int lenet5_forward(const float *params, void *arena, const float *input, float *output, int n);"))
  }

  @Test func badCallsGetErrorCodesNotCrashes() throws {
    let f = try Self.sink.get()
    let m = f.model
    let x = randomInputs(f.graph, n: 6, seed: 1).map(\.data)
    // `#expect(throws:)` fails when nothing is thrown, so a module that accepted these would fail the test.
    let tooLarge = #expect(throws: ModelError.self) { try m.infer(x, n: 6) }
    #expect(tooLarge?.code == RuntimeStatus.batchTooLarge.rawValue)
    #expect(tooLarge?.message.contains("batch 6 is outside 1...5") == true)
    let empty = #expect(throws: ModelError.self) { try m.infer([[]], n: 0) }
    #expect(empty?.code == RuntimeStatus.badBatch.rawValue)
    // NULL input and output pointers.
    var nothing: [UnsafePointer<Float>?] = [nil]
    var noOutputs: [UnsafeMutablePointer<Float>?] = [nil, nil]
    let rc = try nothing.withUnsafeMutableBufferPointer { ins in
      try noOutputs.withUnsafeMutableBufferPointer { outs in
        try m.inferRaw(inputs: UnsafePointer(ins.baseAddress), n: 1, outputs: UnsafePointer(outs.baseAddress))
      }
    }
    #expect(rc == RuntimeStatus.nullArgument.rawValue)
    #expect(try m.inferRaw(inputs: nil, n: 1, outputs: nil) == RuntimeStatus.nullArgument.rawValue)
    #expect(throws: ModelError.self) { try m.setThreads(0) }
  }

  @Test func nanInTheInputPropagates() throws {
    let f = try Self.sink.get()
    var x = randomInputs(f.graph, n: 2, seed: 2)[0].data
    x[0] = .nan
    let out = try f.model.infer([x], n: 2)
    #expect(out.allSatisfy { $0.contains { $0.isNaN } })
  }
}

@Suite struct OutputCopyTests {
  /// Outputs that cannot be written in place: a second output of the same value, an output that is an input,
  /// and one reached through views (flatten, dropout) — each gets a copy step or the producer's own buffer.
  @Test func outputsThatShareOrAreInputsAreCopied() throws {
    let g = try graph(
      source: """
        network passthrough
        input x: f32[3, 4, 4]
        relu r
        output a
        output b <- r
        output c <- x
        flatten f <- r
        dropout (rate: 0.3)
        output d
        """)
    var options = CompileOptions()
    options.maxBatch = 2
    let f = try compileFixture(g, options: options)
    #expect(f.module.source.contains("_copy_b("))
    #expect(f.module.source.contains("_copy_c("))
    for (i, (out, ref)) in try runBoth(f, randomInputs(g, n: 2, seed: 9)).enumerated() {
      #expect(out.data == ref.data, "output \(g.outputs[i].name)")
    }
  }
}
