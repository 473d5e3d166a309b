// Labeled image datasets stored as a pair of IDX files, and Fashion-MNIST as Debian installs it.

import KilnIR

/// Images with one class label each.
public struct LabeledImages: Hashable, Sendable {
  /// f32 [N, 1, rows, cols], pixel values scaled from 0…255 to [0, 1].
  public var images: Tensor
  /// i64 [N], each in 0..<classNames.count.
  public var labels: IntTensor
  /// The name of each class, indexed by label.
  public var classNames: [String]

  /// The number of samples N.
  public var count: Int { labels.data.count }
}

/// A dataset made of an IDX image file (magic 0x00000803) and an IDX label file (magic 0x00000801), as MNIST is.
public enum IDXDataset {
  /// Loads the first `limit` samples (all when nil) of `images` and `labels`, raw or gzip'd.
  ///
  /// Checks that the files hold images and labels, that their counts match, and that every label names a class.
  public static func load(
    images imagesPath: String, labels labelsPath: String, classNames: [String], limit: Int? = nil
  ) throws -> LabeledImages {
    if let limit, limit < 0 { throw DataError(path: imagesPath, "limit \(limit) is negative") }
    let images = try IDX.read(from: imagesPath)
    guard images.shape.count == 3 else {
      throw DataError(
        path: imagesPath,
        "expected images (magic 0x00000803, shape [N, rows, cols]), "
          + "found magic \(IDX.hex(images.magic)) with shape \(shapeText(images.shape))")
    }
    let labels = try IDX.read(from: labelsPath)
    guard labels.shape.count == 1 else {
      throw DataError(
        path: labelsPath,
        "expected labels (magic 0x00000801, shape [N]), "
          + "found magic \(IDX.hex(labels.magic)) with shape \(shapeText(labels.shape))")
    }
    guard images.shape[0] == labels.shape[0] else {
      throw DataError(
        path: labelsPath, "holds \(labels.shape[0]) labels, but \(imagesPath) holds \(images.shape[0]) images")
    }
    let n = min(images.shape[0], limit ?? images.shape[0])
    let (rows, cols) = (images.shape[1], images.shape[2])

    var labelData = [Int64](repeating: 0, count: n)
    for i in 0..<n {
      let label = Int(labels.bytes[i])
      guard label < classNames.count else {
        throw DataError(
          path: labelsPath, "label \(label) of sample \(i) is not a class: expected 0..<\(classNames.count)")
      }
      labelData[i] = Int64(label)
    }
    let pixels = n * rows * cols
    var imageData = [Float](repeating: 0, count: pixels)
    images.bytes.withUnsafeBufferPointer { source in
      imageData.withUnsafeMutableBufferPointer { target in
        for i in 0..<pixels { target[i] = Float(source[i]) / 255 }
      }
    }
    return LabeledImages(
      images: Tensor(shape: [n, 1, rows, cols], data: imageData), labels: IntTensor(shape: [n], data: labelData),
      classNames: classNames)
  }
}

/// Fashion-MNIST (Zalando): 28×28 grayscale images of clothing in 10 classes; 60,000 training and 10,000 test samples.
public enum FashionMNIST {
  /// Where Debian's `dataset-fashion-mnist` package installs the files.
  public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

  /// The class of each label, 0 through 9.
  public static let classNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
  ]

  /// The two parts of the dataset.
  public enum Split: String, Hashable, Sendable, CaseIterable {
    /// 60,000 samples, files `train-*`.
    case train
    /// 10,000 samples, files `t10k-*`.
    case test

    /// The prefix of the split's file names.
    public var filePrefix: String { self == .train ? "train" : "t10k" }
  }

  /// The image and label files of `split` in `directory`: the `.gz` files, or uncompressed ones when only those exist.
  public static func files(_ split: Split, directory: String = defaultDirectory) -> (images: String, labels: String) {
    func locate(_ stem: String) -> String {
      let base = directory.hasSuffix("/") ? directory + stem : directory + "/" + stem
      return !FileBytes.exists(base + ".gz") && FileBytes.exists(base) ? base : base + ".gz"
    }
    return (locate("\(split.filePrefix)-images-idx3-ubyte"), locate("\(split.filePrefix)-labels-idx1-ubyte"))
  }

  /// Loads the first `limit` samples (all when nil) of `split` from `directory`.
  ///
  /// When the files are missing the error says how to install them.
  public static func load(_ split: Split, directory: String = defaultDirectory, limit: Int? = nil) throws
    -> LabeledImages
  {
    let paths = files(split, directory: directory)
    for path in [paths.images, paths.labels] where !FileBytes.exists(path) {
      throw DataError(
        path: path,
        "Fashion-MNIST is not installed here: the file does not exist; install the Debian package "
          + "dataset-fashion-mnist (e.g. run `bash scripts/setup`), or pass the directory that holds the files")
    }
    return try IDXDataset.load(images: paths.images, labels: paths.labels, classNames: classNames, limit: limit)
  }
}
