// One test per kind of error: where it is reported (line:column) and what it says.

import Foundation
@testable import KilnFrontend
import KilnIR
import Testing

@Suite struct ErrorTests {
  @Test func unexpectedCharacter() {
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ndense $d (units: 2)\noutput y", at: 3, 7,
      "t.kiln:3:7: error: unexpected character '$'", "expected a name, a number")
  }

  @Test func unexpectedToken() {
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ndense d (units: 2) )\noutput y", at: 3, 20,
      "unexpected ')'", "expected '<-' and input names, the end of the line")
  }

  @Test func unterminatedParenthesisResumesAtTheNextStatement() {
    let found = diagnostics("network n\ninput x: f32[4]\ndense d (units: 2\ndense e (units: 3, bogus: 1)\noutput y")
    #expect(
      found == [
        "t.kiln:3:9: error: unterminated '('; expected ')' to close it before identifier 'dense' on line 4",
        "t.kiln:4:20: error: unknown attribute 'bogus' for dense e; expected one of: units, bias, activation, init, bias_init",
      ])
  }

  @Test func unterminatedBracketAtEndOfFile() {
    expectOneDiagnostic("network n\noutput y <- x\ninput x: f32[4, 4", at: 3, 13, "unterminated '['", "before the end of the file")
  }

  @Test func unterminatedTrainSection() {
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\noutput y <- x\ntrain {\n  loss: mse(y, t)\n", at: 4, 7,
      "unterminated '{' of the train section", "'}' to close it before the end of the file")
  }

  @Test func nestingDeeperThanTheLimitIsAnErrorNotACrash() {
    let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
    expectOneDiagnostic(
      layerSpec("reshape (shape: \(deep))"), at: 3, 48, "unexpected '['", "expected at most 32 brackets nested in one value")
  }

  @Test func unknownOpSuggestsTheClosestAndListsTheOps() {
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ndnese (units: 2)\noutput y", at: 3, 1,
      "unknown op 'dnese'; did you mean 'dense'?", "expected a layer keyword: dense, conv, conv2d, maxpool")
  }

  @Test func unknownAttributeListsTheOpsAttributes() {
    expectOneDiagnostic(
      layerSpec("conv c (filters: 2, kernel: 3, strides: 2)"), at: 3, 32,
      "unknown attribute 'strides' for conv c; did you mean 'stride'?",
      "expected one of: filters, kernel, stride, padding, dilation, groups, bias, activation, rounding, init, bias_init")
    expectOneDiagnostic(layerSpec("flatten (x: 1)"), at: 3, 10, "unknown attribute 'x' for flatten; expected no attributes")
  }

  @Test func missingRequiredAttribute() {
    expectOneDiagnostic(layerSpec("conv c1 (kernel: 3)"), at: 3, 1, "conv c1 is missing the attribute 'filters'", "expected 'filters: INT'")
  }

  @Test func wrongValueType() {
    expectOneDiagnostic(
      layerSpec("conv c1 (filters: six, kernel: 3)"), at: 3, 19,
      "found identifier 'six' for 'filters' of conv c1; expected a positive integer")
    expectOneDiagnostic(layerSpec("dense (units: 2.5)"), at: 3, 15, "found number '2.5' for 'units' of dense")
    expectOneDiagnostic(layerSpec("dense (units: 2, bias: 1)"), at: 3, 24, "found integer '1' for 'bias' of dense; expected true or false")
    expectOneDiagnostic(layerSpec("dense (units: 2, activation: relux)"), at: 3, 30, "unknown activation 'relux' for dense; did you mean 'relu'?")
    expectOneDiagnostic(layerSpec("dense (units: 2, init: glorot)"), at: 3, 24, "unknown initializer 'glorot'", "expected one of: glorot_uniform")
    expectOneDiagnostic(layerSpec("conv (filters: 2, kernel: [1, 2, 3])"), at: 3, 27, "found list '[1, 2, 3]' for 'kernel'")
    expectOneDiagnostic(layerSpec("conv (filters: 2, kernel: 1, rounding: ceil)"), at: 3, 40, "expected one of: exact, floor")
  }

  @Test func valueOutOfRange() {
    expectOneDiagnostic(layerSpec("conv (filters: 4, kernel: 0)"), at: 3, 27, "'kernel' of conv is out of range: 0; expected a positive integer")
    expectOneDiagnostic(layerSpec("conv (filters: 4, kernel: 1, padding: -1)"), at: 3, 39, "'padding' of conv is out of range: -1")
    expectOneDiagnostic(layerSpec("dropout (rate: 1)"), at: 3, 16, "'rate' of dropout is out of range: 1; expected a number in [0, 1)")
    expectOneDiagnostic(
      layerSpec("conv (filters: 4, kernel: 1, groups: 3)"), at: 3, 38,
      "conv has 4 filters, which is not divisible by groups: 3")
    expectOneDiagnostic(layerSpec("reshape (shape: [-1, 2, -1])"), at: 3, 17, "more than one -1 dimension")
    expectOneDiagnostic(layerSpec("dense (units: 1, init: uniform(1, 0))"), at: 3, 24, "uniform(1, 0) of dense is an empty range")
  }

  @Test func undefinedNameSuggestsTheClosest() {
    expectOneDiagnostic(
      "network n\ninput image: f32[4]\ndense d (units: 2) <- imag\noutput y", at: 3, 23,
      "undefined name 'imag'; did you mean 'image'?", "expected the name of an input, a layer or an output")
  }

  @Test func duplicateNamePointsAtTheFirstDefinition() {
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ndense d (units: 2)\ndense d (units: 3)\noutput y <- x", at: 4, 7,
      "duplicate name 'd' (first defined at t.kiln:3:7)")
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ndense d (units: 2)\noutput x\n", at: 4, 8, "duplicate name 'x' (first defined at t.kiln:2:7)")
  }

  @Test func outputNamesAreUniqueEvenWhenTheyRepeatTheirValuesName() {
    let spec = "network n\ninput x: f32[4]\ndense d (units: 2)\noutput d\noutput d <- d\n"
    expectOneDiagnostic(spec, at: 5, 8, "duplicate output name 'd' (first defined at t.kiln:4:8)")
    #expect(parse(spec).graph?.outputs.map(\.name) == ["d"])
  }

  @Test func cycleNamesItsMembers() {
    let spec = "network n\ninput x: f32[4]\nadd a <- x, c\ndense b (units: 4)\ndense c (units: 4)\noutput y <- x"
    expectOneDiagnostic(spec, at: 3, 1, "cycle: 'a' -> 'b' -> 'c' -> 'a'")
    #expect(names(parse(spec).graph) == ["x"])
    expectOneDiagnostic("network n\ninput x: f32[4]\nadd a <- a, x\noutput y <- x", at: 3, 1, "cycle: 'a' -> 'a'")
  }

  @Test func wrongNumberOfInputs() {
    expectOneDiagnostic(
      layerSpec("add s"), at: 3, 1, "add s has no '<-': it reads more than the previous value",
      "expected exactly two values: 'add NAME <- a, b'")
    expectOneDiagnostic(layerSpec("add s <- x, x, x"), at: 3, 16, "add s reads 3 values")
    expectOneDiagnostic(layerSpec("concat c <- x"), at: 3, 1, "concat c reads 1 value; expected two or more values")
    expectOneDiagnostic(layerSpec("relu r <- x, x"), at: 3, 14, "relu r reads 2 values; expected one value")
    expectOneDiagnostic("network n\ndense (units: 1)\noutput y", at: 2, 1, "dense has no value to read")
  }

  @Test func missingNetworkLineGivesNoGraph() {
    let result = parse("input x: f32[4]\noutput y")
    #expect(result.graph == nil)
    #expect(result.diagnostics.map(\.description) == ["t.kiln:1:1: error: missing 'network' line; expected 'network NAME' as the first statement"])
    #expect(parse("").diagnostics.map(\.description) == ["t.kiln:1:1: error: missing 'network' line; expected 'network NAME' as the first statement"])
    expectOneDiagnostic("input x: f32[4]\nnetwork n\noutput y", at: 2, 1, "'network' line after other statements")
  }

  @Test func noOutput() {
    expectOneDiagnostic("network n\ninput x: f32[4]\n", at: 1, 1, "network 'n' has no output", "at least one 'output NAME' line")
  }

  @Test func badInputs() {
    expectOneDiagnostic("network n\ninput x: i64[4]\noutput y", at: 2, 10, "input 'x' has element type i64; expected f32")
    expectOneDiagnostic("network n\ninput x: f32[4, 0]\noutput y", at: 2, 17, "found integer '0' as a dimension of input 'x'")
    expectOneDiagnostic("network n\ninput x\noutput y", at: 2, 8, "unexpected end of line", "':' and a type")
    expectOneDiagnostic("network n\ninput x: f32[123456789012345678901]\noutput y", at: 2, 14, "integer '123456789012345678901' is too large")
  }

  @Test func trainSectionProblems() {
    func train(_ body: String) -> String { "network n\ninput x: f32[4]\noutput y <- x\ntrain {\n\(body)\n}\n" }
    expectOneDiagnostic(train("  batch: 32"), at: 4, 1, "the train section has no 'loss'")
    expectOneDiagnostic(
      train("  loss: mse(y, t)\n  batches: 3"), at: 6, 3, "unknown setting 'batches' for the train section; did you mean 'batch'?",
      "expected one of: loss, optimizer")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  loss: mae(y, t)"), at: 6, 3, "duplicate setting 'loss' for the train section (first given at t.kiln:5:3)")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  epochs: 0"), at: 6, 11, "'epochs' of the train section is out of range: 0")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  validation: 1.0"), at: 6, 15, "expected a number in [0, 1)")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  seed: 1.5"), at: 6, 9, "found number '1.5' for 'seed' of the train section")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  optimizer: adamm"), at: 6, 14, "unknown optimizer 'adamm' for the train section; did you mean 'adam'?")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  optimizer: sgd(rate: 1)"), at: 6, 18, "unknown argument 'rate' for 'sgd'", "expected one of: lr, momentum, dampening, nesterov")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  optimizer: sgd(lr: 0.1, nesterov: true)"), at: 6, 14, "momentum > 0 and dampening 0")
    expectOneDiagnostic(train("  loss: mse(y, t)\n  schedule: step"), at: 6, 13, "'step' is missing the argument 'every'")
    expectOneDiagnostic(train("  loss: hinge(y, t)"), at: 5, 9, "unknown loss 'hinge'")
    expectOneDiagnostic(train("  loss: mse(z, t)"), at: 5, 13, "undefined name 'z'")
    expectOneDiagnostic(train("  loss: mse(y, x)"), at: 5, 16, "duplicate name 'x' (first defined at t.kiln:2:7)")
    expectOneDiagnostic(
      "network n\ninput x: f32[4]\ntrain {\n  loss: mse(y, t)\nrelu r\noutput y", at: 3, 7,
      "unterminated '{' of the train section; expected '}' to close it before identifier 'relu' on line 5")
  }

  @Test func everyErrorOfAFileIsReportedAndBrokenLayersAreLeftOutQuietly() {
    let result = parse(
      """
      network many
      input x: f32[1, 8, 8]
      conv c1 (filters: 0, kernel: 3)
      relu                               # reads c1: left out, no diagnostic
      maxpool p (kernel: 2) <- x
      dense d (units: 2, activation: nope) <- p
      add s <- p, missing
      flatten f <- p
      dense ok (units: 3)
      output y <- ok
      output z <- relu_1
      """)
    #expect(
      result.diagnostics.map(\.description) == [
        "t.kiln:3:19: error: 'filters' of conv c1 is out of range: 0; expected a positive integer",
        "t.kiln:6:32: error: unknown activation 'nope' for dense d; expected one of: identity, relu, relu6, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax",
        "t.kiln:7:13: error: undefined name 'missing'; expected the name of an input, a layer or an output of this file",
      ])
    #expect(names(result.graph) == ["x", "p", "f", "ok"])
    #expect(result.graph?.outputs.map(\.name) == ["y"])
  }

  @Test func unreadableFileIsOneDiagnostic() {
    let path = NSTemporaryDirectory() + "/kiln-missing-\(UInt32.random(in: 0...UInt32.max)).kiln"
    let result = Frontend.parse(contentsOf: path)
    #expect(result.graph == nil)
    #expect(result.diagnostics.map(\.description) == ["error: cannot read spec file '\(path)': it does not exist; expected a readable .kiln file"])
  }

  @Test func fileContentsParseUnderTheirPath() throws {
    let path = NSTemporaryDirectory() + "/kiln-frontend-test-\(UInt32.random(in: 0...UInt32.max)).kiln"
    try "network f\ninput x: f32[2]\nrelu\noutput y\nrelu (a: 1)\n".write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = Frontend.parse(contentsOf: path)
    #expect(result.graph?.name == "f")
    #expect(result.diagnostics.first?.location == SourceLocation(file: path, line: 5, column: 7))
  }
}

@Suite struct SuggestionTests {
  @Test func closestWordsAndDistances() {
    #expect(editDistance("dnese", "dense") == 1)
    #expect(editDistance("kitten", "sitting") == 3)
    #expect(editDistance("", "abc") == 3)
    #expect(closestWord(to: "maxpol", in: ["avgpool", "maxpool"]) == "maxpool")
    #expect(closestWord(to: "zzz", in: ["dense", "conv"]) == nil)
    #expect(closestWord(to: "c3", in: ["c1", "c2"]) == "c1")
  }
}
