// Whole specs, sequential and graph form, compared against graphs built by hand.

import KilnFrontend
import KilnIR
import Testing

@Suite struct GraphFormTests {
  static let lenet = """
    network lenet5                       # required, first statement
    input image: f32[1, 28, 28]          # per-sample shape
    conv c1 (filters: 6, kernel: 5, padding: 2, activation: relu)
    maxpool (kernel: 2)
    conv c2 (filters: 16, kernel: 5, activation: relu)
    maxpool (kernel: 2)
    flatten
    dense fc1 (units: 120, activation: relu)
    dense fc2 (units: 84, activation: relu)
    dense fc3 (units: 10)
    output logits                        # names the previous value as output 'logits'
    train {
      loss: softmax_cross_entropy(logits, labels)
      optimizer: sgd(lr: 0.01, momentum: 0.9)
      batch: 64
    }
    """

  @Test func lenetMatchesTheGraphBuiltByHand() throws {
    let graph = try #require(parseClean(Self.lenet))
    var g = Graph(name: "lenet5")
    let image = g.add("image", .input(Input(type: TensorType(.f32, [1, 28, 28]))))
    let c1 = g.add(
      "c1", .conv2d(Conv2D(filters: 6, kernel: Pair(5), padding: .explicit(Pads(2)), activation: .relu)), inputs: [image])
    let p1 = g.add("maxpool_1", .maxPool(Pool(kernel: Pair(2))), inputs: [c1])
    let c2 = g.add("c2", .conv2d(Conv2D(filters: 16, kernel: Pair(5), activation: .relu)), inputs: [p1])
    let p2 = g.add("maxpool_2", .maxPool(Pool(kernel: Pair(2))), inputs: [c2])
    let flat = g.add("flatten_1", .flatten, inputs: [p2])
    let fc1 = g.add("fc1", .dense(Dense(units: 120, activation: .relu)), inputs: [flat])
    let fc2 = g.add("fc2", .dense(Dense(units: 84, activation: .relu)), inputs: [fc1])
    let fc3 = g.add("fc3", .dense(Dense(units: 10)), inputs: [fc2])
    let labels = g.add("labels", .input(Input(type: TensorType(.i64, []), role: .target)))
    g.add("loss", .loss(.softmaxCrossEntropy), inputs: [fc3, labels])
    g.outputs = [GraphOutput(name: "logits", node: fc3)]
    g.training = TrainingConfig(
      loss: .softmaxCrossEntropy, prediction: fc3, targetName: "labels",
      optimizer: .sgd(lr: 0.01, momentum: 0.9, dampening: 0, nesterov: false), batchSize: 64)
    #expect(withoutLocations(graph) == g)
    // Locations point at each statement's first token, the loss at its value.
    #expect(graph.nodes[1].location == SourceLocation(file: testFile, line: 3, column: 1))
    #expect(graph.nodes[10].location == SourceLocation(file: testFile, line: 13, column: 9))
    #expect(graph.nodes[9].location == SourceLocation(file: testFile, line: 13, column: 39))
    #expect(graph.outputs[0].location == SourceLocation(file: testFile, line: 11, column: 1))
    #expect(graph.training?.location == SourceLocation(file: testFile, line: 12, column: 1))
  }

