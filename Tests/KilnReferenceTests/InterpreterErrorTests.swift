// The interpreter's errors: each bad parameter, input or node is named, with expected versus found.
import KilnIR
import KilnReference
import Testing

@Suite struct InterpreterErrorTests {
  let net = SmallCNN()
  let images = AnyTensor.f32(randomTensor([2, 1, 6, 6], seed: 20))

  /// Runs `body`, expecting exactly `expected`, and checks its message mentions `mention`.
  func expectError(
    _ expected: InterpreterError, mentioning mention: String, sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
  ) {
    let error = #expect(throws: InterpreterError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error == expected, sourceLocation: sourceLocation)
    #expect(
      error?.description.contains(mention) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
  }

  @Test func missingParameter() {
    var p = net.parameters
    p["fc.bias"] = nil
    expectError(.missingParameter(name: "fc.bias", expected: [3]), mentioning: "missing parameter 'fc.bias'") {
      _ = try Interpreter(graph: net.graph, parameters: p)
    }
  }

  @Test func wrongParameterShape() {
    var p = net.parameters
    p["c1.weight"] = Tensor(zeros: [2, 1, 5, 5])
    expectError(
      .parameterShape(name: "c1.weight", expected: [2, 1, 3, 3], found: [2, 1, 5, 5]),
      mentioning: "parameter 'c1.weight' has shape [2, 1, 5, 5]; expected [2, 1, 3, 3]"
    ) { _ = try Interpreter(graph: net.graph, parameters: p) }
  }

  @Test func missingInput() throws {
    let interpreter = try net.interpreter()
    expectError(
      .missingInput(name: "image", expected: [1, 6, 6]),
      mentioning: "missing input 'image'; expected a tensor of shape [N, 1, 6, 6]"
    ) {
      _ = try interpreter.run(["labels": .i64(IntTensor(shape: [2], data: [0, 1]))])
    }
  }

  @Test func outputThatNeedsAMissingTargetNamesTheTarget() throws {
    var net = SmallCNN()
    net.graph.outputs.append(GraphOutput(name: "loss", node: net.loss))
    let interpreter = try net.interpreter()
    expectError(.missingInput(name: "labels", expected: []), mentioning: "missing input 'labels'") {
      _ = try interpreter.run(["image": images])
    }
  }

  @Test func wrongInputShapeTypeOrName() throws {
    let interpreter = try net.interpreter()
    expectError(
      .inputShape(name: "image", expected: [1, 6, 6], found: [2, 6, 6]),
      mentioning: "input 'image' has shape [2, 6, 6]; expected [N, 1, 6, 6]"
    ) { _ = try interpreter.run(["image": .f32(Tensor(zeros: [2, 6, 6]))]) }
    expectError(
      .inputType(name: "image", expected: .f32, found: .i64), mentioning: "input 'image' has element type i64"
    ) {
      _ = try interpreter.run(["image": .i64(IntTensor(shape: [2, 1, 6, 6], data: Array(repeating: 0, count: 72)))])
    }
    expectError(
      .unknownInput(name: "img", known: ["image", "labels"]), mentioning: "no input of the graph is named 'img'"
    ) {
      _ = try interpreter.run(["image": images, "img": images])
    }
    expectError(.emptyBatch(name: "image"), mentioning: "input 'image' has an empty batch") {
      _ = try interpreter.run(["image": .f32(Tensor(zeros: [0, 1, 6, 6]))])
    }
  }

  @Test func batchMismatchBetweenInputs() throws {
    let interpreter = try net.interpreter()
    expectError(
      .batchMismatch(name: "labels", expected: 2, found: 3, firstInput: "image"),
      mentioning: "input 'labels' has batch size 3; expected 2, the batch of input 'image'"
    ) { _ = try interpreter.run(["image": images, "labels": .i64(IntTensor(shape: [3], data: [0, 1, 2]))]) }
  }

  @Test func labelOutOfRange() throws {
    let interpreter = try net.interpreter()
    expectError(
      .labelOutOfRange(name: "labels", sample: 1, label: 3, classes: 3),
      mentioning: "target 'labels' holds label 3 at sample 1; expected a class index in 0..<3"
    ) { _ = try interpreter.run(["image": images, "labels": .i64(IntTensor(shape: [2], data: [0, 3]))]) }
  }

  @Test func nodeThatCannotApplyIsNamedWithItsLocation() {
    var g = Graph(name: "bad")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [1, 6, 6]))))
    let at = SourceLocation(file: "bad.kiln", line: 3, column: 5)
    let fc = g.add("fc", .dense(Dense(units: 4)), inputs: [x], location: at)
    g.outputs = [GraphOutput(name: "y", node: fc)]
    let error = #expect(throws: InterpreterError.self) { _ = try Interpreter(graph: g, parameters: [:]) }
    #expect(
      error?.description
        == "bad.kiln:3:5: dense 'fc': dense: input has shape [1, 1, 6, 6]; expected rank 2 ([N, features]; flatten first)"
    )
  }

  @Test func windowThatDoesNotFitIsNamed() {
    var g = Graph(name: "bad")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [1, 7, 7]))))
    let c = g.add("c", .conv2d(Conv2D(filters: 1, kernel: Pair(3), stride: Pair(3))), inputs: [x])
    g.outputs = [GraphOutput(name: "y", node: c)]
    let error = #expect(throws: InterpreterError.self) { _ = try Interpreter(graph: g, parameters: [:]) }
    #expect(
      error?.description.hasPrefix("conv 'c': conv2d: input [1, 1, 7, 7]: window does not fit along height") == true)
  }

  @Test func runTimeFailureNamesTheNode() throws {
    var g = Graph(name: "bn")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [3]))))
    let bn = g.add("bn", .batchNorm(BatchNorm()), inputs: [x])
    g.outputs = [GraphOutput(name: "y", node: bn)]
    let stats = [
      "bn.weight": Tensor(repeating: 1, shape: [3]), "bn.bias": Tensor(zeros: [3]),
      "bn.running_mean": Tensor(zeros: [3]), "bn.running_var": Tensor(repeating: 1, shape: [3]),
    ]
    let interpreter = try Interpreter(graph: g, parameters: stats)
    let one = AnyTensor.f32(Tensor(zeros: [1, 3]))
    #expect(try interpreter.run(["x": one]).outputs["y"] == Tensor(zeros: [1, 3]))
    let error = #expect(throws: InterpreterError.self) { _ = try interpreter.run(["x": one], mode: .training(seed: 0)) }
    #expect(
      error?.description == "batchnorm 'bn': batchnorm: input [1, 3] has 1 value per channel; training needs at least 2"
    )
  }

  @Test func structurallyInvalidGraphIsRejected() {
    var g = Graph(name: "cycle")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [3]))))
    g.add("r", .activation(.relu), inputs: [NodeID(2)])
    g.outputs = [GraphOutput(name: "y", node: x)]
    let error = #expect(throws: InterpreterError.self) { _ = try Interpreter(graph: g, parameters: [:]) }
    #expect(error?.description.contains("node 'r' reads %2, which does not come before it") == true)
  }
}
