"""U-Net family segmenter: encoder of `depth` levels (two 3x3 convs + BatchNorm + ReLU each, 2x2 max-pool between),
bilinear upsampling with skip concatenation on the way back, a 1x1 head with one logit per class.

Height and width must be multiples of 2**(depth-1); the runtime tiles frames into 256-pixel tiles, which every preset
here divides.
"""
import torch
from torch import nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class UNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 2, base: int = 16, depth: int = 4):
        super().__init__()
        widths = [base * (2 ** i) for i in range(depth)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(DoubleConv(cin, w))
            cin = w
        self.up = nn.ModuleList()
        for i in range(depth - 1, 0, -1):
            self.up.append(DoubleConv(widths[i] + widths[i - 1], widths[i - 1]))
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.depth = depth

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < self.depth - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode='bilinear', align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


class WithSoftmax(nn.Module):
    """What is exported: per-pixel class probabilities, so the runtime never has to know about logits."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
