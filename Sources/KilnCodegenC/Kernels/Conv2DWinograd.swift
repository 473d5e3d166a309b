// The Winograd convolution F(2×2, 3×3): 3×3 stride-1 convs (and the input gradients of stride-1 ones) by
// transformed weights, transformed 4×4 input windows and 16 small matrix products.
import KilnIR

/// How `conv2d_winograd` covers one 3×3, stride-1, undilated, ungrouped convolution (a `Conv2DFlatShape`, so
/// also the input gradient of one): the output is cut into 2×2 tiles, TH × TW of them, and tiles are taken 8
/// at a time as one vector. With TW ≥ 8 a vector is 8 tiles of one tile row (`rowVectors` per row, the last
/// starting at TW − 8 and overlapping its neighbour); with TW = 4 it is 4 tiles of one tile row and the 4
/// below (`rowPairs`). Blocks of `blockVectors` vectors go through the transforms and products together.
///
/// Chosen ahead of `conv2d_tiled` when it applies: per 2×2 outputs it multiplies 16 values per channel where
/// direct convolution multiplies 36 (2.25× fewer), and the transforms are additions. A standalone prototype on
/// this Zen 3 (batch 64, 1 thread, each time the minimum of 10–20 calls, against `conv2d_tiled` on the same
/// layers inside `kiln profile`): 128 → 128 channels on 16×16 took 32 ms (151 "direct-equivalent" GFLOP/s)
/// against 73; 256 → 256 on 8×8 139 against 74; 64 → 64 on 32×32 119 against 68; 64 → 64 on 8×8 104 against
/// 71–83; 32 → 32 on 16×16 86 against 61–81; 16 → 16 on 32×32 67–87 against 54–64 (the transforms weigh most
/// when channels are few). Below 16 channels in or out it is not chosen.
struct Conv2DWinograd: Hashable, Sendable {
  var shape: Conv2DFlatShape
  /// Tiles down and across.
  var tileRows: Int, tileColumns: Int
  /// Whether a vector holds 4 tiles of two tile rows (TW = 4) rather than 8 of one (TW ≥ 8).
  var rowPairs: Bool
  /// Vectors per tile row (TW ≥ 8), 1 with `rowPairs`.
  var rowVectors: Int
  /// Vectors of the whole output plane.
  var vectors: Int
  /// Vectors per block: 2 (16 tiles), 4 when the channels make the products long enough to pay for the larger
  /// transformed blocks (in the prototype, 4 against 2: 64 → 64 channels on 32×32 119 against 94 GFLOP/s;
  /// 32 → 32 on 16×16 74 against 86; 128 → 128 on 16×16 the same).
  var blockVectors: Int
  var filterBlock: Int, tail: Int

  init?(_ s: Conv2DFlatShape) {
    guard s.kernelH == 3, s.kernelW == 3, s.strideH == 1, s.strideW == 1, s.dilationH == 1, s.dilationW == 1,
      s.groups == 1, s.inChannels >= 16, s.outChannels >= 16, s.outH % 2 == 0, s.outW % 2 == 0
    else { return nil }
    shape = s
    (tileRows, tileColumns) = (s.outH / 2, s.outW / 2)
    if tileColumns >= 8 {
      rowPairs = false
      rowVectors = (tileColumns + 7) / 8
      vectors = tileRows * rowVectors
    } else if tileColumns == 4 && tileRows % 2 == 0 {
      rowPairs = true
      rowVectors = 1
      vectors = tileRows / 2
    } else {
      return nil
    }
    guard vectors >= 2 else { return nil }
    blockVectors = s.inChannels >= 64 && s.inChannels + s.outChannels <= 192 && vectors >= 4 ? 4 : 2
    filterBlock = 6
    tail = s.outChannels % 6
  }

  /// Padded rows and columns: every tile's 4×4 window (tile (r, c) reads padded rows 2r … 2r + 3, columns
  /// 2c … 2c + 3) is inside.
  var paddedRows: Int { 2 * tileRows + 2 }
  var paddedColumns: Int { 2 * tileColumns + 2 }
  /// Each padded plane's columns dealt to 2 phases (even columns, then odd) `phaseW` wide.
  var phaseW: Int { tileColumns + 1 }
  var phaseFloats: Int { paddedRows * phaseW }
  var planeFloats: Int { 2 * phaseFloats }
  var tileBlock: Int { 8 * blockVectors }
}

