// The "tiled" convolution: padded planes (split into stride phases), register tiles of filters × output-row
// vectors, channel blocks, packed weights.
import KilnIR

/// How `conv2d_tiled` covers one convolution of any stride, or the input gradient of a stride-1 one (a
/// `Conv2DFlatShape`): which register tile, which channel blocks. Output rows are cut into vectors of 8 (`rowVectors` per row; when OW is not a multiple
/// of 8 the last one starts at OW − 8 and overlaps its neighbour). A tile is `tileRows` rows × `tileVectors`
/// of those vectors for `filterBlock` filters (`tail` filters in the last block when F is not a multiple):
/// every load of the tile is a fixed offset from one pointer, which lets the compiler keep the whole tile in
/// registers. Taps are added channel by channel, `channelBlock` channels at a time (partial sums kept in y
/// between blocks) so a block's packed weights stay in L2 while every tile of the image reads them.
struct Conv2DTiling: Hashable, Sendable {
  var shape: Conv2DFlatShape
  var rowVectors: Int
  var tileRows: Int, tileVectors: Int
  var filterBlock: Int, tail: Int
  var channelBlock: Int

  /// The tiling of `s`, or nil when the tiled loops do not apply: output rows narrower than 8, a 1-row
  /// output, fewer than 8 filters per group, a depthwise conv (the direct loops keep those), or less than 75%
  /// of the computed multiply-adds useful (outputs recomputed by overlapping vectors: 10-wide rows need two;
  /// for an input gradient, taps that read dy's zero border). LeNet-5's convs fall on the flat loops' side
  /// of those lines: tiled, c1 (6 filters) ran 29.8 GFLOP/s and c2 (10 wide) 37 at batch 64 (`kiln profile`,
  /// 1 thread), against the flat loops' 34.7 and 42.9 measured the session before.
  /// A 1×1 kernel with no padding also stays with OpenBLAS (`isPlainGEMM`).
  init?(_ s: Conv2DFlatShape) {
    guard s.outW >= 8, s.outH >= 2, s.outChannels >= 8, !(s.groups > 1 && s.inChannels == 1), !s.isPlainGEMM
    else { return nil }
    shape = s
    rowVectors = (s.outW + 7) / 8
    let computed = s.groups * s.outChannels * s.outH * rowVectors * 8 * s.depth
    guard 4 * s.usefulMACs >= 3 * computed else { return nil }
    // Two vectors of one row when a row splits into pairs, three when into triples, otherwise one vector
    // of two consecutive rows: 8 or 12 accumulators (a standalone prototype of these loops on Zen 3, batch 64,
    // 1 thread: 4 × 2 vectors ran 80–91 GFLOP/s from 8×8 to 16×16 outputs; 6 × 2 ran best on 32-wide rows,
    // 74–84 against 66–80; inside whole networks the same shapes ran 45–65, but those builds had no FMA: the
    // prototype was built in GNU C mode, Kiln under -std=c11 without -ffp-contract=fast).
    if rowVectors % 2 == 0 {
      (tileRows, tileVectors) = (1, 2)
    } else if rowVectors % 3 == 0 {
      (tileRows, tileVectors) = (1, 3)
    } else {
      (tileRows, tileVectors) = (2, 1)
    }
    let vectors = tileRows * tileVectors
    filterBlock = min(s.outChannels, vectors == 2 && s.outW >= 32 ? 6 : 4)
    tail = s.outChannels % filterBlock
    // Blocks of at most 32 channels (in the prototype, 32 beat 64 and all channels by 2–10% on 64–256
    // channels; smaller blocks were not measured), a divisor of
    // the group's channels; one block when tiles overlap (a tile would otherwise re-add a neighbour's
    // partial sums) or no divisor of at least 8 exists.
    let overlapping =
      s.outH % tileRows != 0 || (tileVectors < rowVectors && s.outW % (8 * tileVectors) != 0)
    let divisors = (8...32).filter { s.inChannels % $0 == 0 }
    channelBlock = s.inChannels <= 32 || overlapping || divisors.isEmpty ? s.inChannels : divisors.last!
  }

