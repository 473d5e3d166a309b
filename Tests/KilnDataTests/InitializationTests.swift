// Initializers: the generators against reference outputs, torch.nn.init statistics, determinism, stream independence.

import Foundation
import KilnIR
import Testing

@testable import KilnData

@Suite struct RandomTests {
  @Test func splitMixMatchesReferenceOutputs() {
    var g = SplitMix64(seed: 0)
    #expect([g.next(), g.next(), g.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
  }

  /// Outputs of the reference xoshiro256** (Vigna's C code, ported to Python) seeded by SplitMix64(42).
  @Test func xoshiroMatchesReferenceOutputs() {
    var g = Xoshiro256StarStar(seed: 42)
    let expected: [UInt64] = [
      0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1,
    ]
    #expect((0..<4).map { _ in g.next() } == expected)
  }

  @Test func fnv1aMatchesReferenceHashes() {
    #expect(FNV1a.hash("") == 0xCBF2_9CE4_8422_2325)
    #expect(FNV1a.hash("a") == 0xAF63_DC4C_8601_EC8C)
    #expect(FNV1a.hash("conv1.weight") == 0x69A2_9A2C_EE47_D254)
  }

  @Test func deterministicLogAgreesWithTheCLibrary() {
    var g = Xoshiro256StarStar(seed: 3)
    var inputs: [Double] = [1, 2, 0.5, .ulpOfOne, 1e-300, 1e300, 1.4142135623730951, 0.7071067811865476, M_E]
    inputs += (0..<2000).map { _ in g.nextUnit() + 0x1p-60 }
    for x in inputs {
      let mine = DeterministicMath.log(x)
      let libm = Foundation.log(x)
      #expect(abs(mine - libm) <= 2 * max(libm.ulp, Double.leastNormalMagnitude), "log(\(x)) = \(mine), libm \(libm)")
    }
    #expect(DeterministicMath.log(1) == 0)
    #expect(DeterministicMath.log(0) == -.infinity)
    #expect(DeterministicMath.log(-1).isNaN)
    #expect(DeterministicMath.log(.infinity) == .infinity)
  }
}

@Suite struct InitializationTests {
  struct StatCase: Sendable, CustomTestStringConvertible {
    let initializer: Initializer
    /// Expected mean and standard deviation, from torch.nn.init's formulas with fan_in 500, fan_out 400.
    let mean: Double
    let std: Double
    /// Inclusive bounds for uniform initializers.
    let bounds: ClosedRange<Double>?
    var testDescription: String { initializer.description }
  }

  static let fanIn = 500.0, fanOut = 400.0
  static let statCases: [StatCase] = {
    func uniform(_ i: Initializer, _ a: Double, _ b: Double) -> StatCase {
      StatCase(initializer: i, mean: (a + b) / 2, std: (b - a) / 12.0.squareRoot(), bounds: a...b)
    }
    let glorot = (6 / (fanIn + fanOut)).squareRoot()
    let he = (6 / fanIn).squareRoot()
    let torch = 1 / fanIn.squareRoot()
    return [
      uniform(.glorotUniform, -glorot, glorot),
      StatCase(initializer: .glorotNormal, mean: 0, std: (2 / (fanIn + fanOut)).squareRoot(), bounds: nil),
      uniform(.heUniform, -he, he),
      StatCase(initializer: .heNormal, mean: 0, std: (2 / fanIn).squareRoot(), bounds: nil),
      uniform(.torchDefault, -torch, torch),
      uniform(.uniform(low: -0.5, high: 2), -0.5, 2),
      StatCase(initializer: .normal(mean: 3, std: 0.25), mean: 3, std: 0.25, bounds: nil),
    ]
  }()

  /// A dense 500 → 400 layer: weight [400, 500], 200,000 samples.
  static func denseSpecs(_ weightInit: Initializer, biasInit: Initializer = .zeros, name: String = "fc")
    -> [ParameterSpec]
  {
    specs(name, .dense(Dense(units: 400, weightInit: weightInit, biasInit: biasInit)), input: [500])
  }

