// `kiln train` as a user runs it: epoch lines and the final metrics, the files it writes, exit codes on failure.
import Foundation
import KilnData
import KilnTestSupport
import Testing

@Suite struct TrainCommandTests {
  @Test func trainsPrintsEpochsAndWritesItsFiles() throws {
    let dir = try PackagePaths.temporaryDirectory()
    let r = try kiln(
      "train", example("mlp.kiln"), "--data", "fashion-mnist", "--limit", "600", "--test-limit", "200", "--epochs",
      "2", "--batch", "50", "--lr", "0.002", "--plot", "curve.svg", "--metrics", "metrics.json", "--out",
      "mlp.safetensors", in: dir)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("epoch 1: train loss "))
    #expect(r.stdout.contains("epoch 2: train loss ") && r.stdout.contains("lr 0.002"))
    #expect(r.stdout.contains("val acc ") && r.stdout.contains(" samples/s"))
    #expect(r.stdout.contains("test accuracy ") && r.stdout.contains("top-3 "))
    #expect(r.stdout.contains("confusion matrix (rows = predicted, columns = true)"))
    #expect(r.stdout.contains("weighted avg"))
    // Not a terminal: no carriage-return progress bar.
    #expect(!r.stderr.contains("\r"))
    for file in [
      "curve.svg", "metrics.json", "mlp.safetensors", "checkpoints/last.safetensors", "checkpoints/best.safetensors",
    ] {
      #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
    }
    let weights = try Weights.load(from: dir.appendingPathComponent("mlp.safetensors").path)
    #expect(weights.names.sorted() == ["hidden.bias", "hidden.weight", "out.bias", "out.weight"])
  }

  @Test func divergingLossExitsNonZeroWithTheStep() throws {
    let dir = try PackagePaths.temporaryDirectory()
    let r = try kiln(
      "train", example("mlp.kiln"), "--data", "fashion-mnist", "--limit", "320", "--test-limit", "10", "--optimizer",
      "sgd", "--lr", "1e30", in: dir)
    #expect(r.status == 1)
    #expect(!r.signaled)
    #expect(r.stderr.contains("in epoch 1, step "), "\(r.stderr)")
    #expect(r.stderr.contains("the loss became NaN") || r.stderr.contains("the loss became infinite"))
    #expect(r.stderr.contains("kept the last good checkpoint ") && r.stderr.contains("checkpoints/last.safetensors"))
    #expect(r.stderr.contains("(the weights before training)"))
  }

  @Test func badFlagsAreClearErrors() throws {
    let noTarget = try kiln("train", example("mlp.kiln"), "--data", "csv:houses.csv")
    #expect(noTarget.status == 1 && noTarget.stderr.contains("needs --target COLUMN"), "\(noTarget.stderr)")
    let noTrain = try kiln("train", example("conv_chain.kiln"), "--data", "fashion-mnist")
    #expect(noTrain.status == 1 && noTrain.stderr.contains("no train section"), "\(noTrain.stderr)")
    let source = try kiln("train", example("mlp.kiln"), "--data", "imagenet")
    #expect(source.status == 1 && source.stderr.contains("expected fashion-mnist or csv:FILE"))
  }
}