  var channelBlocks: Int { shape.inChannels / channelBlock }
  /// A padded plane's columns split into strideW phases (phase k holds padded columns k, k + sW, …), each
  /// `phaseRows` rows of `phaseW`: output column ow of tap q reads phase (q·dW) mod sW at column
  /// ow + ⌊q·dW / sW⌋, so 8 neighbouring outputs read 8 contiguous floats at any stride. At stride 1 there is
  /// one phase, the padded plane itself.
  var phaseW: Int { shape.outW + (shape.kernelW - 1) * shape.dilationW / shape.strideW }
  var phaseRows: Int { (shape.outH - 1) * shape.strideH + (shape.kernelH - 1) * shape.dilationH + 1 }
  var phaseFloats: Int { phaseRows * phaseW }
  /// Floats of one padded plane (all its phases): every tap of every output is inside it.
  var planeFloats: Int { shape.strideW * phaseFloats }
  /// Where tap (p, q) reads, from the input of output (0, 0).
  func tapOffset(p: Int, q: Int) -> Int {
    let column = q * shape.dilationW
    return column % shape.strideW * phaseFloats + p * shape.dilationH * phaseW + column / shape.strideW
  }
  /// The phases some tap reads: (q·dW) mod sW for each q.
  var phasesRead: [Int] {
    Set((0..<shape.kernelW).map { $0 * shape.dilationW % shape.strideW }).sorted()
  }
  /// The first padded row in [lo, hi) that some output reads and the step between such rows, when those rows
  /// are evenly spaced (oh·sH + p·dH: every row at stride 1; every sH-th for a 1×1 kernel); (lo, 1) otherwise,
  /// copying every row. An empty range gives (hi, 1).
  func rowsRead(from lo: Int, to hi: Int) -> (start: Int, step: Int) {
    let read = Set((0..<shape.outH).flatMap { oh in
      (0..<shape.kernelH).map { p in oh * shape.strideH + p * shape.dilationH }
    }).filter { $0 >= lo && $0 < hi }.sorted()
    guard let first = read.first else { return (hi, 1) }
    guard read.count > 1 else { return (first, 1) }
    let step = read[1] - read[0]
    let even = zip(read, read.dropFirst()).allSatisfy { $1 - $0 == step }
    return even ? (first, step) : (lo, 1)
  }
  /// Where vector v of a row starts.
  func vectorStart(_ v: Int) -> Int { min(8 * v, shape.outW - 8) }
  /// Output columns a tile covers, when several tiles share a row (0 when a tile is whole rows).
  var tileWidth: Int { tileVectors < rowVectors ? 8 * tileVectors : 0 }
  var tilesPerRow: Int { tileVectors < rowVectors ? (rowVectors + tileVectors - 1) / tileVectors : 1 }
  var tileRowCount: Int { (shape.outH + tileRows - 1) / tileRows }
}

/// One phase of a padded plane's row, copied from an input row: phase columns [first, end) take input
/// columns j·sW + k − padLeft (`source`), written at `destination` + j.
public struct Conv2DCopyPhaseContext: Hashable, Sendable {
  public var first: Int, end: Int
  /// "k·phaseFloats + " (empty for phase 0).
  public var destination: String
  /// The input index expression in j, e.g. "j * 2 + 1" or "j - 2".
  public var source: String

  /// Phase k's run, or nil when no input column lands in it.
  init?(phase k: Int, strideW: Int, padLeft: Int, copyW: Int, phaseW: Int, phaseFloats: Int) {
    // Padded column pc = j·sW + k holds input column pc − padLeft when 0 ≤ pc − padLeft < copyW.
    func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
    first = max(0, ceilDiv(padLeft - k, strideW))
    end = min(phaseW, ceilDiv(padLeft + copyW - k, strideW))
    guard first < end else { return nil }
    destination = k == 0 ? "" : "\(k * phaseFloats) + "
    let scaled = strideW == 1 ? "j" : "j * \(strideW)"
    let offset = k - padLeft
    source = offset == 0 ? scaled : offset > 0 ? "\(scaled) + \(offset)" : "\(scaled) - \(-offset)"
  }
}

/// One register tile of `conv2d_tiled`: `filters` × (`loads` per tap) vectors.
public struct Conv2DTileContext: Hashable, Sendable {
  /// Filters in the tile (the block size, or the tail).
  public var filters: Int
  /// filters·kh·kw: packed weights per channel.
  public var weightStep: Int
  public var accumulators: [Conv2DTileAccumulatorContext]
  public var taps: [Conv2DTileTapContext]
}

/// Accumulator a{j}_{u}: filter j of the tile, vector u; `outOffset` floats from the tile's first output.
public struct Conv2DTileAccumulatorContext: Hashable, Sendable {
  public var j: Int, u: Int, outOffset: Int
}

/// One tap (p, q) of a channel: its vector loads and, per filter, the weight and the products.
public struct Conv2DTileTapContext: Hashable, Sendable {
  public var loads: [Conv2DTileLoadContext]
  public var weights: [Conv2DTileWeightContext]
}

/// x{u} = the input vector `offset` floats from the tile's first input.
public struct Conv2DTileLoadContext: Hashable, Sendable {
  public var u: Int, offset: Int
}

