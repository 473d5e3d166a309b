// Initial weights from the specs' initializers, with torch.nn.init's formulas and a per-tensor random stream.

import KilnIR

extension Weights {
  /// One tensor per spec, in spec order, drawn as the spec's initializer says.
  ///
  /// Each tensor draws from its own xoshiro256** stream, seeded from `seed` and the FNV-1a hash of its name,
  /// so adding or removing a layer never changes another layer's values; the same seed gives bit-identical
  /// weights on every run and platform.
  public static func initialize(_ specs: [ParameterSpec], seed: UInt64) -> Weights {
    var weights = Weights()
    for spec in specs {
      var rng = Xoshiro256StarStar(seed: seed, stream: spec.name)
      let count = max(0, checkedElementCount(spec.dims) ?? 0)
      let data = spec.initializer.sample(count: count, fanIn: spec.fanIn, fanOut: spec.fanOut, using: &rng)
      weights[spec.name] = .f32(Tensor(shape: count == 0 ? spec.dims.map { max(0, $0) } : spec.dims, data: data))
    }
    return weights
  }
}

extension Initializer {
  /// The distribution the initializer draws from, with torch.nn.init's constants.
  ///
  ///     glorot_uniform  U(−a, a), a = √(6/(fan_in + fan_out))     xavier_uniform_, gain 1
  ///     glorot_normal   N(0, σ²), σ = √(2/(fan_in + fan_out))     xavier_normal_, gain 1
  ///     he_uniform      U(−a, a), a = √2·√(3/fan_in) = √(6/fan_in) kaiming_uniform_, gain √2
  ///     he_normal       N(0, σ²), σ = √2/√fan_in = √(2/fan_in)     kaiming_normal_, gain √2
  ///     torch_default   U(−1/√fan_in, 1/√fan_in)                   nn.Linear / nn.Conv2d reset_parameters
  ///
  /// NOTE: a fan of 0 (only possible for a tensor with no elements) is treated as 1 so no bound is infinite.
  enum Distribution: Equatable {
    case constant(Double)
    case uniform(low: Double, high: Double)
    case normal(mean: Double, std: Double)
  }

  /// The distribution for a tensor with these fans.
  func distribution(fanIn: Int, fanOut: Int) -> Distribution {
    let fi = Double(max(fanIn, 1))
    let both = Double(max(fanIn + fanOut, 1))
    switch self {
    case .glorotUniform:
      let a = (6 / both).squareRoot()
      return .uniform(low: -a, high: a)
    case .glorotNormal: return .normal(mean: 0, std: (2 / both).squareRoot())
    case .heUniform:
      let a = (6 / fi).squareRoot()
      return .uniform(low: -a, high: a)
    case .heNormal: return .normal(mean: 0, std: (2 / fi).squareRoot())
    case .zeros: return .constant(0)
    case .ones: return .constant(1)
    case .constant(let v): return .constant(v)
    case .normal(let mean, let std): return .normal(mean: mean, std: std)
    case .uniform(let low, let high): return .uniform(low: low, high: high)
    case .torchDefault:
      let a = 1 / fi.squareRoot()
      return .uniform(low: -a, high: a)
    }
  }

  /// `count` values drawn from the initializer's distribution with `rng`.
  func sample(count: Int, fanIn: Int, fanOut: Int, using rng: inout Xoshiro256StarStar) -> [Float] {
    switch distribution(fanIn: fanIn, fanOut: fanOut) {
    case .constant(let v):
      return [Float](repeating: Float(v), count: count)
    case .uniform(let low, let high):
      return (0..<count).map { _ in Float(low + (high - low) * rng.nextUnit()) }
    case .normal(let mean, let std):
      return (0..<count).map { _ in Float(mean + std * rng.nextStandardNormal()) }
    }
  }
}
