// Buffer lifetimes: the span of steps over which each arena buffer must keep its value.

/// The steps during which a buffer is in use, by `Step.index`, both ends included: from the step that writes
/// it to the last step that reads it.
public struct Lifetime: Hashable, Sendable, Codable, CustomStringConvertible {
  /// The step that first touches the buffer (its producer).
  public var first: Int
  /// The last step that touches it; the producer itself when nothing reads it.
  public var last: Int

  public init(first: Int, last: Int) {
    self.first = first
    self.last = last
  }

  /// Whether both buffers are in use at some step. A step's inputs and output are all live at that step.
  public func overlaps(_ other: Lifetime) -> Bool { first <= other.last && other.first <= last }

  /// Whether the buffer is in use at step `index`.
  public func contains(_ index: Int) -> Bool { first <= index && index <= last }

  public var description: String { "[\(first), \(last)]" }
}

/// Computes the lifetimes of a program's arena buffers from its linear schedule.
public enum Liveness {
  /// The lifetime of every arena buffer some step writes or reads. Input and output buffers belong to the
  /// caller and are not planned, so they have none.
  public static func lifetimes(of program: Program) -> [BufferID: Lifetime] {
    var result: [BufferID: Lifetime] = [:]
    for step in program.steps {
      for id in step.inputs + [step.output] where program[id].storage == .arena {
        if let span = result[id] {
          result[id] = Lifetime(first: min(span.first, step.index), last: max(span.last, step.index))
        } else {
          result[id] = Lifetime(first: step.index, last: step.index)
        }
      }
    }
    return result
  }
}
