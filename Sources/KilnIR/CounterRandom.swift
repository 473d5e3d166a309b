// The counter-based random numbers of training-mode dropout: part of the op's definition, so the reference
// interpreter and the C emitter share one copy.

/// Counter-based uniform random numbers: element i of stream s under seed k gets a value that depends only
/// on (k, s, i), never on evaluation order or thread count.
///
/// Exactly, with all arithmetic on uint64 and wrapping (C: `uint64_t`):
///
///     mix(z):  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
///              z = (z ^ (z >> 27)) * 0x94D049BB133111EB
///              return z ^ (z >> 31)                          (the SplitMix64 finalizer)
///     key    = mix(seed ^ mix(stream))
///     bits   = mix(key + (i + 1) * 0x9E3779B97F4A7C15)       (the i-th SplitMix64 output from state `key`)
///     u      = (double)(bits >> 40) * 0x1p-24                (top 24 bits: a multiple of 2⁻²⁴ in [0, 1))
///
/// The interpreter and the generated C both key the stream by `stream(named:)` of the dropout node's NAME, and i the element's flat
/// index in the full [N, …] tensor. Names, unlike node indices, survive passes that remove or renumber
/// nodes, so a graph keeps its masks through the pipeline.
public enum CounterRandom {
  /// The stream of the dropout node called `name`: the 64-bit FNV-1a hash of its UTF-8 bytes. Exactly,
  /// on uint64 with wrapping multiplication (C: `uint64_t`):
  ///
  ///     h = 0xCBF29CE484222325                    (the FNV-1a 64 offset basis)
  ///     for each byte b of the name in UTF-8:  h = (h ^ b) * 0x00000100000001B3   (the FNV 64 prime)
  ///     stream = h
  ///
  /// so the empty name gives 0xCBF29CE484222325 and "a" gives 0xAF63DC4C8601EC8C.
  public static func stream(named name: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return h
  }

  /// The SplitMix64 finalizer.
  public static func mix(_ z0: UInt64) -> UInt64 {
    var z = z0
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// The dropout seed of training step `step` (1 for the first) of a run seeded `base`, so each step draws
  /// fresh masks that depend only on (base, step), never on thread count or on where training resumed:
  ///
  ///     stepSeed = mix(base + step · 0x9E3779B97F4A7C15)          (uint64, wrapping)
  public static func stepSeed(base: UInt64, step: Int64) -> UInt64 {
    mix(base &+ UInt64(bitPattern: step) &* 0x9E37_79B9_7F4A_7C15)
  }

  /// The uniform value in [0, 1) of element `index` of `stream` under `seed`.
  public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Double {
    let key = mix(seed ^ mix(stream))
    let bits = mix(key &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    return Double(bits >> 40) * 0x1p-24
  }
}
