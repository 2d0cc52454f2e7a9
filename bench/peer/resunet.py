"""The liverseg ResUNet (SPEC section 2) in plain PyTorch: the benchmark's peer.

Layer for layer and parameter for parameter the network of cpp/core/nets/resunet3d.cc, with the
same module names (enc0.first.conv.weight, dec3.shortcut.norm.bias, head.weight, ...), so a
state_dict from the addon's getWeights() loads here unchanged.

  ConvINReLU  = Conv3d(k3, pad 1, bias) -> InstanceNorm3d(affine) -> [Dropout] -> ReLU
  ConvIN      = Conv3d -> InstanceNorm3d(affine)
  residual    = ReLU(ConvIN(ConvINReLU(x)) + ConvIN_1x1(x))
  plain       = ConvINReLU(ConvINReLU(x))
  encoder     = block(in, c0), then maxpool 2 + block(c[l-1], c[l]) per level
  decoder l   = trilinear x2 (align_corners) -> cat([skip, up]) -> block(c[l] + c[l+1], c[l])
  head        = Conv3d 1x1 (c0 -> out)

Inputs are padded at the far end to a multiple of 2**(levels - 1) and the output is cropped back.
Works with PyTorch 1.13 (Debian's python3-torch) and later.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNorm(nn.Module):
    """Conv3d -> InstanceNorm3d(affine) -> optional Dropout -> optional ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, dropout: float = 0.0, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, padding=kernel // 2, bias=True)
        self.norm = nn.InstanceNorm3d(cout, affine=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.relu = relu
        nn.init.kaiming_normal_(self.conv.weight, a=0.0, mode="fan_in", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        if self.drop is not None:
            x = self.drop(x)
        if self.relu:
            x = F.relu(x, inplace=True)
        return x


class TwoLayerBlock(nn.Module):
    """ResTwoLayerConvBlock (residual=True) or UnetTwoLayerBlock (residual=False)."""

    def __init__(self, cin: int, cout: int, dropout: float = 0.0, residual: bool = True):
        super().__init__()
        self.first = ConvNorm(cin, cout, 3, dropout, relu=True)
        # In the residual block the second layer is ConvIN (no dropout, no ReLU): the ReLU comes
        # after the sum with the shortcut.
        self.second = ConvNorm(cout, cout, 3, 0.0 if residual else dropout, relu=not residual)
        self.shortcut = ConvNorm(cin, cout, 1, 0.0, relu=False) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.second(self.first(x))
        if self.shortcut is None:
            return y
        return F.relu(y + self.shortcut(x), inplace=True)


class ResUNet3D(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        block: str = "residual",
        dropout: float = 0.0,
    ):
        super().__init__()
        if block not in ("residual", "plain"):
            raise ValueError(f"block must be 'residual' or 'plain', got {block!r}")
        ch = list(channels)
        if not 2 <= len(ch) <= 7:
            raise ValueError(f"expected 2 to 7 levels, got {ch}")
        residual = block == "residual"
        self.channels = ch
        # Registered as enc0.., dec0.. attributes (not ModuleLists) so names match the addon's.
        self.levels = len(ch)
        for l, c in enumerate(ch):
            cin = in_channels if l == 0 else ch[l - 1]
            self.add_module(f"enc{l}", TwoLayerBlock(cin, c, dropout, residual))
        for l in range(len(ch) - 1):
            self.add_module(f"dec{l}", TwoLayerBlock(ch[l] + ch[l + 1], ch[l], dropout, residual))
        self.head = nn.Conv3d(ch[0], out_channels, 1, bias=True)
        nn.init.kaiming_normal_(self.head.weight, a=0.0, mode="fan_in", nonlinearity="relu")

    @property
    def size_multiple(self) -> int:
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.size_multiple
        d, h, w = x.shape[2:]
        pd, ph, pw = (-d) % m, (-h) % m, (-w) % m
        if pd or ph or pw:
            x = F.pad(x, (0, pw, 0, ph, 0, pd))
        skips: List[Optional[torch.Tensor]] = []
        for l in range(self.levels):
            if l > 0:
                x = F.max_pool3d(x, 2)
            x = getattr(self, f"enc{l}")(x)
            skips.append(x if l + 1 < self.levels else None)
        for l in range(self.levels - 2, -1, -1):
            skip = skips[l]
            x = F.interpolate(x, size=skip.shape[2:], mode="trilinear", align_corners=True)
            x = torch.cat([skip, x], dim=1)
            skips[l] = None
            x = getattr(self, f"dec{l}")(x)
        x = self.head(x)
        if pd or ph or pw:
            x = x[:, :, :d, :h, :w].contiguous()
        return x


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Print the peer ResUNet's parameter count.")
    ap.add_argument("--channels", default="16,32,64,128,256")
    ap.add_argument("--block", default="residual", choices=["residual", "plain"])
    ap.add_argument("--in-channels", type=int, default=1)
    ap.add_argument("--out-channels", type=int, default=1)
    a = ap.parse_args()
    net = ResUNet3D(a.in_channels, a.out_channels, [int(c) for c in a.channels.split(",")], a.block)
    print(json.dumps({"parameterCount": parameter_count(net), "tensors": len(list(net.parameters()))}))
