"""PyTorch definitions of the networks t2f trains, with OpenOOD's exact names.

Used by gen_torch_fixtures.py, bench_torch_models.py and torch_load_check.py
(run them with Debian's /usr/bin/python3, which has torch 1.13 and
torchvision 0.14). Nothing here is needed by the Go build or tests.

The module structure, and therefore every state_dict name, follows
Jingkang50/OpenOOD (openood/networks/lenet.py, resnet18_32x32.py,
resnet18_224x224.py, resnet50.py, t2fnorm_net.py; see
shared/reference/openood-protocol.md §1 and §5):

- LeNet(num_classes, num_channel=3): block1 = [Conv(C→6, 5, pad 2), ReLU,
  MaxPool 2], block2 = [Conv(6→16, 5), ReLU, MaxPool 2], block3 =
  [Conv(16→120, 5), ReLU], classifier1 = Linear(120→84), relu, fc =
  Linear(84→classes). Feature: relu(classifier1(flatten(block3))), 84-d.
  PyTorch default initialisation.
- ResNet18_32x32: conv1 3×3/1 pad 1 (no bias), bn1, relu, no max-pool,
  layer1..4 of BasicBlock (conv1, bn1, conv2, bn2, shortcut = Sequential()
  or Sequential(Conv 1×1/stride no bias, BN)), AdaptiveAvgPool2d(1), fc.
  PyTorch default initialisation (OpenOOD's class sets none).
- ResNet18_224x224 / ResNet50: torchvision's ResNet (OpenOOD subclasses it):
  conv1 7×7/2 pad 3, bn1, relu, maxpool 3/2 pad 1, layer1..4 of torchvision
  BasicBlock / Bottleneck (conv1..3, bn1..3, downsample.0/.1), avgpool, fc.
  torchvision initialisation: conv weights kaiming_normal_(fan_out, relu),
  BN weight 1 bias 0, Linear default. Bottleneck stride is on conv2 (v1.5).
- T2FNormNet(backbone, num_classes): buffer tau (initial 1.0, set_tau
  replaces it); forward = backbone.fc(F.normalize(f, dim=-1) / tau);
  forward_ood_inference = backbone.fc(f / tau) (no division by tau when
  num_classes == 1000). state_dict: "tau" first, then "backbone.<name>".

Width multiplier (a t2f extension; width=1 gives OpenOOD's networks): every
stage width is c(base) = max(1, floor(base·width + 0.5)) for bases 64, 128,
256, 512, the stem has c(64) channels, Bottleneck outputs 4·c(base); the fc
input is c(512)·expansion. Rounding is half-up (Go's math.Round for
positive numbers), not Python's half-to-even round().

The "small ResNet" of the benchmarks (ResNet-8: widths 16-32-64, one
BasicBlock per stage, strides 1-2-2) is ResNet32x32(stage_widths=(16, 32,
64), num_blocks=(1, 1, 1)).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled(base, width):
    """Channel count of a stage with base width `base` at multiplier `width`."""
    return max(1, int(math.floor(base * width + 0.5)))


class LeNet(nn.Module):
    def __init__(self, num_classes=10, num_channel=3):
        super().__init__()
        self.num_classes = num_classes
        self.feature_size = 84
        self.block1 = nn.Sequential(
            nn.Conv2d(num_channel, 6, kernel_size=5, stride=1, padding=2),
            nn.ReLU(), nn.MaxPool2d(kernel_size=2))
        self.block2 = nn.Sequential(
            nn.Conv2d(6, 16, kernel_size=5, stride=1),
            nn.ReLU(), nn.MaxPool2d(kernel_size=2))
        self.block3 = nn.Sequential(
            nn.Conv2d(16, 120, kernel_size=5, stride=1), nn.ReLU())
        self.classifier1 = nn.Linear(120, 84)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(84, num_classes)

    def forward(self, x, return_feature=False):
        h = self.block3(self.block2(self.block1(x)))
        h = h.view(h.shape[0], -1)
        feature = self.relu(self.classifier1(h))
        logits = self.fc(feature)
        if return_feature:
            return logits, feature
        return logits


# --- OpenOOD resnet18_32x32.py structure -------------------------------------

class BasicBlock32(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet32x32(nn.Module):
    """OpenOOD's ResNet18_32x32, generalised: stage widths, blocks per stage and
    input channels are parameters (defaults: the OpenOOD network)."""

    def __init__(self, num_classes=10, width=1.0, in_channels=3,
                 stage_widths=None, num_blocks=(2, 2, 2, 2)):
        super().__init__()
        if stage_widths is None:
            stage_widths = [scaled(b, width) for b in (64, 128, 256, 512)]
        stage_widths = list(stage_widths)
        self.in_planes = stage_widths[0]
        self.conv1 = nn.Conv2d(in_channels, stage_widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stage_widths[0])
        for i, (w, n) in enumerate(zip(stage_widths, num_blocks)):
            setattr(self, "layer%d" % (i + 1), self._make_layer(w, n, 1 if i == 0 else 2))
        self.num_stages = len(stage_widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_size = stage_widths[-1] * BasicBlock32.expansion
        self.fc = nn.Linear(self.feature_size, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock32(self.in_planes, planes, s))
            self.in_planes = planes * BasicBlock32.expansion
        return nn.Sequential(*layers)

    def forward(self, x, return_feature=False):
        h = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            h = getattr(self, "layer%d" % (i + 1))(h)
        h = self.avgpool(h)
        feature = h.view(h.size(0), -1)
        logits = self.fc(feature)
        if return_feature:
            return logits, feature
        return logits


def ResNet18_32x32(num_classes=10, width=1.0, in_channels=3):
    return ResNet32x32(num_classes=num_classes, width=width, in_channels=in_channels)


def SmallResNet(num_classes=10, in_channels=1):
    """ResNet-8 of the benchmarks: widths 16-32-64, one BasicBlock per stage."""
    return ResNet32x32(num_classes=num_classes, in_channels=in_channels,
                       stage_widths=(16, 32, 64), num_blocks=(1, 1, 1))


# --- torchvision ResNet structure (OpenOOD resnet18_224x224.py, resnet50.py) ---

class BasicBlockTV(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class BottleneckTV(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNetTV(nn.Module):
    """torchvision.models.resnet.ResNet with a width multiplier and a
    configurable number of input channels."""

    def __init__(self, block, layers, num_classes=1000, width=1.0, in_channels=3):
        super().__init__()
        widths = [scaled(b, width) for b in (64, 128, 256, 512)]
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.feature_size = widths[3] * block.expansion
        self.fc = nn.Linear(self.feature_size, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x, return_feature=False):
        h = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        h = self.avgpool(h)
        feature = h.view(h.size(0), -1)
        logits = self.fc(feature)
        if return_feature:
            return logits, feature
        return logits


def ResNet18_224x224(num_classes=1000, width=1.0, in_channels=3):
    return ResNetTV(BasicBlockTV, [2, 2, 2, 2], num_classes, width, in_channels)


def ResNet50(num_classes=1000, width=1.0, in_channels=3):
    return ResNetTV(BottleneckTV, [3, 4, 6, 3], num_classes, width, in_channels)


class T2FNormNet(nn.Module):
    """OpenOOD's T2FNormNet: the backbone's own fc is the head."""

    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone = backbone
        self.num_classes = num_classes
        self.register_buffer("tau", torch.tensor(1.0))

    def set_tau(self, tau):
        self.tau = torch.tensor(tau)

    def forward(self, x):
        _, feature = self.backbone(x, return_feature=True)
        return self.backbone.fc(F.normalize(feature, dim=-1) / self.tau)

    def forward_ood_inference(self, x):
        _, feature = self.backbone(x, return_feature=True)
        if self.num_classes != 1000:
            feature = feature / self.tau
        return self.backbone.fc(feature)


MODELS = {
    "lenet": lambda num_classes, width, channels: LeNet(num_classes, channels),
    "resnet18_32x32": lambda num_classes, width, channels: ResNet18_32x32(num_classes, width, channels),
    "resnet18_224x224": lambda num_classes, width, channels: ResNet18_224x224(num_classes, width, channels),
    "resnet50": lambda num_classes, width, channels: ResNet50(num_classes, width, channels),
    "small_resnet": lambda num_classes, width, channels: SmallResNet(num_classes, channels),
}


def build(name, num_classes=10, width=1.0, channels=3, t2fnorm=False, tau=0.1):
    """Builds model `name` (a key of MODELS); LeNet ignores width. With
    t2fnorm, wraps it in T2FNormNet with tau set."""
    if name not in MODELS:
        raise ValueError("unknown model %r (known: %s)" % (name, ", ".join(MODELS)))
    if name == "lenet" and width != 1.0:
        raise ValueError("lenet has no width multiplier")
    net = MODELS[name](num_classes, width, channels)
    if t2fnorm:
        net = T2FNormNet(net, num_classes)
        net.set_tau(tau)
    return net
