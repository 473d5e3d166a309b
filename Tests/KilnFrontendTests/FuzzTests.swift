// Seeded fuzzing: random token streams and mutations of valid specs must parse quickly and never crash.

import KilnFrontend
import KilnIR
import Testing

/// SplitMix64: a tiny seeded generator, so a failing case reproduces from its seed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct FuzzTests {
  /// Valid specs to mutate.
  static let seeds = [
    GraphFormTests.lenet,
    """
    network res
    input x: f32[16, 8, 8]
    conv a (filters: 16, kernel: 3, padding: 1, activation: leaky_relu(0.1))
    batchnorm
    conv b (filters: 16, kernel: [3, 3], padding: same, init: normal(mean: 0, std: 0.1)) <- x
    add s <- a, b
    global_avgpool
    dropout (rate: 0.2)
    dense fc (units: 10, activation: softmax)
    output probs
    output feats <- s
    train {
      loss: mse(probs, target)
      optimizer: adam(lr: 0.001, beta1: 0.8)
      schedule: plateau(factor: 0.5)
      weight_decay: 5e-4
    }
    """,
  ]

  /// Tokens random streams are made of: every keyword, punctuation and a few values.
  static let vocabulary: [String] =
    ["network", "input", "output", "train", "{", "}", "(", ")", "[", "]", ":", ",", "=", "<-", "\n", "\n", "\n", "#c\n"]
    + ["dense", "conv", "maxpool", "add", "concat", "flatten", "relu", "leaky_relu", "units", "filters", "kernel"]
    + ["padding", "same", "loss", "mse", "softmax_cross_entropy", "sgd", "lr", "batch", "f32", "i64", "true", "x"]
    + ["y", "a", "b", "0", "1", "3", "-1", "0.5", "1e-3", "99999999999999999999", "$", "é", "-", "<", "\t", "\r\n"]

  /// Parses `text`, checks the result's invariants, and that it finished in time.
  static func check(_ text: String, seed: UInt64) {
    let clock = ContinuousClock()
    var result: ParseResult?
    let elapsed = clock.measure { result = Frontend.parse(text, file: "fuzz.kiln") }
    #expect(elapsed < .seconds(1), "seed \(seed) took \(elapsed)")
    guard let result else { return }
    let locations = result.diagnostics.compactMap(\.location)
    #expect(locations.count == result.diagnostics.count, "seed \(seed): a diagnostic without location")
    #expect(locations == locations.sorted(), "seed \(seed): diagnostics not sorted")
    #expect(locations.allSatisfy { $0.line >= 1 && $0.column >= 1 && $0.file == "fuzz.kiln" }, "seed \(seed)")
    if result.diagnostics.isEmpty {
      guard let graph = result.graph else {
        Issue.record("seed \(seed): no diagnostics but no graph")
        return
      }
      #expect(Verifier.verify(graph).isEmpty, "seed \(seed): \(Verifier.verify(graph)) for:\n\(text)")
    }
  }

  @Test func randomTokenStreams() {
    for seed in UInt64(0)..<2500 {
      var rng = SplitMix64(seed: seed)
      let count = Int.random(in: 0...60, using: &rng)
      let words = (0..<count).map { _ in Self.vocabulary.randomElement(using: &rng) ?? "" }
      Self.check(words.joined(separator: Bool.random(using: &rng) ? " " : ""), seed: seed)
    }
  }

  @Test func characterMutationsOfValidSpecs() {
    let alphabet = Array("()[]{}:,=<-#\n abc019._$é")
    for seed in UInt64(0)..<2500 {
      var rng = SplitMix64(seed: seed &+ 1_000_000)
      var chars = Array(Self.seeds[Int(seed) % Self.seeds.count])
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        guard !chars.isEmpty else { break }
        let i = Int.random(in: 0..<chars.count, using: &rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: chars.remove(at: i)
        case 1: chars.insert(alphabet.randomElement(using: &rng) ?? " ", at: i)
        case 2: chars.swapAt(i, Int.random(in: 0..<chars.count, using: &rng))
        case 3: chars.insert(chars[i], at: i)
        default: chars.removeSubrange(i...)
        }
      }
      Self.check(String(chars), seed: seed)
    }
  }

  @Test func tokenMutationsOfValidSpecs() {
    for seed in UInt64(0)..<1500 {
      var rng = SplitMix64(seed: seed &+ 2_000_000)
      // Split keeping separators, so words and punctuation move as units.
      var pieces = Self.seeds[Int(seed) % Self.seeds.count].split(omittingEmptySubsequences: false) { $0 == " " }.map(String.init)
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        guard !pieces.isEmpty else { break }
        let i = Int.random(in: 0..<pieces.count, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: pieces.remove(at: i)
        case 1: pieces.insert(Self.vocabulary.randomElement(using: &rng) ?? "", at: i)
        case 2: pieces.swapAt(i, Int.random(in: 0..<pieces.count, using: &rng))
        default: pieces.insert(pieces[i], at: i)
        }
      }
      Self.check(pieces.joined(separator: " "), seed: seed)
    }
  }

  @Test func validSeedsAreClean() {
    for spec in Self.seeds { #expect(parseClean(spec) != nil) }
  }

  @Test func deepNestingAndLongInputsFinish() {
    Self.check("network n\ninput x: f32" + String(repeating: "[", count: 5000) + "\noutput y", seed: 0)
    Self.check("network n\ninput x: f32[4]\n" + String(repeating: "relu\n", count: 3000) + "output y", seed: 1)
    Self.check(String(repeating: "add a <- a, a\n", count: 500), seed: 2)
  }
}
