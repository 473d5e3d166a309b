// The kiln command as a user runs it: exit codes, what it prints, and the whole chain on the course's examples.
import Foundation
import KilnData
import KilnHarness
import KilnIR
import KilnTestSupport
import Testing

/// Runs the `kiln` executable that `swift build` put beside the test runner.
func kiln(_ arguments: String..., in dir: URL? = nil) throws -> ProcessResult {
  let tool = PackagePaths.binaries.appendingPathComponent("kiln")
  return try runProcess(tool.path, arguments: arguments, currentDirectory: dir)
}

func example(_ name: String) -> String { PackagePaths.examples.appendingPathComponent(name).path }

@Suite struct CheckCommandTests {
  @Test func printsTheLayerTable() throws {
    let r = try kiln("check", example("lenet5.kiln"))
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("network lenet5"))
    #expect(r.stdout.contains("parameters: 61,706 trainable"))
    #expect(r.stderr.isEmpty)
  }

  @Test func printsJSON() throws {
    let r = try kiln("check", example("mnist_cnn.kiln"), "--json")
    #expect(r.status == 0)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(json["totalParameters"] as? Int == 137_660)
    #expect((json["layers"] as? [Any])?.count == 8)
  }

  @Test func reportsEveryErrorWithLocationAndExitsNonZero() throws {
    let dir = try PackagePaths.temporaryDirectory()
    let spec = dir.appendingPathComponent("bad.kiln")
    try """
    network bad
    input x: f32[3, 7, 7]
    convv c1 (filters: 4, kernel: 3)
    conv c2 (filters: 4, kernel: 3, stride: 3) <- x
    add s <- c2, nowhere
    output y <- c2
    """.write(to: spec, atomically: true, encoding: .utf8)
    let r = try kiln("check", spec.path)
    #expect(r.status == 1)
    #expect(!r.signaled)
    #expect(r.stderr.contains("bad.kiln:3:1: error: unknown op 'convv'"))
    #expect(r.stderr.contains("bad.kiln:5:14: error:") && r.stderr.contains("nowhere"))
    #expect(r.stderr.contains("bad.kiln:4:1: error: conv 'c2': window does not fit"))
    #expect(r.stderr.contains("3 errors"))
  }

  @Test func missingFileIsAClearError() throws {
    let r = try kiln("check", "/nonexistent/net.kiln")
    #expect(r.status == 1)
    #expect(r.stderr.contains("/nonexistent/net.kiln"))
  }
}

@Suite struct RunCommandTests {
  /// The course's 6×6 image and its two 3×3 filters (seed-examples.md).
  static let image: [Float] = [
    1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0,
  ]
  static let filters: [Float] = [
    1, -1, -1, -1, 1, -1, -1, -1, 1,
    -1, 1, -1, -1, 1, -1, -1, 1, -1,
  ]

  func courseSetup() throws -> URL {
    let dir = try PackagePaths.temporaryDirectory()
    try """
    network course_conv
    input image: f32[1, 6, 6]
    conv conv (filters: 2, kernel: 3, bias: false)
    output maps
    maxpool pool (kernel: 2)
    output pooled
    """.write(to: dir.appendingPathComponent("net.kiln"), atomically: true, encoding: .utf8)
    try Npy.write(.f32(Tensor(shape: [1, 1, 6, 6], data: Self.image)), to: dir.appendingPathComponent("x.npy").path)
    let w = try Weights([NamedTensor("conv.weight", .f32(Tensor(shape: [2, 1, 3, 3], data: Self.filters)))])
    try w.save(to: dir.appendingPathComponent("w.safetensors").path)
    return dir
  }

