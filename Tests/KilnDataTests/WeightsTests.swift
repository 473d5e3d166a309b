// Weights: the ordered collection, safetensors load/save, and validation against parameter specs.

import KilnIR
import Testing

@testable import KilnData

@Suite struct WeightsTests {
  /// A conv 3→4 (3×3) followed by batch norm and a dense 36→10, named as in a PyTorch module.
  static let modelSpecs =
    specs("conv1", .conv2d(Conv2D(filters: 4, kernel: Pair(3))), input: [3, 8, 8])
    + specs("bn1", .batchNorm(BatchNorm()), input: [4, 6, 6])
    + specs("fc", .dense(Dense(units: 10)), input: [36])

  static func tensor(_ shape: [Int], _ value: Float = 0.5) -> AnyTensor {
    .f32(Tensor(repeating: value, shape: shape))
  }

  @Test func collectionKeepsOrderAndReplacesInPlace() throws {
    var w = Weights()
    w["b"] = Self.tensor([1])
    w["a"] = Self.tensor([2])
    w["c"] = .i64(IntTensor(shape: [], data: [3]))
    w["b"] = Self.tensor([1], 2)
    #expect(w.names == ["b", "a", "c"])
    #expect(w.float("b")?.data == [2])
    #expect(w.float("c") == nil)
    w["a"] = nil
    #expect(w.names == ["b", "c"])
    #expect(w["c"] == .i64(IntTensor(shape: [], data: [3])))
    #expect(w.count == 2)
    #expect(throws: WeightError.duplicate(name: "x")) {
      _ = try Weights([NamedTensor("x", Self.tensor([1])), NamedTensor("x", Self.tensor([2]))])
    }
  }

  @Test func savesAndLoadsWithMetadata() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    var w = Weights.initialize(Self.modelSpecs, seed: 7)
    w.metadata = ["trained_epochs": "3"]
    let path = dir.file("model.safetensors")
    try w.save(to: path)
    let loaded = try Weights.load(from: path)
    #expect(loaded.metadata == ["trained_epochs": "3"])
    #expect(Set(loaded.entries) == Set(w.entries))
    #expect(loaded.validate(against: Self.modelSpecs).isEmpty)
  }

  /// A PyTorch state_dict of the model as safetensors.torch.save_file writes it, num_batches_tracked included.
  @Test func pytorchStateDictLoadsAsIs() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let entries: [(String, String, [Int])] = [
      ("bn1.bias", "F32", [4]), ("bn1.num_batches_tracked", "I64", []), ("bn1.running_mean", "F32", [4]),
      ("bn1.running_var", "F32", [4]), ("bn1.weight", "F32", [4]), ("conv1.bias", "F32", [4]),
      ("conv1.weight", "F32", [4, 3, 3, 3]), ("fc.bias", "F32", [10]), ("fc.weight", "F32", [10, 36]),
    ]
    var fields: [String] = []
    var data: [UInt8] = []
    for (name, dtype, shape) in entries {
      let count = shape.reduce(1, *)
      let bytes = dtype == "I64" ? LE.i64([Int64(count)]) : LE.f32((0..<count).map { Float($0) / 100 })
      fields.append(
        "\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(data.count), \(data.count + bytes.count)]}"
      )
      data += bytes
    }
    let path = dir.file("state_dict.safetensors")
    try writeFixture(safetensorsBytes(header: "{\(fields.joined(separator: ", "))}", data: data), to: path)
    let w = try Weights.load(from: path)
    #expect(w.validate(against: Self.modelSpecs) == [])
    #expect(w.names == entries.map(\.0))
    #expect(w.float("fc.weight")?.shape == [10, 36])
    #expect(w.float("conv1.weight")?.data[5] == 0.05)
    try w.check(against: Self.modelSpecs, source: path)
  }

  @Test func validateReportsEveryProblemAtOnce() {
    var w = Weights.initialize(Self.modelSpecs, seed: 1)
    w["conv1.bias"] = nil  // missing
    w["fc.weight"] = Self.tensor([36, 10])  // transposed
    w["bn1.running_var"] = .i64(IntTensor(shape: [4], data: [1, 1, 1, 1]))  // not float
    w["fc2.weight"] = Self.tensor([2, 2])  // extra
    w["bn1.num_batches_tracked"] = .i64(IntTensor(shape: [], data: [0]))  // accepted: bn1.running_mean is expected
    w["fc.num_batches_tracked"] = .i64(IntTensor(shape: [], data: [0]))  // extra: fc has no running_mean
    let problems = w.validate(against: Self.modelSpecs)
    #expect(
      problems == [
        .missing(name: "conv1.bias", expectedShape: [4]),
        .notFloat(name: "bn1.running_var", dtype: .i64),
        .shapeMismatch(name: "fc.weight", expected: [10, 36], found: [36, 10]),
        .unexpected(name: "fc2.weight", shape: [2, 2]),
        .unexpected(name: "fc.num_batches_tracked", shape: []),
      ])
    #expect(
      problems.map(\.description) == [
        "missing tensor 'conv1.bias' of shape [4]",
        "tensor 'bn1.running_var' holds i64, expected f32",
        "tensor 'fc.weight' has shape [36, 10], expected [10, 36] (transposed?)",
        "unexpected tensor 'fc2.weight' of shape [2, 2]: the graph has no parameter of that name",
        "unexpected tensor 'fc.num_batches_tracked' of shape []: the graph has no parameter of that name",
      ])
    #expect(problems[0].diagnostic.description == "error: missing tensor 'conv1.bias' of shape [4]")
    do {
      try w.check(against: Self.modelSpecs, source: "w.safetensors")
      Issue.record("check(against:) accepted invalid weights")
    } catch {
      #expect(error.problems == problems)
      #expect(error.description.hasPrefix("w.safetensors: missing tensor 'conv1.bias'"))
      #expect(error.description.split(separator: "\n").count == 5)
    }
  }
}
