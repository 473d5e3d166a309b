# PyTorch twins of the benchmarked examples/*.kiln networks, with state_dict keys equal to Kiln's tensor names.
"""PyTorch modules mirroring the Kiln example specs layer for layer, for bench/run.

Each class follows its spec in examples/ exactly: the same layers, kernel sizes, strides, paddings, floor
rounding (PyTorch's only mode), biases and activations, and attribute names equal to the spec's layer names,
so that `state_dict()` keys are the names `kiln compile --weights` and `<name>_load_weights` expect
(`conv1_1.weight`, `bn1_1.running_var`, `s2b1_proj_bn.bias`, ...) in PyTorch's layouts. BatchNorm's extra
`num_batches_tracked` counter is accepted by Kiln's loaders.

`build(name)` returns a model with weights from a fixed seed; BatchNorm affine parameters and running
statistics are set to non-trivial random values so that folding them (Kiln's fold-batchnorm, ORT's fusion)
is actually exercised. `NETWORKS` lists the benchmarked networks with their per-sample input shapes.
"""
import torch
from torch import nn
import torch.nn.functional as F

# name -> per-sample input shape (C, H, W) or (features,), as the spec's `input` line declares it.
NETWORKS = {
  "mlp_784_512_256_10": (784,),
  "lenet5": (1, 28, 28),
  "vgg_bn": (3, 32, 32),
  "resnet20": (3, 32, 32),
}


class MLP(nn.Module):
  """examples/mlp_784_512_256_10.kiln: dense 512 relu, dense 256 relu, dense 10."""

  def __init__(self):
    super().__init__()
    self.fc1 = nn.Linear(784, 512)
    self.fc2 = nn.Linear(512, 256)
    self.fc3 = nn.Linear(256, 10)

  def forward(self, x):
    return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
  """examples/lenet5.kiln: conv 6@5x5 pad 2 relu, maxpool 2, conv 16@5x5 relu, maxpool 2, fc 120-84-10."""

  def __init__(self):
    super().__init__()
    self.c1 = nn.Conv2d(1, 6, 5, padding=2)
    self.c2 = nn.Conv2d(6, 16, 5)
    self.fc1 = nn.Linear(16 * 5 * 5, 120)
    self.fc2 = nn.Linear(120, 84)
    self.fc3 = nn.Linear(84, 10)

  def forward(self, x):
    x = F.max_pool2d(F.relu(self.c1(x)), 2)
    x = F.max_pool2d(F.relu(self.c2(x)), 2)
    x = torch.flatten(x, 1)
    return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class VGGBN(nn.Module):
  """examples/vgg_bn.kiln: three stages of two (3x3 conv without bias, BN, relu) and a 2x2 max pool, with
  64, 128 and 256 channels; flatten, dropout 0.5, dense 256 relu, dense 10."""

  def __init__(self):
    super().__init__()
    inputs = 3
    for stage, width in enumerate((64, 128, 256), start=1):
      for layer in (1, 2):
        setattr(self, f"conv{stage}_{layer}", nn.Conv2d(inputs, width, 3, padding=1, bias=False))
        setattr(self, f"bn{stage}_{layer}", nn.BatchNorm2d(width))
        inputs = width
    self.dropout = nn.Dropout(0.5)
    self.fc1 = nn.Linear(256 * 4 * 4, 256)
    self.fc2 = nn.Linear(256, 10)

  def forward(self, x):
    for stage in (1, 2, 3):
      for layer in (1, 2):
        x = F.relu(getattr(self, f"bn{stage}_{layer}")(getattr(self, f"conv{stage}_{layer}")(x)))
      x = F.max_pool2d(x, 2)
    x = self.dropout(torch.flatten(x, 1))
    return self.fc2(F.relu(self.fc1(x)))


class ResNet20(nn.Module):
  """examples/resnet20.kiln: 3x3 stem (16), three stages of three basic blocks (16, 32, 64 channels); the
  stage-opening blocks of stages 2 and 3 downsample with stride 2 and a 1x1 stride-2 projection with BN;
  global average pool, dense 10. Layer names s<stage>b<block>_conv1/_bn1/_conv2/_bn2/_proj/_proj_bn."""

  def __init__(self):
    super().__init__()
    self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    self.stem_bn = nn.BatchNorm2d(16)
    inputs = 16
    for s, width in enumerate((16, 32, 64), start=1):
      for b in (1, 2, 3):
        stride = 2 if s > 1 and b == 1 else 1
        p = f"s{s}b{b}"
        setattr(self, f"{p}_conv1", nn.Conv2d(inputs, width, 3, stride=stride, padding=1, bias=False))
        setattr(self, f"{p}_bn1", nn.BatchNorm2d(width))
        setattr(self, f"{p}_conv2", nn.Conv2d(width, width, 3, padding=1, bias=False))
        setattr(self, f"{p}_bn2", nn.BatchNorm2d(width))
        if stride != 1:
          setattr(self, f"{p}_proj", nn.Conv2d(inputs, width, 1, stride=stride, bias=False))
          setattr(self, f"{p}_proj_bn", nn.BatchNorm2d(width))
        inputs = width
    self.fc = nn.Linear(64, 10)

  def forward(self, x):
    x = F.relu(self.stem_bn(self.stem(x)))
    for s in (1, 2, 3):
      for b in (1, 2, 3):
        p = f"s{s}b{b}"
        layer = lambda suffix: getattr(self, f"{p}_{suffix}")
        y = F.relu(layer("bn1")(layer("conv1")(x)))
        y = layer("bn2")(layer("conv2")(y))
        shortcut = layer("proj_bn")(layer("proj")(x)) if hasattr(self, f"{p}_proj") else x
        x = F.relu(y + shortcut)
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return self.fc(x)


CLASSES = {"mlp_784_512_256_10": MLP, "lenet5": LeNet5, "vgg_bn": VGGBN, "resnet20": ResNet20}


def build(name, seed=0):
  """The network `name` with PyTorch's default initialization from `seed`, and random BatchNorm weight
  (0.5..1.5), bias (±0.2), running mean (±0.2) and running variance (0.5..1.5), in eval mode."""
  generator = torch.Generator().manual_seed(seed)
  torch.manual_seed(seed)
  model = CLASSES[name]()
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, nn.BatchNorm2d):
        c = module.num_features
        module.weight.copy_(0.5 + torch.rand(c, generator=generator))
        module.bias.copy_(0.4 * torch.rand(c, generator=generator) - 0.2)
        module.running_mean.copy_(0.4 * torch.rand(c, generator=generator) - 0.2)
        module.running_var.copy_(0.5 + torch.rand(c, generator=generator))
  return model.eval()