/// One window element d[i][j] of a vector of tiles: its load expression.
public struct Conv2DWinogradLoadContext: Hashable, Sendable {
  public var i: Int, j: Int
  public var load: String
}

/// The product tile for `filters` filters: accumulators a{j}_0, a{j}_1 stored `rowOffset` floats into m (the
/// kernel's name, channels and tile block come from the enclosing context).
public struct Conv2DWinogradGemmContext: Hashable, Sendable {
  public var filters: Int
  public var accumulators: [Conv2DWinogradAccumulatorContext]
}

public struct Conv2DWinogradAccumulatorContext: Hashable, Sendable {
  public var j: Int, rowOffset: Int
}

/// Context of `conv2d_winograd.c.mustache`.
public struct Conv2DWinogradContext: KernelContext {
  public static let template = "conv2d_winograd"
  public var name: String
  public var comment: String
  public var transposed: Bool
  public var inChannels: Int, inH: Int, inW: Int
  public var outChannels: Int, outH: Int, outW: Int, outPlane: Int
  public var padTop: Int, padLeft: Int
  public var paddedRows: Int, paddedColumns: Int, phaseW: Int, planeFloats: Int
  /// Padded rows [padTop, rowHi) hold input rows r − padTop.
  public var rowHi: Int
  public var copyPhases: [Conv2DCopyPhaseContext]
  public var rowPairs: Bool
  public var rowVectors: Int
  /// TW − 8: where the last vector of a tile row starts (tile columns).
  public var lastVectorColumn: Int
  public var blockVectors: Int, tileBlock: Int, blocks: Int, lastBlock: Int
  /// The next vector's first output, from a vector's: 8 further along the row, or two rows down (`rowPairs`).
  public var highStep: Int
  public var windowLoads: [Conv2DWinogradLoadContext]
  public var gemmTiles: [Conv2DWinogradGemmContext]
  public var filterBlock: Int, fullBlocks: Int, tail: Int, tailStart: Int, hasTail: Bool
  /// Whether a batch of one image is shared by the team (split by channels, then by parts of the filter
  /// blocks, with a barrier after each of the 2·blocks + 2 steps) rather than computed by one thread: when each
  /// step has at least 1 M multiply-adds. Measured at batch 1 on 2 threads (`kiln profile`, and the whole
  /// network through ctypes, medians of 300 calls alternating with the unshared build in one shell):
  /// VGG-style's layers (18–75 M multiply-adds, ≥ 2 M per step) took the network from 3.5–5.3 to 2.5–4.2 ms
  /// (4.5–4.7 to 3.6–3.7 ms with the final rule); ResNet-20's layers (2.4 M each: 70 k per step in the first stage, 600 k in the last)
  /// ran no faster shared than on one thread (64–85 against 76–79 µs in the last stage, within the noise), and
  /// the network was slower (1.27–1.53 against 1.14–1.20 ms): a parallel region and its barriers cost more than
  /// half of such a layer saves.
  public var shareSingleImage: Bool
  /// The parts the filter blocks are split into when the team shares an image (the slots, at most one block each).
  public var parts: Int
  /// F·C + 16: the transformed weights of one position ξ, and the padding after them.
  public var positionFloats: Int
  /// 16·F·C: all transformed weights, at the head of scratch.
  public var transformFloats: Int
  /// One slot's scratch: padded planes, V (16 × C × tileBlock) and M (16 × F × tileBlock).
  public var paddedFloats: Int, vFloats: Int, slotFloats: Int
  /// C·tileBlock + 16 and F·tileBlock + 16: one position's V and M, and the padding after them.
  public var vPositionFloats: Int, mPositionFloats: Int
  public var inputFloats: Int, outputFloats: Int
  public var slots: Int
  public var macsPerSample: Int
  public var parallelThreshold: Int
  public var bias: Bool
  public var finishing: Bool
  public var epilogue: [EpilogueStepContext]
  public var operands: [EpilogueOperandContext]
  public var epilogueSummary: String

  public static let sample = Conv2DWinogradContext(
    plan: Conv2DWinograd(Conv2DFlatShape(forward: sampleGeometry)!)!, name: "k1_conv_c1", comment: "conv c1",
    transposed: false, slots: 2, bias: true,
    epilogue: FusedEpilogue(activation: .relu, epilogue: [.add, .activation(.tanh)]))

