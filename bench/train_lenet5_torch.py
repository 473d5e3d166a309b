# PyTorch eager baseline for bench/train-lenet5: LeNet-5 (as examples/lenet5.kiln) on Fashion-MNIST.
"""Train LeNet-5 with PyTorch eager for the Kiln training benchmark.

Same network as examples/lenet5.kiln (conv 6@5x5 pad 2 + relu, maxpool 2, conv 16@5x5 + relu, maxpool 2,
fc 120 relu, fc 84 relu, fc 10), PyTorch's default initialization, softmax cross-entropy, SGD lr 0.01
momentum 0.9, batch 64, 2 epochs. Data: the Debian package's IDX .gz files, pixels / 255, no other
normalization. Like `kiln train` with the spec's `validation: 0.1`, a seeded random 10% of the 60,000
training images is held out (not used; Kiln's split is not reproduced sample for sample), so each epoch
trains on the same 54,000 samples, reshuffled every epoch; the last batch may be short.
Only the training loop is timed (no data loading, no evaluation). After each epoch the test accuracy on
all 10,000 test images is printed as one machine-readable line:
  epoch E threads T samples_per_s S test_acc A
Usage: python train_lenet5_torch.py THREADS [EPOCHS]
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
  """Returns the array stored in a gzipped IDX file (unsigned bytes)."""
  with gzip.open(path, "rb") as f:
    raw = f.read()
  ndim = raw[3]
  dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
  return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
  """Returns (images N×1×28×28 float32 in [0, 1], labels int64) of 'train' or 't10k'."""
  x = read_idx(f"{DATA}/{split}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
  y = read_idx(f"{DATA}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
  return torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y)


def lenet5():
  """LeNet-5 exactly as examples/lenet5.kiln declares it."""
  return nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10))


def accuracy(model, x, y):
  """Top-1 accuracy of model on (x, y), evaluated in batches of 1000."""
  model.eval()
  correct = 0
  with torch.no_grad():
    for i in range(0, len(x), 1000):
      correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
  model.train()
  return correct / len(x)


def main():
  threads = int(sys.argv[1])
  epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
  torch.set_num_threads(threads)
  torch.manual_seed(1)
  x, y = load("train")
  xt, yt = load("t10k")
  keep = torch.randperm(len(x))[len(x) // 10:]
  x, y = x[keep].contiguous(), y[keep].contiguous()
  model = lenet5()
  loss_fn = nn.CrossEntropyLoss()
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  for epoch in range(1, epochs + 1):
    order = torch.randperm(len(x))
    xs, ys = x[order], y[order]
    start = time.perf_counter()
    for i in range(0, len(xs), 64):
      opt.zero_grad(set_to_none=True)
      loss = loss_fn(model(xs[i:i + 64]), ys[i:i + 64])
      loss.backward()
      opt.step()
    rate = len(xs) / (time.perf_counter() - start)
    print(f"epoch {epoch} threads {threads} samples_per_s {rate:.0f} test_acc {accuracy(model, xt, yt):.4f}",
          flush=True)


if __name__ == "__main__":
  main()
