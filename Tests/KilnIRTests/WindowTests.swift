// Output-size arithmetic of convolution and pooling windows, from the course's worked examples.
import KilnIR
import Testing

@Suite struct WindowTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var n: Int, k: Int, s: Int, p: Int
    var rounding: Rounding
    var expected: Int?
    var testDescription: String { "N=\(n) F=\(k) S=\(s) P=\(p) \(rounding.rawValue)" }
  }

  @Test(arguments: [
    Case(n: 7, k: 3, s: 1, p: 0, rounding: .exact, expected: 5),
    Case(n: 7, k: 3, s: 2, p: 0, rounding: .exact, expected: 3),
    Case(n: 7, k: 3, s: 3, p: 0, rounding: .exact, expected: nil),  // 2.33: does not fit
    Case(n: 7, k: 3, s: 3, p: 0, rounding: .floor, expected: 2),
    Case(n: 7, k: 3, s: 3, p: 0, rounding: .ceil, expected: 3),
    Case(n: 32, k: 5, s: 1, p: 2, rounding: .exact, expected: 32),
    Case(n: 227, k: 11, s: 4, p: 0, rounding: .exact, expected: 55),
    Case(n: 11, k: 2, s: 2, p: 0, rounding: .floor, expected: 5),
    Case(n: 11, k: 2, s: 2, p: 0, rounding: .ceil, expected: 6),
    // ceil mode never starts a window in the right padding (PyTorch): 4 + 1 pad, k 2, s 2 → 3, not 4.
    Case(n: 4, k: 2, s: 2, p: 1, rounding: .ceil, expected: 3),
  ])
  func outputSize(_ c: Case) {
    let w = Window2D(
      kernel: Pair(c.k), stride: Pair(c.s), dilation: Pair(1), padding: .explicit(Pads(c.p)), rounding: c.rounding)
    switch w.outputSize(inputH: c.n, inputW: c.n) {
    case .success(let out): #expect(out == Pair(c.expected ?? -1))
    case .failure(let e): #expect(c.expected == nil, "\(e)")
    }
  }

  @Test func samePaddingMatchesCeilOfInputOverStride() throws {
    for n in 1...12 {
      for s in 1...3 {
        for k in 1...5 {
          let w = Window2D(kernel: Pair(k), stride: Pair(s), dilation: Pair(1), padding: .same, rounding: .exact)
          let out = try w.outputSize(inputH: n, inputW: n).get()
          #expect(out.h == (n + s - 1) / s, "n=\(n) s=\(s) k=\(k)")
        }
      }
    }
  }

  @Test func windowLargerThanInputIsReported() {
    let w = Window2D(kernel: Pair(5), stride: Pair(1), dilation: Pair(1), padding: .valid, rounding: .floor)
    guard case .failure(.tooLarge) = w.outputSize(inputH: 4, inputW: 9) else {
      Issue.record("expected tooLarge")
      return
    }
  }
}
