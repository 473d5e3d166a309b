// Window arithmetic for convolution and pooling: padding, output sizes, and when a window does not fit.

/// Two integers, (height, width).
public struct Pair: Hashable, Sendable, CustomStringConvertible {
  public var h: Int
  public var w: Int
  public init(_ h: Int, _ w: Int) {
    self.h = h
    self.w = w
  }
  public init(_ both: Int) { self.init(both, both) }
  public var description: String { h == w ? "\(h)" : "[\(h), \(w)]" }
}

/// Explicit padding per side.
public struct Pads: Hashable, Sendable, CustomStringConvertible {
  public var top: Int, left: Int, bottom: Int, right: Int
  public init(top: Int, left: Int, bottom: Int, right: Int) {
    self.top = top
    self.left = left
    self.bottom = bottom
    self.right = right
  }
  public init(_ all: Int) { self.init(top: all, left: all, bottom: all, right: all) }
  public init(h: Int, w: Int) { self.init(top: h, left: w, bottom: h, right: w) }
  public var description: String {
    if top == bottom && left == right { return top == left ? "\(top)" : "[\(top), \(left)]" }
    return "[\(top), \(left), \(bottom), \(right)]"
  }
}

/// Padding as written in a spec.
public enum Padding: Hashable, Sendable, CustomStringConvertible {
  case explicit(Pads)
  /// No padding.
  case valid
  /// Output size ⌈in/stride⌉; the total padding is split evenly, the odd pixel going bottom/right
  /// (as TensorFlow and PyTorch's padding='same' do).
  case same

  public var description: String {
    switch self {
    case .explicit(let p): return p.description
    case .valid: return "valid"
    case .same: return "same"
    }
  }
}

/// What to do when (in + pads − extent) is not a multiple of the stride.
public enum Rounding: String, Hashable, Sendable {
  /// Report an error: the window does not fit (the default, so nothing is floored silently).
  case exact
  /// Drop the last partial window (PyTorch's default).
  case floor
  /// Keep a last partial window if it starts inside the input or the left padding (ceil_mode=True).
  case ceil
}

/// Why a window cannot be applied to an input.
public enum WindowError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The dilated kernel is larger than the padded input.
  case tooLarge(axis: String, extent: Int, paddedInput: Int)
  /// The windows do not tile the input exactly, and the spec asked for exact rounding.
  case doesNotFit(axis: String, input: Int, extent: Int, pads: Int, stride: Int)

  public var description: String {
    switch self {
    case .tooLarge(let axis, let extent, let padded):
      return "window of \(extent) along \(axis) is larger than its padded input of \(padded)"
    case .doesNotFit(let axis, let input, let extent, let pads, let stride):
      let exact = Double(input + pads - extent) / Double(stride) + 1
      let shown = (exact * 100).rounded() / 100
      return "window does not fit along \(axis): (\(input) + \(pads) − \(extent)) / \(stride) + 1 = \(shown) is not a whole number"
        + "; add 'rounding: floor' (or 'ceil' for pooling) to accept it, or change padding or stride"
    }
  }
}

/// A 2-D window: kernel, stride, dilation, padding and rounding.
public struct Window2D: Hashable, Sendable {
  public var kernel: Pair
  public var stride: Pair
  public var dilation: Pair
  public var padding: Padding
  public var rounding: Rounding

  public init(kernel: Pair, stride: Pair, dilation: Pair, padding: Padding, rounding: Rounding) {
    self.kernel = kernel
    self.stride = stride
    self.dilation = dilation
    self.padding = padding
    self.rounding = rounding
  }

  /// The dilated kernel extent along each axis: d·(k−1)+1.
  public var extent: Pair { Pair(dilation.h * (kernel.h - 1) + 1, dilation.w * (kernel.w - 1) + 1) }

  /// Explicit pads for an input of height `h` and width `w`.
  public func pads(inputH h: Int, inputW w: Int) -> Pads {
    switch padding {
    case .explicit(let p): return p
    case .valid: return Pads(0)
    case .same:
      func split(_ n: Int, _ s: Int, _ e: Int) -> (Int, Int) {
        let out = (n + s - 1) / s
        let total = max((out - 1) * s + e - n, 0)
        return (total / 2, total - total / 2)
      }
      let (t, b) = split(h, stride.h, extent.h)
      let (l, r) = split(w, stride.w, extent.w)
      return Pads(top: t, left: l, bottom: b, right: r)
    }
  }

  /// Output size along one axis, PyTorch's formula with the rounding asked for.
  static func outputSize(
    axis: String, input n: Int, padLow: Int, padHigh: Int, extent e: Int, stride s: Int, rounding: Rounding
  ) -> Result<Int, WindowError> {
    let span = n + padLow + padHigh
    guard e <= span else { return .failure(.tooLarge(axis: axis, extent: e, paddedInput: span)) }
    let q = span - e
    switch rounding {
    case .exact:
      guard q % s == 0 else {
        return .failure(.doesNotFit(axis: axis, input: n, extent: e, pads: padLow + padHigh, stride: s))
      }
      return .success(q / s + 1)
    case .floor:
      return .success(q / s + 1)
    case .ceil:
      var out = (q + s - 1) / s + 1
      // The last window must start inside the input or the low padding (PyTorch pooling_output_shape).
      if (out - 1) * s >= n + padLow { out -= 1 }
      return .success(out)
    }
  }

  /// Output (height, width) for an input of `h`×`w`, or why the window cannot be applied.
  public func outputSize(inputH h: Int, inputW w: Int) -> Result<Pair, WindowError> {
    let p = pads(inputH: h, inputW: w)
    // NOTE: 'same' defines the output as ⌈in/stride⌉; its pads make the floor formula give exactly that,
    // and a last window may overhang the input by less than a stride, which is the point of 'same'.
    let rounding = padding == .same ? .floor : self.rounding
    let oh = Self.outputSize(
      axis: "height", input: h, padLow: p.top, padHigh: p.bottom, extent: extent.h, stride: stride.h, rounding: rounding)
    let ow = Self.outputSize(
      axis: "width", input: w, padLow: p.left, padHigh: p.right, extent: extent.w, stride: stride.w, rounding: rounding)
    switch (oh, ow) {
    case (.success(let a), .success(let b)): return .success(Pair(a, b))
    case (.failure(let e), _), (_, .failure(let e)): return .failure(e)
    }
  }
}
