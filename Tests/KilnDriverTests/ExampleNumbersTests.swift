// Every example network checks, and reproduces the numbers of the course material (../shared/seed-examples.md).
import KilnDriver
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct ExampleNumbersTests {
  struct Expected: Sendable, CustomTestStringConvertible {
    var file: String
    var parameters: Int
    /// Per-layer output dims for the named layers.
    var shapes: [String: [Int]] = [:]
    var macs: Int? = nil
    var buffers: Int = 0
    var testDescription: String { file }
  }

  static let expectations: [Expected] = [
    Expected(
      file: "lenet5.kiln", parameters: 61_706,
      shapes: ["c1": [6, 28, 28], "maxpool_1": [6, 14, 14], "c2": [16, 10, 10], "maxpool_2": [16, 5, 5],
        "flatten_1": [400], "fc1": [120], "fc2": [84], "fc3": [10]],
      macs: 117_600 + 240_000 + 48_000 + 10_080 + 840),
    Expected(
      file: "mnist_cnn.kiln", parameters: 137_660,
      shapes: ["conv1": [25, 26, 26], "maxpool_1": [25, 13, 13], "conv2": [50, 11, 11], "maxpool_2": [50, 5, 5],
        "flatten_1": [1250], "fc1": [100], "fc2": [10]]),
    Expected(
      file: "alexnet.kiln", parameters: 62_378_344,
      shapes: ["conv1": [96, 55, 55], "pool1": [96, 27, 27], "norm1": [96, 27, 27], "conv2": [256, 27, 27],
        "pool2": [256, 13, 13], "norm2": [256, 13, 13], "conv3": [384, 13, 13], "conv4": [384, 13, 13],
        "conv5": [256, 13, 13], "pool5": [256, 6, 6], "flatten_1": [9216], "fc6": [4096], "fc7": [4096],
        "fc8": [1000]]),
    Expected(file: "mlp.kiln", parameters: 79_510, shapes: ["hidden": [100], "out": [10]]),
    Expected(file: "mlp_3_5_4_5_2.kiln", parameters: 81, shapes: ["l4": [2]], macs: 65),
    Expected(file: "mlp_784_512_256_10.kiln", parameters: 535_818),
    Expected(file: "conv_32x32x3.kiln", parameters: 760, shapes: ["conv": [10, 32, 32]]),
    Expected(file: "conv_128x128x1.kiln", parameters: 640, shapes: ["conv": [64, 126, 126]]),
    Expected(file: "conv_chain.kiln", parameters: 2_986, shapes: ["conv1": [10, 26, 26], "conv2": [6, 11, 11]]),
    Expected(
      file: "resnet_block.kiln", parameters: 19_994,
      shapes: ["b1_add": [16, 32, 32], "b2_conv1": [32, 16, 16], "b2_proj": [32, 16, 16], "fc": [10]], buffers: 288),
    // He et al.'s ResNet-20 with projection shortcuts: 0.27M parameters, about 41M multiply-accumulates.
    Expected(
      file: "resnet20.kiln", parameters: 272_474,
      shapes: ["s1b3_out": [16, 32, 32], "s2b1_conv1": [32, 16, 16], "s2b1_proj": [32, 16, 16], "s3b3_out": [64, 8, 8],
        "pool": [64], "fc": [10]],
      macs: 40_813_184, buffers: 1_568),
    Expected(
      file: "vgg_bn.kiln", parameters: 2_197_706,
      shapes: ["conv1_2": [64, 32, 32], "pool1": [64, 16, 16], "pool2": [128, 8, 8], "pool3": [256, 4, 4],
        "flatten_1": [4096], "fc1": [256], "fc2": [10]],
      macs: 153_815_552, buffers: 1_792),
    Expected(
      file: "inception_block.kiln", parameters: 7_206,
      shapes: ["mixed": [56, 32, 32], "b4_pool": [32, 32, 32], "probs": [10]]),
  ]

  @Test(arguments: expectations)
  func exampleMatchesTheCourse(_ e: Expected) throws {
    let path = PackagePaths.examples.appendingPathComponent(e.file).path
    let loaded = NetworkLoader.load(path: path)
    #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
    let graph = try #require(loaded.graph)
    #expect(Verifier.verify(graph, requireTypes: true).isEmpty)
    let summary = NetworkSummary(graph)
    #expect(summary.totalParameters == e.parameters)
    #expect(summary.totalBuffers == e.buffers)
    if let macs = e.macs { #expect(summary.totalMACs == macs) }
    for (layer, dims) in e.shapes {
      #expect(summary.layers.first { $0.name == layer }?.shape == dims, "layer \(layer)")
    }
  }

  @Test func everyExampleIsCovered() {
    let files = Set(PackagePaths.exampleSpecs().map(\.lastPathComponent))
    #expect(files == Set(Self.expectations.map(\.file)))
  }

  /// The course's 3-5-4-5-2 MLP: 16 neurons, 65 weights, 16 biases. The course's total of 82 is a slip
  /// (65 + 16 = 81); its 784-100-10 total of 79,500 leaves out the output layer's 10 biases (79,400 + 110).
  @Test(arguments: [("mlp_3_5_4_5_2.kiln", 65, 16, 16), ("mlp.kiln", 79_400, 110, 110)])
  func courseMLPWeightsBiasesAndNeurons(_ file: String, weights: Int, biases: Int, neurons: Int) throws {
    let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent(file).path)
    let summary = NetworkSummary(graph)
    #expect(summary.totalWeights == weights)
    #expect(summary.totalBiases == biases)
    let units = graph.nodes.compactMap { n -> Int? in if case .dense(let d) = n.op { return d.units } else { return nil } }
    #expect(units.reduce(0, +) == neurons)
    #expect(summary.renderTable().contains("(\(grouped(weights)) weights, \(grouped(biases)) biases)"))
  }

  @Test func alexNetConv1HasElevenByElevenByThreeBy96Weights() throws {
    let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent("alexnet.kiln").path)
    #expect(graph.parameters().first { $0.name == "conv1.weight" }?.elementCount == 11 * 11 * 3 * 96)
  }

  @Test func lenetTableAsPrinted() throws {
    let graph = try NetworkLoader.graph(path: PackagePaths.examples.appendingPathComponent("lenet5.kiln").path)
    let table = NetworkSummary(graph).renderTable()
    #expect(table.contains("parameters: 61,706 trainable (61,470 weights, 236 biases)"))
    #expect(table.contains("c1         conv     6×28×28      156  117,600\n"))
    #expect(table.contains("multiply-accumulates per sample: 416,520"))
    #expect(table.contains("weights: 246,824 B (241.0 KiB)"))
  }
}

