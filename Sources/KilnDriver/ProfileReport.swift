// What `kiln profile` measures: per-step timings of the fused and unfused variants, grouped by fusion.
import Foundation

/// Median, fastest and slowest of repeated timings, in seconds.
public struct TimingSummary: Codable, Hashable, Sendable {
  public var median: Double
  public var min: Double
  public var max: Double

  /// The summary of `seconds` (all zero when there are none). An even count takes the mean of the middle two.
  public init(_ seconds: [Double]) {
    let s = seconds.sorted()
    median = s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    min = s.first ?? 0
    max = s.last ?? 0
  }
}

/// One kernel call of a variant: what it computes, with which kernel, and how long it took.
public struct StepProfile: Codable, Hashable, Sendable {
  /// The C function (`k3_conv_c1`).
  public var kernel: String
  /// The graph node it computes (`c1`).
  public var layer: String
  /// The op as the kernel computes it, with what it absorbed: `conv`, `conv+bn+add+relu`, `relu`.
  public var op: String
  /// The kernel template that produced it (`conv2d_gemm`, `conv2d_direct`, `dense_blas`, `activation`, …).
  public var template: String
  /// Multiply-accumulates of the whole batch (conv and dense; 0 for the rest).
  public var macs: Int
  /// The step's time over the timed runs.
  public var time: TimingSummary
  /// In the representative run (the one with the median whole-call time): when the step started, seconds after
  /// the first step started, and how long it took.
  public var representativeStart: Double
  public var representativeDuration: Double

  /// 2·MACs per median time, in GFLOP/s; nil for a step without multiply-accumulates.
  public var gflops: Double? { gflopsRate(macs: macs, seconds: time.median) }
}

/// One variant of the network (fused or unfused) as it ran.
public struct VariantProfile: Codable, Hashable, Sendable {
  /// `fused` or `unfused`.
  public var name: String
  /// The passes its pipeline ran, in order.
  public var passes: [String]
  /// Every kernel call, in execution order.
  public var steps: [StepProfile]
  /// The whole `<name>_infer_all` call (the steps plus the gaps between them).
  public var wall: TimingSummary
  /// Bytes of arena its memory plan needs (the header's ARENA_BYTES).
  public var arenaBytes: Int
  /// Which timed run is the representative one (median whole-call time), 0-based.
  public var representativeRun: Int

  /// The sum of the steps' median times, seconds: the total of the table's rows.
  public var kernelSeconds: Double { steps.map(\.time.median).reduce(0, +) }
}

/// The unfused layers one fused node replaced: the fused node's steps and the unfused steps of every node whose
/// name is the fused node's or one it absorbed (`Node.absorbed`).
public struct ProfileGroup: Codable, Hashable, Sendable {
  /// The fused graph's node (for unfused steps no fused node claims, the unfused node's name).
  public var name: String
  /// Indices into the fused variant's steps (empty when no fused node claims the unfused steps).
  public var fusedSteps: [Int]
  /// Indices into the unfused variant's steps.
  public var unfusedSteps: [Int]
}

/// Everything `kiln profile` prints, writes to a trace and draws.
public struct ProfileReport: Codable, Hashable, Sendable {
  public var network: String
  /// Samples per call.
  public var batch: Int
  /// OpenMP threads, or nil for OpenMP's default.
  public var threads: Int?
  /// Timed runs of each variant, and untimed warm-up runs before them.
  public var reps: Int
  public var warmup: Int
  /// The C compiler that built both variants.
  public var compiler: String
  public var unfused: VariantProfile
  public var fused: VariantProfile
  /// Every unfused step in exactly one group; groups in execution order.
  public var groups: [ProfileGroup]
  /// The largest |fused − unfused| over every output element, on the same input and weights.
  public var maxAbsoluteDifference: Double
  /// The largest absolute difference of an output over that output's largest |unfused| value (the
  /// difference relative to the output's scale, so values near zero do not inflate it).
  public var maxRelativeDifference: Double

  /// Median whole-call time of the unfused variant over the fused one's.
  public var speedup: Double { unfused.wall.median / fused.wall.median }
  /// The same ratio for the sums of the step medians.
  public var kernelSpeedup: Double { unfused.kernelSeconds / fused.kernelSeconds }

  /// The fused variant's median seconds for a group (the sum of its fused steps).
  public func fusedSeconds(_ g: ProfileGroup) -> Double {
    g.fusedSteps.map { fused.steps[$0].time.median }.reduce(0, +)
  }
  /// The unfused variant's median seconds for a group.
  public func unfusedSeconds(_ g: ProfileGroup) -> Double {
    g.unfusedSteps.map { unfused.steps[$0].time.median }.reduce(0, +)
  }
}

/// 2·MACs / seconds in GFLOP/s; nil without multiply-accumulates or without a measurable time.
func gflopsRate(macs: Int, seconds: Double) -> Double? {
  guard macs > 0, seconds > 0 else { return nil }
  return 2 * Double(macs) / seconds / 1e9
}
