// Typed reading of attribute lists, call arguments and train settings: names, types and ranges checked.

import KilnIR

/// A range check with the words that describe it in a diagnostic ("a positive integer").
struct Constraint<T> {
  var description: String
  var contains: (T) -> Bool
}

extension Constraint where T == Int {
  static var any: Self { Self(description: "an integer") { _ in true } }
  static var positive: Self { Self(description: "a positive integer") { $0 > 0 } }
  static var nonNegative: Self { Self(description: "an integer ≥ 0") { $0 >= 0 } }
}

extension Constraint where T == Double {
  static var any: Self { Self(description: "a number") { _ in true } }
  static var positive: Self { Self(description: "a number > 0") { $0 > 0 } }
  static var nonNegative: Self { Self(description: "a number ≥ 0") { $0 >= 0 } }
  /// [0, 1): a rate or a fraction that may not be 1.
  static var rate: Self { Self(description: "a number in [0, 1)") { $0 >= 0 && $0 < 1 } }
  /// (0, 1): a decay factor.
  static var openUnit: Self { Self(description: "a number in (0, 1)") { $0 > 0 && $0 < 1 } }
  /// [0, 1].
  static var closedUnit: Self { Self(description: "a number in [0, 1]") { $0 >= 0 && $0 <= 1 } }
}

/// The arguments of one attribute list, call or section, matched to the parameters it accepts.
///
/// Unknown and duplicate names are reported when it is made; each typed getter reports a missing required
/// value, a wrong type or an out-of-range value and returns nil, so a caller reads everything, then checks `isValid`.
struct Arguments {
  /// Who owns the arguments, as a diagnostic names it: "conv c1", "sgd", "the train section".
  let owner: String
  /// "attribute", "argument" or "setting".
  let noun: String
  /// Where a missing required argument is reported.
  let location: SourceLocation
  private var values: [String: Value] = [:]
  private(set) var diagnostics: [Diagnostic] = []

  init(
    _ arguments: [Argument], of owner: String, noun: String, parameters: [String], positional: Bool = false,
    at location: SourceLocation
  ) {
    self.owner = owner
    self.noun = noun
    self.location = location
    var keys: [String: SourceLocation] = [:]
    var sawNamed = false
    for (i, argument) in arguments.enumerated() {
      guard let key = argument.key else {
        if !positional {
          fail(argument.value.location, "found \(argument.value.description) without a name in \(owner)",
            expected: "'name: value'")
        } else if sawNamed {
          fail(argument.value.location, "found positional \(argument.value.description) after a named \(noun)",
            expected: "positional \(noun)s before named ones")
        } else if i >= parameters.count {
          fail(argument.value.location, "too many \(noun)s for \(owner): found \(arguments.count)",
            expected: parameters.isEmpty ? "no \(noun)s" : "at most \(parameters.count): \(parameters.joined(separator: ", "))")
        } else {
          keys[parameters[i]] = argument.value.location
          values[parameters[i]] = argument.value
        }
        continue
      }
      sawNamed = true
      guard parameters.contains(key.text) else {
        let hint = closestWord(to: key.text, in: parameters).map { "; did you mean '\($0)'?" } ?? ""
        fail(key.location, "unknown \(noun) '\(key.text)' for \(owner)\(hint)",
          expected: parameters.isEmpty ? "no \(noun)s" : "one of: \(parameters.joined(separator: ", "))")
        continue
      }
      if let first = keys[key.text] {
        fail(key.location, "duplicate \(noun) '\(key.text)' for \(owner) (first given at \(first))",
          expected: "each \(noun) at most once")
        continue
      }
      keys[key.text] = key.location
      values[key.text] = argument.value
    }
  }

  /// No problem has been reported so far.
  var isValid: Bool { diagnostics.isEmpty }

  /// The raw value given for a parameter, if any.
  func value(_ name: String) -> Value? { values[name] }

  mutating func fail(_ at: SourceLocation, _ message: String, expected: String) {
    diagnostics.append(Diagnostic(at: at, message, expected: expected))
  }

  /// Reports a missing required parameter and returns nil.
  private mutating func missing<T>(_ name: String, _ what: String) -> T? {
    fail(location, "\(owner) is missing the \(noun) '\(name)'", expected: "'\(name): \(what)'")
    return nil
  }

  /// Reports a value of the wrong kind and returns nil.
  mutating func wrong<T>(_ v: Value, for name: String, expected: String) -> T? {
    fail(v.location, "found \(v.description) for '\(name)' of \(owner)", expected: expected)
    return nil
  }

  private mutating func check<T>(_ x: T, _ v: Value, _ name: String, _ c: Constraint<T>) -> T? {
    if c.contains(x) { return x }
    fail(v.location, "'\(name)' of \(owner) is out of range: \(v.text)", expected: c.description)
    return nil
  }

  // MARK: Scalars

  /// An integer; `fallback` nil makes it required.
  mutating func int(_ name: String, default fallback: Int?, _ c: Constraint<Int> = .any) -> Int? {
    guard let v = values[name] else { return fallback ?? missing(name, "INT") }
    return int(v, name, c)
  }

