// `kiln profile --trace` and `--svg`: the representative runs as a Chrome trace, and the groups as a bar chart.
import Foundation
import KilnData

extension ProfileReport {
  /// The representative run of each variant (the one with the median whole-call time) in Chrome's trace event
  /// format, which Perfetto and chrome://tracing open: one process per variant (unfused pid 1, fused pid 2), one
  /// complete ("X") event per step at its measured start and duration in µs, with the step's layer, op, kernel
  /// template, group and median/min/max times in `args`. Keys are sorted, so the same report gives the same bytes.
  public func chromeTrace() throws -> Data {
    var events: [TraceEvent] = []
    for (pid, variant) in [(1, unfused), (2, fused)] {
      events.append(.metadata("process_name", pid: pid, value: "\(network) \(variant.name)"))
      events.append(.metadata("process_sort_index", pid: pid, value: pid))
      events.append(
        .metadata("thread_name", pid: pid, value: "forward (run \(variant.representativeRun + 1) of \(reps))"))
      let groupOf = stepGroups(fused: variant.name == fused.name)
      for (i, step) in variant.steps.enumerated() {
        var args: [String: TraceValue] = [
          "layer": .text(step.layer), "op": .text(step.op), "kernel template": .text(step.template),
          "group": .text(groupOf[i] ?? step.layer), "median µs": .number(microseconds(step.time.median)),
          "min µs": .number(microseconds(step.time.min)), "max µs": .number(microseconds(step.time.max)),
        ]
        if let rate = step.gflops { args["GFLOP/s"] = .number((rate * 100).rounded() / 100) }
        events.append(
          TraceEvent(
            name: step.kernel, ph: "X", ts: microseconds(step.representativeStart),
            dur: microseconds(step.representativeDuration), pid: pid, tid: 1, args: args))
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let document = TraceDocument(
      traceEvents: events, displayTimeUnit: "ns",
      otherData: [
        "network": .text(network), "batch": .number(Double(batch)), "reps": .number(Double(reps)),
        "warmup": .number(Double(warmup)), "compiler": .text(compiler),
      ])
    return try encoder.encode(document)
  }

  /// Writes `chromeTrace()` to `path` atomically.
  public func writeTrace(to path: String) throws {
    try AtomicFile.write(try chromeTrace(), to: path)
  }

  /// One row per group (the fused kernel and the unfused layers it replaced), unfused against fused median µs.
  public func barChart() -> BarChart {
    BarChart(
      title: "\(network), batch \(batch): median µs per layer group, unfused vs fused",
      categories: groups.map(\.name),
      series: [
        BarChart.Series("unfused", groups.map { $0.unfusedSteps.isEmpty ? .nan : unfusedSeconds($0) * 1e6 }),
        BarChart.Series("fused", groups.map { $0.fusedSteps.isEmpty ? .nan : fusedSeconds($0) * 1e6 }),
      ], unit: "µs")
  }

  /// The group name of each step of one variant.
  func stepGroups(fused isFused: Bool) -> [Int: String] {
    var result: [Int: String] = [:]
    for g in groups {
      for i in isFused ? g.fusedSteps : g.unfusedSteps { result[i] = g.name }
    }
    return result
  }
}

/// Seconds as microseconds, rounded to the nanosecond.
private func microseconds(_ seconds: Double) -> Double { (seconds * 1e9).rounded() / 1e3 }

/// The top level of a trace file.
struct TraceDocument: Encodable {
  var traceEvents: [TraceEvent]
  var displayTimeUnit: String
  var otherData: [String: TraceValue]
}

/// One trace event: a complete slice ("X") or a metadata record ("M").
struct TraceEvent: Encodable {
  var name: String
  var ph: String
  var ts: Double?
  var dur: Double?
  var pid: Int
  var tid: Int
  var args: [String: TraceValue]

  /// A metadata event naming or ordering a process or thread.
  static func metadata(_ name: String, pid: Int, value: String) -> TraceEvent {
    TraceEvent(name: name, ph: "M", ts: nil, dur: nil, pid: pid, tid: 1, args: ["name": .text(value)])
  }

  static func metadata(_ name: String, pid: Int, value: Int) -> TraceEvent {
    TraceEvent(name: name, ph: "M", ts: nil, dur: nil, pid: pid, tid: 1, args: ["sort_index": .number(Double(value))])
  }
}

/// A string or number argument of an event.
enum TraceValue: Encodable {
  case text(String)
  case number(Double)

  func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .text(let s): try container.encode(s)
    case .number(let x): try container.encode(x)
    }
  }
}
