// Every op keyword and alias, every attribute default, and the activation and initializer spellings.

import KilnFrontend
import KilnIR
import Testing

/// One layer line and the op it must build.
struct LayerCase: Sendable, CustomTestStringConvertible {
  var line: String
  var op: Op
  var testDescription: String { line }
}

/// One initializer spelling and what it means.
struct InitCase: Sendable, CustomTestStringConvertible {
  var spelling: String
  var initializer: Initializer
  var testDescription: String { spelling }
}

@Suite struct AttributeTests {
  static let layers: [LayerCase] = [
    LayerCase(line: "dense (units: 7)", op: .dense(Dense(units: 7))),
    LayerCase(
      line: "dense d (units: 7, bias: false, activation: sigmoid, init: he_normal, bias_init: ones)",
      op: .dense(Dense(units: 7, bias: false, activation: .sigmoid, weightInit: .heNormal, biasInit: .ones))),
    LayerCase(line: "conv (filters: 4, kernel: 3)", op: .conv2d(Conv2D(filters: 4, kernel: Pair(3)))),
    LayerCase(line: "conv2d (filters: 4, kernel: [3, 1])", op: .conv2d(Conv2D(filters: 4, kernel: Pair(3, 1)))),
    LayerCase(
      line:
        "conv (filters: 6, kernel: 3, stride: [2, 1], padding: [1, 2, 3, 4], dilation: 2, groups: 3, bias: false, activation: relu6, rounding: floor, init: kaiming_uniform, bias_init: constant(0.5))",
      op: .conv2d(
        Conv2D(
          filters: 6, kernel: Pair(3), stride: Pair(2, 1), padding: .explicit(Pads(top: 1, left: 2, bottom: 3, right: 4)),
          dilation: Pair(2), groups: 3, bias: false, activation: .relu6, rounding: .floor, weightInit: .heUniform,
          biasInit: .constant(0.5)))),
    LayerCase(
      line: "conv (filters: 3, kernel: 3, padding: valid, groups: 3)",
      op: .conv2d(Conv2D(filters: 3, kernel: Pair(3), padding: .valid, groups: 3))),
    LayerCase(line: "maxpool (kernel: 3)", op: .maxPool(Pool(kernel: Pair(3), stride: Pair(3)))),
    LayerCase(
      line: "maxpool (kernel: 3, stride: 2, padding: 1, rounding: ceil)",
      op: .maxPool(Pool(kernel: Pair(3), stride: Pair(2), padding: .explicit(Pads(1)), rounding: .ceil))),
    LayerCase(line: "avgpool (kernel: [2, 4])", op: .avgPool(Pool(kernel: Pair(2, 4)))),
    LayerCase(
      line: "avgpool (kernel: 2, padding: same, count_include_pad: false)",
      op: .avgPool(Pool(kernel: Pair(2), padding: .same, countIncludePad: false))),
    LayerCase(line: "global_avgpool", op: .globalAvgPool),
    LayerCase(line: "flatten", op: .flatten),
    LayerCase(line: "reshape (shape: [-1, 4])", op: .reshape(dims: [-1, 4])),
    LayerCase(line: "reshape (shape: 192)", op: .reshape(dims: [192])),
    LayerCase(line: "batchnorm", op: .batchNorm(BatchNorm(epsilon: 1e-5, momentum: 0.1))),
    LayerCase(line: "batchnorm (epsilon: 1e-3, momentum: 0.01)", op: .batchNorm(BatchNorm(epsilon: 1e-3, momentum: 0.01))),
    LayerCase(line: "dropout", op: .dropout(rate: 0.5)),
    LayerCase(line: "dropout (rate: 0)", op: .dropout(rate: 0)),
    LayerCase(line: "lrn (size: 5)", op: .lrn(LRN(size: 5, alpha: 1e-4, beta: 0.75, k: 1))),
    LayerCase(line: "lrn (size: 5, alpha: 0.001, beta: 0.5, k: 2)", op: .lrn(LRN(size: 5, alpha: 0.001, beta: 0.5, k: 2))),
    LayerCase(line: "identity", op: .activation(.identity)),
    LayerCase(line: "relu", op: .activation(.relu)),
    LayerCase(line: "relu6", op: .activation(.relu6)),
    LayerCase(line: "sigmoid", op: .activation(.sigmoid)),
    LayerCase(line: "tanh", op: .activation(.tanh)),
    LayerCase(line: "softmax", op: .activation(.softmax)),
    LayerCase(line: "log_softmax", op: .activation(.logSoftmax)),
    LayerCase(line: "leaky_relu", op: .activation(.leakyRelu(alpha: 0.01))),
    LayerCase(line: "leaky_relu (alpha: 0.2)", op: .activation(.leakyRelu(alpha: 0.2))),
    LayerCase(line: "elu", op: .activation(.elu(alpha: 1))),
    LayerCase(line: "elu e (alpha: 0.5)", op: .activation(.elu(alpha: 0.5))),
    // Activation values of a layer, in each spelling.
    LayerCase(line: "dense (units: 1, activation: leaky_relu)", op: .dense(Dense(units: 1, activation: .leakyRelu(alpha: 0.01)))),
    LayerCase(line: "dense (units: 1, activation: leaky_relu(0.1))", op: .dense(Dense(units: 1, activation: .leakyRelu(alpha: 0.1)))),
    LayerCase(
      line: "dense (units: 1, activation: leaky_relu(alpha: 0.3))", op: .dense(Dense(units: 1, activation: .leakyRelu(alpha: 0.3)))),
    LayerCase(line: "dense (units: 1, activation: elu(2.0))", op: .dense(Dense(units: 1, activation: .elu(alpha: 2)))),
    LayerCase(line: "dense (units: 1, activation: elu)", op: .dense(Dense(units: 1, activation: .elu(alpha: 1)))),
    LayerCase(line: "dense (units: 1, activation: log_softmax)", op: .dense(Dense(units: 1, activation: .logSoftmax))),
    LayerCase(line: "dense (units: 1, activation: tanh())", op: .dense(Dense(units: 1, activation: .tanh))),
    LayerCase(line: "dense (units = 2)", op: .dense(Dense(units: 2))),
  ]