@Suite struct SpecErrorTests {
  func diagnostics(_ source: String) -> [String] {
    NetworkLoader.load(source: source, file: "net.kiln").diagnostics.map(\.description)
  }

  @Test func windowThatDoesNotFitIsReportedNotFloored() {
    let d = diagnostics(
      """
      network t
      input x: f32[1, 7, 7]
      conv c (filters: 1, kernel: 3, stride: 3)
      output y
      """)
    #expect(d.count == 1)
    #expect(d.first?.hasPrefix("net.kiln:3:1: error: conv 'c': window does not fit along height: (7 + 0 − 3) / 3 + 1 = 2.33") == true)
  }

  @Test func parseAndShapeErrorsAreReportedTogether() {
    let d = diagnostics(
      """
      network t
      input x: f32[3, 8, 8]
      conv a (filters: 4, kernel: 1)
      conv b (filters: 8, kernel: 1) <- x
      add s <- a, b
      dense d (unit: 3) <- x
      output y <- s
      """)
    #expect(d.count == 3, "\(d)")  // the shape error, the unknown attribute and the missing one
    #expect(d.contains { $0.hasPrefix("net.kiln:5:1: error: add 's': shape mismatch") })
    #expect(d.contains { $0.hasPrefix("net.kiln:6:10: error: unknown attribute 'unit' for dense d") })
    #expect(d.contains { $0.hasPrefix("net.kiln:6:1: error: dense d is missing the attribute 'units'") })
  }
}