  @Test func residualAddReadsTheSkipConnection() throws {
    let graph = try #require(
      parseClean(
        """
        network resnet_block
        input x: f32[16, 8, 8]
        conv a (filters: 16, kernel: 3, padding: 1, activation: relu)
        conv b (filters: 16, kernel: 3, padding: 1)
        add sum <- b, x
        relu out
        output y
        """))
    var g = Graph(name: "resnet_block")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [16, 8, 8]))))
    let a = g.add(
      "a", .conv2d(Conv2D(filters: 16, kernel: Pair(3), padding: .explicit(Pads(1)), activation: .relu)), inputs: [x])
    let b = g.add("b", .conv2d(Conv2D(filters: 16, kernel: Pair(3), padding: .explicit(Pads(1)))), inputs: [a])
    let sum = g.add("sum", .add, inputs: [b, x])
    let out = g.add("out", .activation(.relu), inputs: [sum])
    g.outputs = [GraphOutput(name: "y", node: out)]
    #expect(withoutLocations(graph) == g)
  }

  @Test func inceptionConcatenatesThreeBranches() throws {
    let graph = try #require(
      parseClean(
        """
        network inception
        input x: f32[8, 16, 16]
        conv b1 (filters: 4, kernel: 1) <- x
        conv b2 (filters: 4, kernel: 3, padding: same) <- x
        maxpool b3p (kernel: 3, stride: 1, padding: 1) <- x
        conv b3 (filters: 4, kernel: 1)
        concat mix <- b1, b2, b3
        output y
        """))
    var g = Graph(name: "inception")
    let x = g.add("x", .input(Input(type: TensorType(.f32, [8, 16, 16]))))
    let b1 = g.add("b1", .conv2d(Conv2D(filters: 4, kernel: Pair(1))), inputs: [x])
    let b2 = g.add("b2", .conv2d(Conv2D(filters: 4, kernel: Pair(3), padding: .same)), inputs: [x])
    let b3p = g.add(
      "b3p", .maxPool(Pool(kernel: Pair(3), stride: Pair(1), padding: .explicit(Pads(1)))), inputs: [x])
    let b3 = g.add("b3", .conv2d(Conv2D(filters: 4, kernel: Pair(1))), inputs: [b3p])
    let mix = g.add("mix", .concat, inputs: [b1, b2, b3])
    g.outputs = [GraphOutput(name: "y", node: mix)]
    #expect(withoutLocations(graph) == g)
  }

  @Test func twoOutputsAndAnOutputNamedLikeItsLayer() throws {
    let graph = try #require(
      parseClean(
        """
        network two_heads
        input x: f32[10]
        dense trunk (units: 8, activation: tanh)
        dense cls (units: 3) <- trunk
        output cls
        dense reg (units: 1) <- trunk
        output value <- reg
        output features <- trunk
        """))
    #expect(names(graph) == ["x", "trunk", "cls", "reg"])
    #expect(graph.outputs.map(\.name) == ["cls", "value", "features"])
    #expect(graph.outputs.map(\.node) == [NodeID(2), NodeID(3), NodeID(1)])
  }

  @Test func forwardReferencesComeOutInTopologicalOrder() throws {
    let graph = try #require(
      parseClean(
        """
        network forward
        input x: f32[4]
        add s <- late, early
        dense early (units: 4) <- x
        dense late (units: 4) <- x
        output y <- s
        """))
    // `s` moves after what it reads; everything else keeps source order.
    #expect(names(graph) == ["x", "early", "late", "s"])
    #expect(graph.nodes[3].inputs == [NodeID(2), NodeID(1)])
    #expect(graph.outputs == [GraphOutput(name: "y", node: NodeID(3), location: graph.outputs[0].location)])
  }

  @Test func sequentialLayersReadTheLatestInputBeforeAnyLayer() throws {
    let graph = try #require(
      parseClean(
        """
        network two_inputs
        input a: f32[4]
        input b: f32[4]
        dense d (units: 4)
        input c: f32[4]
        dense e (units: 4)
        mul m <- e, c
        output y
        """))
    #expect(graph.nodes.map(\.inputs) == [[], [], [NodeID(1)], [], [NodeID(2)], [NodeID(4), NodeID(3)]])
  }

  @Test func automaticNamesCountPerKeywordAndSkipNamesTheUserTook() throws {
    let graph = try #require(
      parseClean(
        """
        network auto
        input x: f32[4]
        relu
        relu relu_2
        relu
        dense (units: 3)
        conv2d (filters: 1, kernel: 1) <- img
        input img: f32[1, 4, 4]
        relu
        output relu_1 <- relu_3
        """))
    // relu_2 is the user's; the unnamed relus become relu_3 and relu_4; relu_1 is an output's name.
    #expect(names(graph) == ["x", "relu_3", "relu_2", "relu_4", "dense_1", "img", "conv_1", "relu_5"])
    #expect(graph.outputs.first?.node == graph.node(named: "relu_3")?.id)
  }

  @Test func lossNodeIsNamedLoss1WhenLossIsTaken() throws {
    let graph = try #require(
      parseClean(
        """
        network n
        input x: f32[4]
        dense loss (units: 2)
        output y
        train {
          loss: mse(y, t)
        }
        """))
    #expect(names(graph) == ["x", "loss", "t", "loss_1"])
    #expect(graph.nodes.last?.op == .loss(.meanSquaredError))
    #expect(graph.nodes.last?.inputs == [NodeID(1), NodeID(2)])
    #expect(graph.node(named: "t")?.op == .input(Input(type: TensorType(.f32, []), role: .target)))
    #expect(graph.training?.prediction == NodeID(1))
  }

  @Test func continuationLinesInsideBracketsAndComments() throws {
    let graph = try #require(
      parseClean(
        """
        # a comment before everything
        network cont
        input x: f32[
          3, 32, 32
        ]
        conv c (
          filters: 8,   # trailing comments inside brackets
          kernel: [3, 5],
          padding: [1, 2],
        )
        output y
        """))
    #expect(graph.nodes[1].op == .conv2d(Conv2D(filters: 8, kernel: Pair(3, 5), padding: .explicit(Pads(h: 1, w: 2)))))
  }
}
