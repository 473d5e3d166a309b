// The reference dropout, drawing its mask from KilnIR's CounterRandom, which generated C reproduces bit for bit.
import KilnIR

extension ReferenceOps {
  /// nn.Dropout with inverted scaling. At inference (`training` false) the identity. In training,
  /// element i is kept iff `CounterRandom.uniform(seed, stream, i) >= rate`, and a kept element becomes
  /// (float)((double)x · (1.0 / (1.0 − rate))); dropped elements become 0. A rate of 1 drops everything.
  /// - Parameter rate: the drop probability, in [0, 1].
  public static func dropout(_ x: Tensor, rate: Double, training: Bool, seed: UInt64, stream: UInt64) throws -> Tensor {
    guard rate >= 0, rate <= 1 else { throw ReferenceError("dropout: rate \(rate) must be in [0, 1]") }
    guard training else { return x }
    guard rate < 1 else { return Tensor(zeros: x.shape) }
    let scale = 1.0 / (1.0 - rate)
    var y = x.data
    for i in y.indices {
      let u = CounterRandom.uniform(seed: seed, stream: stream, index: UInt64(i))
      y[i] = u >= rate ? Float(Double(y[i]) * scale) : 0
    }
    return Tensor(shape: x.shape, data: y)
  }
}
