// IDX files raw and gzip'd, their errors, the dataset loader, and the real Fashion-MNIST test set.

import KilnIR
import Testing

@testable import KilnData

@Suite struct IDXTests {
  /// Two 2×3 images and their labels.
  static let pixels: [UInt8] = [0, 51, 255, 102, 0, 0, 255, 255, 0, 1, 2, 3]
  static let images = idxBytes(shape: [2, 2, 3], data: pixels)
  static let labels = idxBytes(shape: [2], data: [9, 0])

  @Test func readsRawAndGzipFilesAlike() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    try writeFixture(Self.images, to: dir.file("raw"))
    try writeFixture(gzip(Self.images), to: dir.file("packed.gz"))
    // Two gzip members back to back decompress to their concatenation.
    let half = Self.images.count / 2
    try writeFixture(gzip(Array(Self.images[..<half])) + gzip(Array(Self.images[half...])), to: dir.file("members.gz"))
    for name in ["raw", "packed.gz", "members.gz"] {
      let a = try IDX.read(from: dir.file(name))
      #expect(a.shape == [2, 2, 3])
      #expect(a.bytes == Self.pixels)
      #expect(a.magic == 0x0000_0803)
    }
  }

  @Test func loadsDatasetScaledWithLimit() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    try writeFixture(gzip(Self.images), to: dir.file("t10k-images-idx3-ubyte.gz"))
    try writeFixture(Self.labels, to: dir.file("t10k-labels-idx1-ubyte"))  // uncompressed fallback
    let all = try FashionMNIST.load(.test, directory: dir.path)
    #expect(all.count == 2)
    #expect(all.images.shape == [2, 1, 2, 3])
    #expect(all.images.data == Self.pixels.map { Float($0) / 255 })
    #expect(all.labels == IntTensor(shape: [2], data: [9, 0]))
    #expect(all.classNames[9] == "Ankle boot")
    let first = try FashionMNIST.load(.test, directory: dir.path, limit: 1)
    #expect(first.images == Tensor(shape: [1, 1, 2, 3], data: [0, 0.2, 1, 0.4, 0, 0]))
    #expect(first.labels.data == [9])
    #expect(try FashionMNIST.load(.test, directory: dir.path, limit: 0).count == 0)
    #expect(try FashionMNIST.load(.test, directory: dir.path, limit: 50).count == 2)
  }

  struct Corruption: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let fragments: [String]
    var testDescription: String { id }
  }

  static let corruptions: [Corruption] = {
    let gz = gzip(images)
    var flipped = gz
    flipped[12] ^= 0xFF  // inside the deflate data
    return [
      Corruption(id: "empty", bytes: [], fragments: ["data.idx", "0 bytes, too short"]),
      Corruption(
        id: "wrong magic", bytes: Array("P5\n28 28\n".utf8),
        fragments: ["not an IDX file: magic number 0x50350A32", "expected 0x00000803 (images) or 0x00000801 (labels)"]),
      Corruption(
        id: "float type", bytes: idxBytes(shape: [1], data: [0, 0, 0, 0], typeCode: 0x0D),
        fragments: ["unsupported IDX element type code 0x0D (float32)", "0x00000D01"]),
      Corruption(
        id: "truncated header", bytes: [0, 0, 8, 3, 0, 0, 0, 2],
        fragments: ["truncated IDX header", "need 16 bytes, found 8"]),
      Corruption(
        id: "truncated data", bytes: Array(images.dropLast(5)),
        fragments: ["truncated IDX data: shape [2, 2, 3] needs 12 bytes, found 7"]),
      Corruption(
        id: "extra data", bytes: images + [0], fragments: ["1 bytes beyond the 12 that shape [2, 2, 3] needs"]),
      Corruption(id: "truncated gzip", bytes: Array(gz.dropLast(12)), fragments: ["corrupt gzip data", "ends early"]),
      Corruption(id: "corrupt gzip", bytes: flipped, fragments: ["corrupt gzip data"]),
      Corruption(id: "gzip garbage", bytes: gz + [1, 2, 3], fragments: ["3 bytes of trailing garbage"]),
    ]
  }()

  @Test(arguments: corruptions) func rejectsCorruptFile(_ c: Corruption) throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let path = dir.file("data.idx")
    try writeFixture(c.bytes, to: path)
    expectError(containing: [path] + c.fragments) { _ = try IDX.read(from: path) }
  }

  @Test func datasetChecksKindsCountsAndLabels() throws {
    let dir = try ScratchDirectory()
    defer { dir.remove() }
    let (img, lab) = (dir.file("img"), dir.file("lab"))
    try writeFixture(Self.images, to: img)
    try writeFixture(idxBytes(shape: [3], data: [0, 1, 2]), to: lab)
    expectError(containing: ["holds 3 labels, but", "holds 2 images"]) {
      _ = try IDXDataset.load(images: img, labels: lab, classNames: FashionMNIST.classNames)
    }
    expectError(containing: [lab, "expected images (magic 0x00000803", "found magic 0x00000801 with shape [3]"]) {
      _ = try IDXDataset.load(images: lab, labels: lab, classNames: FashionMNIST.classNames)
    }
    expectError(containing: ["expected labels (magic 0x00000801", "found magic 0x00000803"]) {
      _ = try IDXDataset.load(images: img, labels: img, classNames: FashionMNIST.classNames)
    }
    try writeFixture(idxBytes(shape: [2], data: [1, 10]), to: lab)
    expectError(containing: ["label 10 of sample 1 is not a class: expected 0..<10"]) {
      _ = try IDXDataset.load(images: img, labels: lab, classNames: FashionMNIST.classNames)
    }
    expectError(containing: ["limit -1 is negative"]) {
      _ = try IDXDataset.load(images: img, labels: lab, classNames: FashionMNIST.classNames, limit: -1)
    }
  }

  @Test func missingDatasetSaysHowToInstallIt() {
    expectError(containing: [
      "/nonexistent/fmnist/train-images-idx3-ubyte.gz", "install the Debian package dataset-fashion-mnist",
      "bash scripts/setup",
    ]) { _ = try FashionMNIST.load(.train, directory: "/nonexistent/fmnist") }
  }

  /// The real test set from Debian's dataset-fashion-mnist; it fails (with the install hint) rather than skip.
  @Test func readsTheInstalledFashionMNISTTestSet() throws {
    let test = try FashionMNIST.load(.test)
    #expect(test.count == 10_000)
    #expect(test.images.shape == [10_000, 1, 28, 28])
    #expect(test.labels.shape == [10_000])
    var histogram = [Int](repeating: 0, count: 10)
    for label in test.labels.data { histogram[Int(label)] += 1 }
    #expect(histogram == [Int](repeating: 1000, count: 10))
    #expect(test.images.data.min() == 0)
    #expect(test.images.data.max() == 1)
    let mean = test.images.data.reduce(0, +) / Float(test.images.count)
    #expect(mean > 0.2 && mean < 0.4)  // Fashion-MNIST's pixel mean is about 0.286.
    // Sample 0 of the test set is an ankle boot, sample 1 a pullover.
    #expect(Array(test.labels.data.prefix(2)) == [9, 2])
  }
}