/// Filter j's weight for the tap, `index` floats into the channel's packed weights, times every loaded vector.
public struct Conv2DTileWeightContext: Hashable, Sendable {
  public var index: Int
  public var products: [Conv2DTileAccumulatorContext]
}

/// Context of `conv2d_tiled.c.mustache`: a stride-1 conv (or, `transposed`, the input gradient of one) by
/// padded planes and register tiles of filters × output-row vectors, unrolled over the taps.
public struct Conv2DTiledContext: KernelContext {
  public static let template = "conv2d_tiled"
  public var name: String
  public var comment: String
  public var transposed: Bool
  public var groups: Int, inChannels: Int, inH: Int, inW: Int
  public var outChannels: Int, outH: Int, outW: Int
  public var inputChannels: Int, outputChannels: Int
  public var kernelH: Int, kernelW: Int, dilationH: Int, dilationW: Int
  public var padTop: Int, padLeft: Int
  public var outPlane: Int
  public var strideH: Int, strideW: Int
  /// The padded planes' phases (one at stride 1) are `phaseW` wide; input row r of a tile starts `rowStride`
  /// = strideH·phaseW floats after row r − 1.
  public var phaseW: Int, rowStride: Int
  /// Padded rows [padTop, rowHi) hold input rows r − padTop; of those, rows copyRowStart, + copyRowStep, …
  /// are the ones some tap reads (every row unless a 1×1 or dilated kernel skips some at stride > 1).
  public var rowHi: Int
  public var copyRowStart: Int, copyRowStep: Int
  /// The phases some tap reads, each a contiguous run of columns: the others stay zero and are never read.
  public var copyPhases: [Conv2DCopyPhaseContext]
  /// For the comment: e.g. "rows 0, 2, …, phase(s) 0 of 2".
  public var copySummary: String
  public var planeFloats: Int
  /// Whether each image is copied into padded planes in scratch; not when the input planes already are
  /// those (no padding, and every input row and column is read: a "valid" conv).
  public var copiesInput: Bool
  /// inChannels·planeFloats: one slot's padded planes (0 without the copy).
  public var slotFloats: Int
  /// Floats of packed weights at the head of scratch: groups × channel blocks × filters × channelBlock·kh·kw.
  public var packFloats: Int
  public var channelBlock: Int, channelBlocks: Int
  /// channelBlock·kh·kw: one filter's packed weights in one channel block.
  public var blockDepth: Int
  /// outChannels·blockDepth: one channel block's packed weights.
  public var blockWeights: Int
  public var filterBlock: Int, fullBlocks: Int
  /// The tail tile's first filter (outChannels − tail), when the filters do not split into whole blocks.
  public var tailStart: Int
  public var hasTail: Bool
  public var tail: Int
  public var tileRows: Int, tileRowCount: Int, lastTileRow: Int
  public var tileWidth: Int, tilesPerRow: Int, lastTileColumn: Int
  public var vectorsPerTile: Int
  public var tiles: [Conv2DTileContext]
  public var inputFloats: Int, groupInputFloats: Int, outputFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  /// Whether a pass adds the bias or applies an epilogue after the sums.
  public var finishing: Bool
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = Conv2DTiledContext(
    tiling: Conv2DTiling(Conv2DFlatShape(forward: sampleGeometry)!)!, name: "k1_conv_c1",
    comment: "conv c1", transposed: false, slots: 2, bias: true,
    epilogue: FusedEpilogue(activation: .relu, epilogue: [.add, .activation(.tanh)]))

  /// 10 filters (two blocks of 4 and a tail of 2) over 3 channels, 12 wide: one tile of two row vectors.
  static let sampleGeometry = Conv2DGeometry(
    conv: Conv2D(filters: 10, kernel: Pair(3), padding: .explicit(Pads(1))), input: TensorType(.f32, [3, 8, 12]))!

