"""Training-time augmentation on batches of grey crops in [0, 1] (torch, N x 1 x H x W) and their masks (N x H x W).

Geometric: flips and 90-degree rotations (micrographs have no preferred orientation). Photometric: brightness,
contrast, gamma, Gaussian blur (focus) and Gaussian noise (sensor) - the variations between microscopes, exposures and
focus positions that the model must not care about.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F


def geometric(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    k = int(rng.integers(0, 4))
    img = np.rot90(img, k)
    mask = np.rot90(mask, k)
    if rng.random() < 0.5:
        img = img[:, ::-1]
        mask = mask[:, ::-1]
    return np.ascontiguousarray(img), np.ascontiguousarray(mask)


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


def photometric(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """x: N x 1 x H x W in [0, 1]. Each sample gets its own draw."""
    n = x.shape[0]

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(n, 1, 1, 1, generator=gen)

    mean = x.mean(dim=(2, 3), keepdim=True)
    contrast = torch.exp(u(-0.25, 0.25) * strength)
    bright = u(-0.08, 0.08) * strength
    x = (x - mean) * contrast + mean + bright
    gamma = torch.exp(u(-0.25, 0.25) * strength)
    x = x.clamp(1e-4, 1).pow(gamma)
    out = []
    for i in range(n):
        xi = x[i : i + 1]
        if torch.rand(1, generator=gen).item() < 0.3 * strength:
            sigma = 0.4 + 0.9 * torch.rand(1, generator=gen).item()
            k = _gauss_kernel(sigma)
            r = (k.numel() - 1) // 2
            xi = F.conv2d(F.pad(xi, (r, r, 0, 0), mode='reflect'), k.view(1, 1, 1, -1))
            xi = F.conv2d(F.pad(xi, (0, 0, r, r), mode='reflect'), k.view(1, 1, -1, 1))
        out.append(xi)
    x = torch.cat(out, 0)
    noise = u(0, 0.03) * strength
    x = x + noise * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1)


def _smooth_field(n: int, h: int, w: int, cells: int, gen: torch.Generator) -> torch.Tensor:
    """A smooth random field in [-1, 1]: uniform noise on a coarse grid, bicubically upsampled (N x 2 x H x W)."""
    coarse = torch.rand(n, 2, cells, cells, generator=gen) * 2 - 1
    return F.interpolate(coarse, size=(h, w), mode='bicubic', align_corners=True)


def spatial(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, scale: float = 0.0, elastic: float = 0.0):
    """Random scale (zoom by a factor in [1/(1+scale), 1+scale] about the crop centre) and elastic deformation (a smooth
    displacement field of up to `elastic` pixels) applied alike to images (bilinear) and class masks (nearest), so a
    crack keeps its label where it moves. x: N x 1 x H x W float, y: N x H x W int64."""
    if scale <= 0 and elastic <= 0:
        return x, y
    n, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h)
    xs = torch.linspace(-1, 1, w)
    gy, gx = torch.meshgrid(ys, xs, indexing='ij')
    grid = torch.stack([gx, gy], -1)[None].repeat(n, 1, 1, 1)
    if scale > 0:
        s = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * float(np.log1p(scale)))
        grid = grid / s
    if elastic > 0:
        d = _smooth_field(n, h, w, 5, gen).permute(0, 2, 3, 1)
        grid = grid + d * torch.tensor([2 * elastic / max(1, w - 1), 2 * elastic / max(1, h - 1)])
    xo = F.grid_sample(x, grid, mode='bilinear', padding_mode='reflection', align_corners=True)
    yo = F.grid_sample(y[:, None].float(), grid, mode='nearest', padding_mode='reflection', align_corners=True)
    return xo, yo[:, 0].round().long()


def stain(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Uneven illumination / staining / charging: a smooth multiplicative gain field (up to +-`20 %` x strength) and
    a smooth additive offset, different per sample. x: N x 1 x H x W in [0, 1]."""
    if strength <= 0:
        return x
    n, _, h, w = x.shape
    f = _smooth_field(n, h, w, 3, gen)
    gain = 1 + 0.2 * strength * f[:, :1]
    offset = 0.05 * strength * f[:, 1:]
    return (x * gain + offset).clamp(0, 1)