  mutating func int(_ v: Value, _ name: String, _ c: Constraint<Int>) -> Int? {
    guard case .integer(let x) = v.kind else { return wrong(v, for: name, expected: c.description) }
    return check(x, v, name, c)
  }

  /// A number; integers are accepted too.
  mutating func double(_ name: String, default fallback: Double?, _ c: Constraint<Double> = .any) -> Double? {
    guard let v = values[name] else { return fallback ?? missing(name, "NUMBER") }
    switch v.kind {
    case .integer(let x): return check(Double(x), v, name, c)
    case .number(let x): return check(x, v, name, c)
    default: return wrong(v, for: name, expected: c.description)
    }
  }

  mutating func bool(_ name: String, default fallback: Bool) -> Bool? {
    guard let v = values[name] else { return fallback }
    guard case .boolean(let x) = v.kind else { return wrong(v, for: name, expected: "true or false") }
    return x
  }

  /// One of a fixed set of words.
  mutating func word(_ name: String, default fallback: String, choices: [String]) -> String? {
    guard let v = values[name] else { return fallback }
    guard case .name(let x) = v.kind, choices.contains(x) else {
      return wrong(v, for: name, expected: "one of: \(choices.joined(separator: ", "))")
    }
    return x
  }

  /// A value name (an identifier), e.g. the prediction of a loss.
  mutating func identifier(_ name: String) -> Name? {
    guard let v = values[name] else { return missing(name, "NAME") }
    guard case .name(let x) = v.kind else { return wrong(v, for: name, expected: "a name") }
    return Name(text: x, location: v.location)
  }

  // MARK: Window attributes

  /// `5` or `[5, 3]` for (height, width).
  mutating func pair(_ name: String, default fallback: Pair?, _ c: Constraint<Int>) -> Pair? {
    guard let v = values[name] else { return fallback ?? missing(name, "INT or [H, W]") }
    let expected = "\(c.description) or a list [h, w] of them"
    switch v.kind {
    case .integer(let x): return check(x, v, name, c).map { Pair($0) }
    case .list(let items) where items.count == 2:
      let hw = items.compactMap { int($0, name, c) }
      return hw.count == 2 ? Pair(hw[0], hw[1]) : nil
    default: return wrong(v, for: name, expected: expected)
    }
  }

  /// `p`, `[h, w]`, `[top, left, bottom, right]`, `same` or `valid`.
  mutating func padding(_ name: String) -> Padding? {
    guard let v = values[name] else { return .explicit(Pads(0)) }
    let expected = "an integer ≥ 0, [h, w], [top, left, bottom, right], same or valid"
    switch v.kind {
    case .name("same"): return .same
    case .name("valid"): return .valid
    case .integer(let x): return check(x, v, name, .nonNegative).map { .explicit(Pads($0)) }
    case .list(let items) where items.count == 2 || items.count == 4:
      let p = items.compactMap { int($0, name, .nonNegative) }
      guard p.count == items.count else { return nil }
      return .explicit(p.count == 2 ? Pads(h: p[0], w: p[1]) : Pads(top: p[0], left: p[1], bottom: p[2], right: p[3]))
    default: return wrong(v, for: name, expected: expected)
    }
  }

  /// `exact`, `floor` or (pooling) `ceil`.
  mutating func rounding(_ name: String, allowCeil: Bool) -> Rounding? {
    let choices = allowCeil ? ["exact", "floor", "ceil"] : ["exact", "floor"]
    return word(name, default: "exact", choices: choices).flatMap(Rounding.init(rawValue:))
  }

  /// A list of integers (a single integer counts as a list of one).
  mutating func ints(_ name: String) -> [Int]? {
    guard let v = values[name] else { return missing(name, "[INT, ...]") }
    switch v.kind {
    case .integer(let x): return [x]
    case .list(let items) where !items.isEmpty:
      let xs = items.compactMap { int($0, name, .any) }
      return xs.count == items.count ? xs : nil
    default: return wrong(v, for: name, expected: "a non-empty list of integers")
    }
  }

  // MARK: Calls

  /// Reads a value written as `callee` or `callee(arguments)`; nil (reported) when it is neither.
  mutating func call(_ v: Value, for name: String, expected: String) -> (callee: String, arguments: [Argument])? {
    switch v.kind {
    case .name(let x): return (x, [])
    case .call(let x, let arguments): return (x, arguments)
    default: return wrong(v, for: name, expected: expected)
    }
  }

  /// Reads a call's own arguments and folds their diagnostics into this reader.
  mutating func nested(
    _ arguments: [Argument], of callee: String, parameters: [String], at location: SourceLocation,
    read: (inout Arguments) -> Void
  ) {
    var inner = Arguments(
      arguments, of: "'\(callee)'", noun: "argument", parameters: parameters, positional: true, at: location)
    read(&inner)
    diagnostics += inner.diagnostics
  }
}
