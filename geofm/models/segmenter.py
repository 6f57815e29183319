"""mmseg fine-tunes (Sen1Floods11, multi-temporal crops): Prithvi backbone + token-to-image neck + FCN head.

Module names follow the mmseg checkpoint keys (``backbone.``, ``neck.fpn1.0``, ``decode_head.convs.0.conv`` ...)
so the published ``state_dict`` (minus ``auxiliary_head.*``) loads strictly.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from geofm.config import SegmenterConfig
from geofm.models.vit import PrithviViT, init_vit_weights, token_grid


class Norm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _upsample_x4(channels: int, eps: float) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2),
        Norm2d(channels, eps),
        nn.GELU(),
        nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2),
    )


class TokensToImageNeck(nn.Module):
    """Drop CLS, reshape tokens embed-major (channel = e*T + t) to (B, D*T, h, w), then upsample x16."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.fpn1 = _upsample_x4(channels, eps)
        self.fpn2 = _upsample_x4(channels, eps)

    @staticmethod
    def tokens_to_image(tokens: Tensor, h: int, w: int) -> Tensor:
        """(B, 1 + T*h*w, D) -> (B, D*T, h, w), exactly ``x[:, 1:].permute(0, 2, 1).reshape(B, -1, h, w)``."""
        x = tokens[:, 1:]
        return x.permute(0, 2, 1).reshape(x.shape[0], -1, h, w)

    def forward(self, tokens: Tensor, h: int, w: int) -> Tensor:
        return self.fpn2(self.fpn1(self.tokens_to_image(tokens, h, w)))


class ConvModule(nn.Module):
    """mmcv ConvModule: conv (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, eps: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.activate(self.bn(self.conv(x)))


class FCNHead(nn.Module):
    """mmseg FCNHead with one conv: ``convs`` -> dropout (no-op in eval) -> 1x1 ``conv_seg``."""

    def __init__(self, cin: int, channels: int, num_classes: int, bn_eps: float) -> None:
        super().__init__()
        self.convs = nn.Sequential(ConvModule(cin, channels, bn_eps))
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_seg(self.dropout(self.convs(x)))


class PrithviSegmenter(nn.Module):
    """``seg(x (B, 6, T, H, W) normalised) -> logits (B, K, H, W)``; H, W multiples of the patch size."""

    def __init__(self, cfg: SegmenterConfig) -> None:
        super().__init__()
        enc = cfg.encoder
        if cfg.neck_channels != enc.embed_dim * enc.num_frames // enc.tubelet_size:
            raise ValueError(f"neck_channels {cfg.neck_channels} != embed_dim x frames "
                             f"({enc.embed_dim} x {enc.num_frames // enc.tubelet_size})")
        self.cfg = cfg
        self.backbone = PrithviViT(enc)
        self.neck = TokensToImageNeck(cfg.neck_channels, cfg.neck_ln_eps)
        self.decode_head = FCNHead(cfg.neck_channels, cfg.head_channels, cfg.num_classes, cfg.bn_eps)

    def forward(self, x: Tensor) -> Tensor:
        t, h, w = token_grid(x, self.cfg.encoder)
        if t * self.cfg.encoder.embed_dim != self.cfg.neck_channels:
            raise ValueError(f"this model takes {self.cfg.encoder.num_frames} frame(s), got {x.shape[2]}")
        tokens = self.backbone.forward_features(x)
        logits = self.decode_head(self.neck(tokens, h, w))
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return logits


def init_segmenter_weights(model: PrithviSegmenter) -> None:
    init_vit_weights(model.backbone)
    nn.init.normal_(model.backbone.cls_token, std=0.02)
