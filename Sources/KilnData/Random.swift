// Seeded, platform-independent random numbers: SplitMix64, xoshiro256**, FNV-1a, and a normal sampler.

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator used to expand one seed into generator states.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
  /// The counter; each output advances it by the golden-ratio increment.
  public var state: UInt64

  /// Starts the sequence at `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// xoshiro256** 1.0 (Blackman, Vigna 2018): a fast generator with 256 bits of state.
public struct Xoshiro256StarStar: RandomNumberGenerator, Hashable, Sendable {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  /// Seeds the state with four outputs of SplitMix64(seed), as the authors recommend.
  /// NOTE: SplitMix64's output function is a bijection of its counter, so four consecutive outputs
  /// are never all zero, the one state xoshiro must avoid.
  public init(seed: UInt64) {
    var sm = SplitMix64(seed: seed)
    s = (sm.next(), sm.next(), sm.next(), sm.next())
  }

  /// An independent stream for `stream` (e.g. a tensor name) under `seed`: the seed is mixed with the
  /// FNV-1a hash of the name, so a stream depends only on the seed and its own name.
  public init(seed: UInt64, stream: String) {
    var sm = SplitMix64(seed: seed)
    self.init(seed: sm.next() ^ FNV1a.hash(stream))
  }

  /// Two generators are equal when their states are.
  public static func == (a: Self, b: Self) -> Bool { a.s == b.s }

  /// Hashes the state.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(s.0)
    hasher.combine(s.1)
    hasher.combine(s.2)
    hasher.combine(s.3)
  }

  private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = Self.rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = Self.rotl(s.3, 45)
    return result
  }

  /// A uniform Double in [0, 1) with 53 random bits.
  public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A standard normal Double, by Marsaglia's polar form of the Box–Muller transform.
  ///
  /// Only +, −, ×, ÷, √ (all correctly rounded by IEEE 754) and `DeterministicMath.log` are used, so the
  /// values are bit-identical on every platform, unlike the C library's log/sin/cos.
  public mutating func nextStandardNormal() -> Double {
    while true {
      let u = 2 * nextUnit() - 1
      let v = 2 * nextUnit() - 1
      let s = u * u + v * v
      guard s < 1, s > 0 else { continue }
      // The pair's second value (v·factor) is dropped, so the generator needs no cache beside its state.
      return u * (-2 * DeterministicMath.log(s) / s).squareRoot()
    }
  }
}

/// The 64-bit FNV-1a hash, a stable name hash (Swift's Hasher is randomly seeded per process).
public enum FNV1a {
  /// FNV-1a over the UTF-8 bytes of `text`.
  public static func hash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
      h ^= UInt64(byte)
      h &*= 0x0000_0100_0000_01B3
    }
    return h
  }
}

/// Elementary functions built only from correctly rounded IEEE operations, so they give the same bits everywhere.
public enum DeterministicMath {
  /// The natural logarithm of `x`, accurate to about one ulp.
  ///
  /// x = m·2^e with m in [√½, √2); ln m = 2·atanh(t) = 2(t + t³/3 + t⁵/5 + …)
  /// with t = (m−1)/(m+1), |t| < 0.172, so 20 terms leave an error far below one ulp; ln x = e·ln 2 + ln m.
  public static func log(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return x == 0 ? -.infinity : x == .infinity ? .infinity : .nan }
    var e = Double(x.exponent)
    var m = x.significand
    if m > 1.4142135623730951 {
      m /= 2
      e += 1
    }
    let t = (m - 1) / (m + 1)
    let t2 = t * t
    var series = 0.0
    for k in stride(from: 39, through: 1, by: -2) { series = series * t2 + 1 / Double(k) }
    // ln 2 split into a high part with trailing zero bits and a small correction, so e·ln2Hi is exact.
    let ln2Hi = 6.93147180369123816490e-01
    let ln2Lo = 1.90821492927058770002e-10
    return e * ln2Hi + (e * ln2Lo + 2 * t * series)
  }
}
