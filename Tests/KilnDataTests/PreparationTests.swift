// Preparing samples: standardization fitted on training data only, seeded shuffles, validation split, mini-batches.

import KilnIR
import Testing

@testable import KilnData

@Suite struct PreparationTests {
  @Test func standardizesWithTrainingStatisticsOnly() throws {
    // Feature 0: 1, 3 → mean 2, std 1. Feature 1: 5, 5 → mean 5, std 0 → 1.
    let training = Tensor(shape: [2, 2], data: [1, 5, 3, 5])
    let s = try Standardization(fitting: training)
    #expect(s.mean == [2, 5] && s.std == [1, 1])
    #expect(try s.applied(to: training) == Tensor(shape: [2, 2], data: [-1, 0, 1, 0]))
    // The test split is mapped with the training statistics, not its own.
    #expect(try s.applied(to: Tensor(shape: [1, 2], data: [6, 7])) == Tensor(shape: [1, 2], data: [4, 2]))
    expectError(containing: ["shape [1, 3]", "2 features"]) { _ = try s.applied(to: Tensor(zeros: [1, 3])) }
  }

  @Test func globalStandardizationForImages() throws {
    // Four pixels 0, 0, 1, 1 over two images [2, 1, 1, 2]: mean 0.5, population std 0.5.
    let images = Tensor(shape: [2, 1, 1, 2], data: [0, 0, 1, 1])
    let s = try Standardization(fitting: images, perFeature: false)
    #expect(s.mean == [0.5] && s.std == [0.5])
    #expect(try s.applied(to: images).data == [-1, -1, 1, 1])
    expectError(containing: ["expected [N, …] with N ≥ 1"]) { _ = try Standardization(fitting: Tensor(zeros: [0, 3])) }
    expectError(containing: ["not finite"]) { _ = try Standardization(fitting: Tensor(shape: [1, 1], data: [.nan])) }
  }

  @Test func shufflesArePermutationsReproducibleBySeedAndEpoch() {
    let a = SampleOrder.shuffled(count: 100, seed: 42)
    #expect(a.sorted() == Array(0..<100))
    #expect(a != Array(0..<100))
    #expect(SampleOrder.shuffled(count: 100, seed: 42) == a)
    #expect(SampleOrder.shuffled(count: 100, seed: 43) != a)
    #expect(SampleOrder.shuffled(count: 100, seed: 42, epoch: 1) != a)
    #expect(SampleOrder.shuffled(count: 1, seed: 1) == [0] && SampleOrder.shuffled(count: 0, seed: 1).isEmpty)
  }

  @Test func shuffleFollowsFisherYatesOverTheDocumentedStream() {
    // Recompute the documented algorithm step by step from the generator, independently of `shuffled`.
    var rng = Xoshiro256StarStar(seed: 7, stream: "shuffle/3")
    var expected = [0, 1, 2, 3, 4]
    for i in stride(from: 4, through: 1, by: -1) {
      var x = rng.next()
      let bound = UInt64(i + 1)
      while x < (UInt64.max - bound + 1) % bound { x = rng.next() }
      expected.swapAt(i, Int(x % bound))
    }
    #expect(SampleOrder.shuffled(count: 5, seed: 7, epoch: 3) == expected)
  }

  @Test func uniformDrawsAreUnbiasedEnough() {
    // 60,000 draws below 3: each count within 5σ (σ = √(n·p·(1−p)) ≈ 115) of 20,000.
    var rng = Xoshiro256StarStar(seed: 1)
    var counts = [0, 0, 0]
    for _ in 0..<60_000 { counts[SampleOrder.uniform(below: 3, using: &rng)] += 1 }
    #expect(counts.allSatisfy { abs($0 - 20_000) < 580 }, "\(counts)")
  }

  @Test func validationIsTheLastPartOfTheOrder() throws {
    let order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    let s = try SampleOrder.split(order, validationFraction: 0.2)
    #expect(s.training == [9, 8, 7, 6, 5, 4, 3, 2] && s.validation == [1, 0])
    // 100·0.29 = 28.999999999999996 in Double: rounding, not truncation, keeps 29 samples.
    #expect(try SampleOrder.split(Array(0..<100), validationFraction: 0.29).validation.count == 29)
    #expect(try SampleOrder.split(order, validationFraction: 0).validation.isEmpty)
    expectError(containing: ["fraction 1.0; expected a number in [0, 1)"]) {
      _ = try SampleOrder.split(order, validationFraction: 1)
    }
  }

  @Test func miniBatchesCoverEverySampleOnceInOrder() throws {
    let batches = try SampleOrder.batches([4, 2, 0, 1, 3], batchSize: 2)
    #expect(batches.count == 3)
    #expect(batches.map(Array.init) == [[4, 2], [0, 1], [3]])
    expectError(containing: ["batch size 0"]) { _ = try SampleOrder.batches([1], batchSize: 0) }
  }

  @Test func gathersSamplesByIndex() throws {
    let x = Tensor(shape: [3, 1, 2], data: [0, 1, 10, 11, 20, 21])
    #expect(try x.samples(at: [2, 0]) == Tensor(shape: [2, 1, 2], data: [20, 21, 0, 1]))
    let y = IntTensor(shape: [3], data: [5, 6, 7])
    #expect(try y.samples(at: [1, 1]) == IntTensor(shape: [2], data: [6, 6]))
    expectError(containing: ["sample index 3; expected 0..<3"]) { _ = try x.samples(at: [3]) }
    expectError(containing: ["sample index -1"]) { _ = try y.samples(at: [-1]) }
  }
}