  init(tiling t: Conv2DTiling, name: String, comment: String, transposed: Bool, slots: Int, bias: Bool,
    epilogue: FusedEpilogue)
  {
    let s = t.shape
    self.name = name
    self.comment = comment
    self.transposed = transposed
    (groups, inChannels, inH, inW) = (s.groups, s.inChannels, s.inH, s.inW)
    (outChannels, outH, outW) = (s.outChannels, s.outH, s.outW)
    (inputChannels, outputChannels) = (s.groups * s.inChannels, s.groups * s.outChannels)
    (kernelH, kernelW, dilationH, dilationW) = (s.kernelH, s.kernelW, s.dilationH, s.dilationW)
    (padTop, padLeft) = (s.padTop, s.padLeft)
    outPlane = s.outPlane
    (strideH, strideW) = (s.strideH, s.strideW)
    (phaseW, rowStride) = (t.phaseW, s.strideH * t.phaseW)
    rowHi = max(s.padTop, min(t.phaseRows, s.inH + s.padTop))
    (copyRowStart, copyRowStep) = t.rowsRead(from: s.padTop, to: rowHi)
    let copyW = max(0, min(s.inW, t.phaseW * s.strideW - s.padLeft))
    copyPhases = t.phasesRead.compactMap { k in
      Conv2DCopyPhaseContext(phase: k, strideW: s.strideW, padLeft: s.padLeft, copyW: copyW, phaseW: t.phaseW,
        phaseFloats: t.phaseFloats)
    }
    let rows = copyRowStep == 1 ? "every row" : "rows \(copyRowStart), \(copyRowStart + copyRowStep), …"
    let phases = s.strideW == 1 ? "the one phase" : t.phasesRead.count == s.strideW ? "all \(s.strideW) phases"
      : "phase(s) \(t.phasesRead.map(String.init).joined(separator: ", ")) of \(s.strideW)"
    copySummary = "\(rows), \(phases)"
    planeFloats = t.planeFloats
    copiesInput = !(s.strideH == 1 && s.strideW == 1 && s.padTop == 0 && s.padLeft == 0 && s.padW == s.inW
      && s.padH == s.inH)
    slotFloats = copiesInput ? s.inChannels * t.planeFloats : 0
    packFloats = s.groups * s.outChannels * s.depth
    (channelBlock, channelBlocks) = (t.channelBlock, t.channelBlocks)
    blockDepth = t.channelBlock * s.kernelH * s.kernelW
    blockWeights = s.outChannels * blockDepth
    filterBlock = t.filterBlock
    fullBlocks = s.outChannels / t.filterBlock
    tail = t.tail
    hasTail = t.tail > 0
    tailStart = s.outChannels - t.tail
    (tileRows, tileRowCount, lastTileRow) = (t.tileRows, t.tileRowCount, s.outH - t.tileRows)
    (tileWidth, tilesPerRow, lastTileColumn) = (t.tileWidth, t.tilesPerRow, s.outW - t.tileWidth)
    vectorsPerTile = t.tileRows * t.tileVectors
    tiles = ([t.filterBlock] + (t.tail > 0 ? [t.tail] : [])).map { Self.tile(t, filters: $0) }
    inputFloats = s.groups * s.inChannels * s.inH * s.inW
    groupInputFloats = s.inChannels * s.inH * s.inW
    outputFloats = s.groups * s.outChannels * s.outPlane
    self.slots = slots
    macsPerSample = s.groups * s.outChannels * s.outPlane * s.depth
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    finishing = bias || !epilogue.steps.isEmpty
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }

  /// The unrolled body of a tile of `filters` filters: vector u is row u / tileVectors, vector u % tileVectors
  /// of the tile (when a tile is whole rows, the row's own vector starts, the last one overlapping).
  static func tile(_ t: Conv2DTiling, filters: Int) -> Conv2DTileContext {
    let s = t.shape
    let vectors = (0..<(t.tileRows * t.tileVectors)).map { u -> (input: Int, output: Int) in
      let (row, v) = (u / t.tileVectors, u % t.tileVectors)
      let column = t.tileWidth > 0 ? 8 * v : t.vectorStart(v)
      return (row * s.strideH * t.phaseW + column, row * s.outW + column)
    }
    let accumulators = (0..<filters).flatMap { j in
      vectors.indices.map { u in Conv2DTileAccumulatorContext(j: j, u: u, outOffset: j * s.outPlane + vectors[u].output) }
    }
    var taps: [Conv2DTileTapContext] = []
    for p in 0..<s.kernelH {
      for q in 0..<s.kernelW {
        let tapOffset = t.tapOffset(p: p, q: q)
        let loads = vectors.indices.map { Conv2DTileLoadContext(u: $0, offset: tapOffset + vectors[$0].input) }
        let weights = (0..<filters).map { j in
          Conv2DTileWeightContext(
            index: (p * s.kernelW + q) * filters + j,
            products: vectors.indices.map { Conv2DTileAccumulatorContext(j: j, u: $0, outOffset: 0) })
        }
        taps.append(Conv2DTileTapContext(loads: loads, weights: weights))
      }
    }
    return Conv2DTileContext(
      filters: filters, weightStep: filters * s.kernelH * s.kernelW, accumulators: accumulators, taps: taps)
  }

  /// Floats of scratch the kernel needs: the packed weights, then one slot of padded planes per slot.
  var scratchFloats: Int { packFloats + slots * slotFloats }
}