  @Test func reproducesTheCourseConvolutionAndPoolingThroughTheWholeChain() throws {
    let dir = try courseSetup()
    let r = try kiln(
      "run", "net.kiln", "--weights", "w.safetensors", "--input", "x.npy", "--interpret",
      "--output", "maps=maps.npy", "--output", "pooled=pooled.npy", in: dir)
    #expect(r.status == 0, "\(r.stderr)")
    guard case .f32(let maps) = try Npy.read(from: dir.appendingPathComponent("maps.npy").path),
      case .f32(let pooled) = try Npy.read(from: dir.appendingPathComponent("pooled.npy").path)
    else {
      Issue.record("outputs are not float32")
      return
    }
    #expect(maps.shape == [1, 2, 4, 4])
    #expect(maps.data == [3, -1, -3, -1, -3, 1, 0, -3, -3, -3, 0, 1, 3, -2, -2, -1,
                          -1, -1, -1, -1, -1, -1, -2, 1, -1, -1, -2, 1, -1, 0, -4, 3])
    #expect(pooled.shape == [1, 2, 2, 2])
    #expect(pooled.data == [3, 0, 3, 1, -1, 1, 0, 3])
  }

  @Test func badWeightsNameTheTensor() throws {
    let dir = try courseSetup()
    let w = try Weights([
      NamedTensor("conv.weight", .f32(Tensor(zeros: [2, 1, 5, 5]))),
      NamedTensor("conv.bias", .f32(Tensor(zeros: [2]))),
    ])
    try w.save(to: dir.appendingPathComponent("bad.safetensors").path)
    let r = try kiln("run", "net.kiln", "--weights", "bad.safetensors", "--input", "x.npy", "--interpret", in: dir)
    #expect(r.status == 1)
    #expect(r.stderr.contains("tensor 'conv.weight' has shape [2, 1, 5, 5], expected [2, 1, 3, 3]"))
    #expect(r.stderr.contains("unexpected tensor 'conv.bias'"))
  }

  @Test func inputOfTheWrongShapeIsAClearError() throws {
    let dir = try courseSetup()
    try Npy.write(.f32(Tensor(zeros: [1, 1, 5, 5])), to: dir.appendingPathComponent("small.npy").path)
    let r = try kiln("run", "net.kiln", "--weights", "w.safetensors", "--input", "small.npy", "--interpret", in: dir)
    #expect(r.status == 1)
    #expect(r.stderr.contains("[1, 1, 5, 5]"))
  }

  @Test func initThenRunEqualsRunWithTheSameSeed() throws {
    let dir = try courseSetup()
    #expect(try kiln("init", "net.kiln", "-o", "init.safetensors", "--seed", "7", in: dir).status == 0)
    let a = try kiln("run", "net.kiln", "--weights", "init.safetensors", "--input", "x.npy", "--interpret",
      "--output", "maps=a.npy", in: dir)
    let b = try kiln("run", "net.kiln", "--seed", "7", "--input", "x.npy", "--interpret", "--output", "maps=b.npy", in: dir)
    #expect(a.status == 0 && b.status == 0)
    let ta = try Npy.read(from: dir.appendingPathComponent("a.npy").path)
    let tb = try Npy.read(from: dir.appendingPathComponent("b.npy").path)
    #expect(ta == tb)
  }

  @Test func fashionMNISTPrintsAccuracy() throws {
    let r = try kiln("run", example("mlp.kiln"), "--interpret", "--fashion-mnist", "test", "--limit", "50")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("ran mlp on 50 samples"))
    #expect(r.stdout.range(of: #"accuracy: \d+\.\d\d% \(\d+/50\)"#, options: .regularExpression) != nil)
  }

  @Test func generatedCIsTheDefaultAndAgreesWithTheInterpreter() throws {
    let dir = try courseSetup()
    let c = try kiln("run", "net.kiln", "--weights", "w.safetensors", "--input", "x.npy", "--batch", "2",
      "--output", "pooled=c.npy", in: dir)
    #expect(c.status == 0, "\(c.stderr)")
    #expect(c.stdout.contains("with generated C"))
    guard case .f32(let pooled) = try Npy.read(from: dir.appendingPathComponent("c.npy").path) else {
      Issue.record("not float32")
      return
    }
    #expect(pooled.data == [3, 0, 3, 1, -1, 1, 0, 3])
  }

  @Test func generatedCNamesAMisshapedTensor() throws {
    let dir = try courseSetup()
    let w = try Weights([NamedTensor("conv.weight", .f32(Tensor(zeros: [2, 1, 5, 5])))])
    try w.save(to: dir.appendingPathComponent("bad.safetensors").path)
    let r = try kiln("run", "net.kiln", "--weights", "bad.safetensors", "--input", "x.npy", "--batch", "1", in: dir)
    #expect(r.status == 1)
    #expect(r.stderr.contains("conv.weight"), "\(r.stderr)")
    #expect(r.stderr.contains("shape"), "\(r.stderr)")
  }

  @Test func fashionMNISTAccuracyIsTheSameWithCAndTheInterpreter() throws {
    let c = try kiln("run", example("lenet5.kiln"), "--fashion-mnist", "test", "--limit", "100", "--seed", "1")
    let i = try kiln("run", example("lenet5.kiln"), "--interpret", "--fashion-mnist", "test", "--limit", "100", "--seed", "1")
    #expect(c.status == 0 && i.status == 0, "\(c.stderr)\(i.stderr)")
    let accuracy = { (s: String) in s.split(separator: "\n").first { $0.hasPrefix("accuracy:") } }
    #expect(accuracy(c.stdout) != nil)
    #expect(accuracy(c.stdout) == accuracy(i.stdout))
  }
}

@Suite struct PassFlagTests {
  @Test func printAfterShowsTheIRAndDisablePassKeepsTheNode() throws {
    let after = try kiln("check", example("alexnet.kiln"), "--print-after", "remove-identities")
    #expect(after.status == 0, "\(after.stderr)")
    #expect(after.stdout.contains("graph alexnet {"))
    #expect(!after.stdout.contains("= dropout dropout_1"))
    let kept = try kiln("check", example("alexnet.kiln"), "--print-after", "eliminate-dead", "--disable-pass", "remove-identities")
    #expect(kept.status == 0, "\(kept.stderr)")
    #expect(kept.stdout.contains("= dropout dropout_1"))
  }

  @Test func unknownPassNamesAreClearErrors() throws {
    let r = try kiln("check", example("lenet5.kiln"), "--disable-pass", "fold-everything")
    #expect(r.status != 0)
    #expect(r.stderr.contains("fold-everything"))
    #expect(r.stderr.contains("eliminate-dead"))
    let s = try kiln("check", example("lenet5.kiln"), "--disable-pass", "shape-inference")
    #expect(s.status != 0)
    #expect(s.stderr.contains("shape-inference"))
  }
}