  /// 20 filters (three blocks of 6 and a tail of 2) over 16 channels, 16×16: vectors of 8 tiles of a row.
  static let sampleGeometry = Conv2DGeometry(
    conv: Conv2D(filters: 20, kernel: Pair(3), padding: .explicit(Pads(1))), input: TensorType(.f32, [16, 16, 16]))!

  init(
    plan w: Conv2DWinograd, name: String, comment: String, transposed: Bool, slots: Int, bias: Bool,
    epilogue: FusedEpilogue
  ) {
    let s = w.shape
    self.name = name
    self.comment = comment
    self.transposed = transposed
    (inChannels, inH, inW) = (s.inChannels, s.inH, s.inW)
    (outChannels, outH, outW, outPlane) = (s.outChannels, s.outH, s.outW, s.outPlane)
    (padTop, padLeft) = (s.padTop, s.padLeft)
    (paddedRows, paddedColumns, phaseW, planeFloats) = (w.paddedRows, w.paddedColumns, w.phaseW, w.planeFloats)
    rowHi = max(s.padTop, min(w.paddedRows, s.inH + s.padTop))
    let copyW = max(0, min(s.inW, w.paddedColumns - s.padLeft))
    copyPhases = (0..<2).compactMap { k in
      Conv2DCopyPhaseContext(
        phase: k, strideW: 2, padLeft: s.padLeft, copyW: copyW, phaseW: w.phaseW, phaseFloats: w.phaseFloats)
    }
    rowPairs = w.rowPairs
    rowVectors = w.rowVectors
    lastVectorColumn = w.tileColumns - 8
    (blockVectors, tileBlock) = (w.blockVectors, w.tileBlock)
    blocks = (w.vectors + w.blockVectors - 1) / w.blockVectors
    lastBlock = w.vectors - w.blockVectors
    highStep = w.rowPairs ? 2 * s.outW : 8
    windowLoads = (0..<4).flatMap { i in
      (0..<4).map { j in
        let offset = (j & 1) * w.phaseFloats + i * w.phaseW + (j >> 1)
        let load = w.rowPairs
          ? "KILN_V8_JOIN(*(const kiln_v4 *)(in + \(offset)), *(const kiln_v4 *)(in + \(offset + 2 * w.phaseW)))"
          : "*(const kiln_v8 *)(in + \(offset))"
        return Conv2DWinogradLoadContext(i: i, j: j, load: load)
      }
    }
    (filterBlock, tail) = (w.filterBlock, w.tail)
    fullBlocks = s.outChannels / w.filterBlock
    tailStart = s.outChannels - w.tail
    hasTail = w.tail > 0
    parts = max(1, min(slots, fullBlocks + (w.tail > 0 ? 1 : 0)))
    shareSingleImage = slots > 1 && s.usefulMACs / (2 * blocks + 2) >= 1_000_000
    gemmTiles = ([w.filterBlock] + (w.tail > 0 ? [w.tail] : [])).map { filters in
      Conv2DWinogradGemmContext(
        filters: filters,
        accumulators: (0..<filters).map { Conv2DWinogradAccumulatorContext(j: $0, rowOffset: $0 * w.tileBlock) })
    }
    // Each position's block is padded by 16 floats (64 bytes): unpadded, the 16 positions of U, V or M lie a
    // multiple of 4 KiB apart whenever F·C, C·tileBlock or F·tileBlock is a multiple of 1,024, so the 16 stores
    // (or loads) of one tile's positions all fall in one L1 set and evict each other. ResNet-20's 64-channel
    // layers at batch 1 took 210 µs each that way, 2.3× as long as the tiled loops.
    positionFloats = s.outChannels * s.inChannels + 16
    transformFloats = 16 * positionFloats
    paddedFloats = s.inChannels * w.planeFloats
    vPositionFloats = s.inChannels * w.tileBlock + 16
    mPositionFloats = s.outChannels * w.tileBlock + 16
    vFloats = 16 * vPositionFloats
    slotFloats = paddedFloats + vFloats + 16 * mPositionFloats
    inputFloats = s.inChannels * s.inH * s.inW
    outputFloats = s.outChannels * s.outPlane
    self.slots = slots
    macsPerSample = s.usefulMACs
    parallelThreshold = denseParallelThreshold
    self.bias = bias
    finishing = bias || !epilogue.steps.isEmpty
    self.epilogue = epilogue.steps
    operands = epilogue.operands
    epilogueSummary = epilogue.summary
  }

  /// Floats of scratch the kernel needs: the transformed weights, then one slot per slot.
  var scratchFloats: Int { transformFloats + slots * slotFloats }
}
