"""EO-2.0 fine-tunes (TerraTorch ``EncoderDecoderFactory``): Prithvi ViT + UperNet decoder + segmentation head.

Module names follow the published checkpoint keys once ``model.`` (Lightning) and ``_timm_module.`` (the
TerraTorch 0.99 timm wrapper) are stripped: ``encoder.*`` (the Prithvi ViT), ``decoder.fpn1..4`` (the scale
modules of ``decoder_scale_modules: true``), ``decoder.{psp_modules, bottleneck, lateral_convs, fpn_convs,
fpn_bottleneck}``, ``head.head.2`` (the 1x1 classifier after dropout). The forward pass is TerraTorch's:

* encoder: tokens after each block; the last block's output goes through the final LayerNorm, the others not
  (TerraTorch ``PrithviViT.forward_features``); blocks after the last selected index are skipped (unused);
* ``SelectIndices`` then ``ReshapeTokensToImage``: drop CLS, ``(t h w) e -> (t e) h w``;
* scale modules: x4 (ConvTranspose, BatchNorm, GELU, ConvTranspose), x2 (ConvTranspose), x1, /2 (max pool);
* UperNet (PPM on the coarsest level, top-down FPN, bilinear ``align_corners=True``), head, and a bilinear
  rescale of the logits to the input size (``rescale: true``, ``align_corners=False``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geofm.config import UperNetSegmenterConfig
from geofm.models.vit import PrithviViT, init_vit_weights, token_grid


class ConvBNReLU(nn.Module):
    """TerraTorch's decoder ``ConvModule``: conv (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=padding, bias=False)
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))


class UperNetDecoder(nn.Module):
    """UperNet over four ViT levels, with the scale modules that make them a x4, x2, x1, /2 pyramid."""

    def __init__(self, dims: list[int], channels: int, pool_scales: tuple[int, ...]) -> None:
        super().__init__()
        if len(dims) != 4:
            raise ValueError(f"the UperNet scale modules take exactly 4 levels, got {len(dims)}")
        d0, d1 = dims[0], dims[1]
        self.fpn1 = nn.Sequential(nn.ConvTranspose2d(d0, d0 // 2, 2, 2), nn.BatchNorm2d(d0 // 2), nn.GELU(),
                                  nn.ConvTranspose2d(d0 // 2, d0 // 4, 2, 2))
        self.fpn2 = nn.Sequential(nn.ConvTranspose2d(d1, d1 // 2, 2, 2))
        self.fpn3 = nn.Sequential(nn.Identity())
        self.fpn4 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2))
        levels = [d0 // 4, d1 // 2, dims[2], dims[3]]
        self.psp_modules = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(s), ConvBNReLU(levels[-1], channels, 1)) for s in pool_scales)
        self.bottleneck = ConvBNReLU(levels[-1] + len(pool_scales) * channels, channels, 3, padding=1)
        self.lateral_convs = nn.ModuleList(ConvBNReLU(d, channels, 1) for d in levels[:-1])
        self.fpn_convs = nn.ModuleList(ConvBNReLU(channels, channels, 3, padding=1) for _ in levels[:-1])
        self.fpn_bottleneck = ConvBNReLU(len(levels) * channels, channels, 3, padding=1)

    @staticmethod
    def _up(x: Tensor, size: torch.Size) -> Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    def forward(self, feats: list[Tensor]) -> Tensor:
        x = [self.fpn1(feats[0]), self.fpn2(feats[1]), self.fpn3(feats[2]), self.fpn4(feats[3])]
        top = x[-1]
        psp = torch.cat([top, *(self._up(m(top), top.shape[2:]) for m in self.psp_modules)], dim=1)
        laterals = [conv(x[i]) for i, conv in enumerate(self.lateral_convs)] + [self.bottleneck(psp)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + self._up(laterals[i], laterals[i - 1].shape[2:])
        outs = [self.fpn_convs[i](laterals[i]) for i in range(len(laterals) - 1)] + [laterals[-1]]
        size = outs[0].shape[2:]
        outs = [outs[0], *(self._up(o, size) for o in outs[1:])]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))


class SegmentationHead(nn.Module):
    """TerraTorch ``SegmentationHead`` without extra convs: ``head = (Identity, Dropout, Conv2d 1x1)``."""

    def __init__(self, channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Identity(), nn.Dropout(dropout) if dropout else nn.Identity(),
                                  nn.Conv2d(channels, num_classes, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(x)


class UperNetSegmenter(nn.Module):
    """``seg(x (B, 6, T, H, W) normalised, temporal_coords (B, T, 2), location_coords (B, 2)) -> (B, K, H, W)``.

    Coordinates are optional (TerraTorch adds them only when given); temporal = [year, day of year] per
    frame, location = [lat, lon] of the window's area (TerraTorch's datamodules' order).
    """

    def __init__(self, cfg: UperNetSegmenterConfig, resize: int = 0) -> None:
        super().__init__()
        enc = cfg.encoder
        #: windows are resized to ``resize`` px (bilinear) before the model and the logits back (0: as given)
        self.resize = resize
        if any(not 0 <= i < enc.depth for i in cfg.indices):
            raise ValueError(f"neck indices {list(cfg.indices)} outside the encoder's {enc.depth} blocks")
        self.cfg = cfg
        self.encoder = PrithviViT(enc)
        dim = enc.embed_dim * (enc.num_frames // enc.tubelet_size)
        self.decoder = UperNetDecoder([dim] * len(cfg.indices), cfg.channels, cfg.pool_scales)
        self.head = SegmentationHead(cfg.channels, cfg.num_classes, cfg.head_dropout)

    def features(self, x: Tensor, temporal_coords: Tensor | None = None,
                 location_coords: Tensor | None = None) -> list[Tensor]:
        """The selected levels as images (B, T*D, h, w)."""
        t, h, w = token_grid(x, self.cfg.encoder)
        tokens, cls = self.encoder.embed(x, temporal_coords, location_coords)
        z = torch.cat([cls, tokens], dim=1)
        wanted = set(self.cfg.indices)
        last = len(self.encoder.blocks) - 1
        out: dict[int, Tensor] = {}
        for i, block in enumerate(self.encoder.blocks[:max(wanted) + 1]):
            z = block(z)
            if i in wanted:
                out[i] = self.encoder.norm(z) if i == last else z
        b, d = x.shape[0], z.shape[-1]
        return [out[i][:, 1:].reshape(b, t, h, w, d).permute(0, 1, 4, 2, 3).reshape(b, t * d, h, w)
                for i in self.cfg.indices]

    def forward(self, x: Tensor, temporal_coords: Tensor | None = None,
                location_coords: Tensor | None = None) -> Tensor:
        size = x.shape[-2:]
        if self.resize and tuple(size) != (self.resize, self.resize):
            b, c, t = x.shape[:3]
            x = F.interpolate(x.reshape(b, c * t, *size), size=(self.resize, self.resize), mode="bilinear",
                              align_corners=False).reshape(b, c, t, self.resize, self.resize)
        if not self.cfg.use_coords:
            temporal_coords = location_coords = None
        logits = self.head(self.decoder(self.features(x, temporal_coords, location_coords)))
        for target in (x.shape[-2:], size):  # TerraTorch's rescale to the model input, then back to the window
            if logits.shape[-2:] != target:
                logits = F.interpolate(logits, size=target, mode="bilinear", align_corners=False)
        return logits


def init_upernet_weights(model: UperNetSegmenter) -> None:
    init_vit_weights(model.encoder)
    nn.init.normal_(model.encoder.cls_token, std=0.02)