  @Test(arguments: statCases) func matchesTorchStatistics(_ c: StatCase) throws {
    let w = Weights.initialize(Self.denseSpecs(c.initializer), seed: 11)
    let data = try #require(w.float("fc.weight")).data.map(Double.init)
    #expect(data.count == 200_000)
    let mean = data.reduce(0, +) / Double(data.count)
    let std = (data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(data.count)).squareRoot()
    // The sample mean has standard error std/√n ≈ std/447; 5 standard errors. The sample std is within 1%
    // (its standard error is about 0.16% for these distributions).
    #expect(abs(mean - c.mean) <= 5 * c.std / Double(data.count).squareRoot(), "mean \(mean), expected \(c.mean)")
    #expect(abs(std - c.std) <= 0.01 * c.std, "std \(std), expected \(c.std)")
    if let bounds = c.bounds {
      let (lo, hi) = (data.min()!, data.max()!)
      #expect(bounds.contains(lo) && bounds.contains(hi), "range \(lo)...\(hi) outside \(bounds)")
      // 200,000 draws come within 0.01% of the range of either end.
      let slack = 1e-4 * (bounds.upperBound - bounds.lowerBound)
      #expect(lo - bounds.lowerBound <= slack && bounds.upperBound - hi <= slack)
    } else {
      // A normal sample this large has tails beyond 4σ on both sides.
      #expect(data.min()! < c.mean - 4 * c.std && data.max()! > c.mean + 4 * c.std)
    }
  }

  @Test func constantInitializersAreExact() throws {
    for (initializer, value) in [(Initializer.zeros, Float(0)), (.ones, 1), (.constant(-0.125), -0.125)] {
      let w = Weights.initialize(Self.denseSpecs(.glorotUniform, biasInit: initializer), seed: 5)
      #expect(try #require(w.float("fc.bias")) == Tensor(repeating: value, shape: [400]))
    }
    let bn = Weights.initialize(specs("bn", .batchNorm(BatchNorm()), input: [3, 4, 4]), seed: 5)
    #expect(bn.names == ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
    #expect(bn.float("bn.weight")?.data == [1, 1, 1] && bn.float("bn.running_var")?.data == [1, 1, 1])
    #expect(bn.float("bn.bias")?.data == [0, 0, 0] && bn.float("bn.running_mean")?.data == [0, 0, 0])
  }

  /// The values an independent Python port of the same recipe computes (uniform exactly; the normal's log
  /// comes from Python's C library there, so it is compared to 1e-6).
  @Test func sameSeedGivesTheRecordedValues() throws {
    let fc = Weights.initialize(specs("fc", .dense(Dense(units: 4, weightInit: .torchDefault)), input: [3]), seed: 2024)
    let first = Array(try #require(fc.float("fc.weight")).data.prefix(4))
    #expect(first == [-0x1.75f62cp-2, 0x1.2cbff6p-2, -0x1.1ef0cp-1, 0x1.9bd0e6p-3])
    let conv = Weights.initialize(
      specs("conv", .conv2d(Conv2D(filters: 2, kernel: Pair(3), weightInit: .heNormal)), input: [3, 5, 5]), seed: 2024)
    let normals = Array(try #require(conv.float("conv.weight")).data.prefix(3))
    for (mine, python) in zip(normals, [0.19817328453063965, 0.03388039767742157, 0.021844614297151566]) {
      #expect(abs(Double(mine) - python) <= 1e-6)
    }
  }

  @Test func deterministicAndStreamIndependent() {
    let a = Self.denseSpecs(.heNormal, name: "a")
    let b = specs(
      "b", .conv2d(Conv2D(filters: 8, kernel: Pair(3), weightInit: .glorotUniform, biasInit: .torchDefault)),
      input: [4, 9, 9])
    let both = Weights.initialize(a + b, seed: 99)
    #expect(both == Weights.initialize(a + b, seed: 99))
    // Adding layer a (before b) does not change b's values.
    let onlyB = Weights.initialize(b, seed: 99)
    for name in ["b.weight", "b.bias"] { #expect(both[name] == onlyB[name]) }
    // Another seed changes every tensor.
    let other = Weights.initialize(a + b, seed: 100)
    for name in both.names where name != "a.bias" { #expect(both[name] != other[name], "\(name)") }
    // Two tensors with the same shape and initializer but different names differ.
    let twins = Weights.initialize(
      Self.denseSpecs(.glorotUniform, name: "x") + Self.denseSpecs(.glorotUniform, name: "y"), seed: 1)
    #expect(twins.float("x.weight") != twins.float("y.weight"))
  }

  @Test func emptyTensorsAndZeroFansAreHandled() throws {
    var spec = Self.denseSpecs(.heUniform)[0]
    spec.dims = [0, 500]
    spec.fanIn = 0
    var scalar = spec
    scalar.name = "fc.scale"
    scalar.dims = [2]
    scalar.fanOut = 0
    let w = Weights.initialize([spec, scalar], seed: 1)
    #expect(try #require(w.float("fc.weight")).shape == [0, 500])
    // A fan of 0 counts as 1: he_uniform draws from U(−√6, √6) rather than producing infinities.
    let values = try #require(w.float("fc.scale")).data
    #expect(values.count == 2 && values.allSatisfy { abs($0) <= Float(6.0.squareRoot()) })
  }
}