  @Test(arguments: layers)
  func layerBuildsItsOp(_ c: LayerCase) {
    #expect(layerOp(c.line) == c.op)
  }

  static let initializers: [InitCase] = [
    InitCase(spelling: "glorot_uniform", initializer: .glorotUniform),
    InitCase(spelling: "xavier_uniform", initializer: .glorotUniform),
    InitCase(spelling: "glorot_normal", initializer: .glorotNormal),
    InitCase(spelling: "xavier_normal", initializer: .glorotNormal),
    InitCase(spelling: "he_uniform", initializer: .heUniform),
    InitCase(spelling: "kaiming_uniform", initializer: .heUniform),
    InitCase(spelling: "he_normal", initializer: .heNormal),
    InitCase(spelling: "kaiming_normal()", initializer: .heNormal),
    InitCase(spelling: "zeros", initializer: .zeros),
    InitCase(spelling: "ones", initializer: .ones),
    InitCase(spelling: "torch_default", initializer: .torchDefault),
    InitCase(spelling: "constant(0.25)", initializer: .constant(0.25)),
    InitCase(spelling: "constant(value: -1)", initializer: .constant(-1)),
    InitCase(spelling: "normal(0.02)", initializer: .normal(mean: 0, std: 0.02)),
    InitCase(spelling: "normal(mean: 1, std: 0.5)", initializer: .normal(mean: 1, std: 0.5)),
    InitCase(spelling: "uniform(-0.1, 0.1)", initializer: .uniform(low: -0.1, high: 0.1)),
    InitCase(spelling: "uniform(a: 0, b: 2)", initializer: .uniform(low: 0, high: 2)),
  ]

  @Test(arguments: initializers)
  func initializerSpellings(_ c: InitCase) {
    #expect(layerOp("dense (units: 2, init: \(c.spelling))") == .dense(Dense(units: 2, weightInit: c.initializer)))
    #expect(layerOp("conv (filters: 2, kernel: 1, bias_init: \(c.spelling))")
      == .conv2d(Conv2D(filters: 2, kernel: Pair(1), biasInit: c.initializer)))
  }

  @Test func everyKeywordIsCovered() {
    // The table above exercises every keyword; a new keyword must get a case.
    let covered = Set(Self.layers.compactMap { $0.line.split(separator: " ").first.map(String.init) })
    let all: Set<String> = [
      "dense", "conv", "conv2d", "maxpool", "avgpool", "global_avgpool", "flatten", "reshape", "batchnorm", "dropout",
      "lrn", "identity", "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax",
    ]
    #expect(all.subtracting(covered).isEmpty)
    let binary = parseClean("network n\ninput a: f32[2]\ninput b: f32[2]\nadd s <- a, b\nmul m <- s, b\nconcat c <- a, b, m\noutput y")
    #expect(binary?.nodes.suffix(3).map(\.op) == [.add, .mul, .concat])
  }
}
