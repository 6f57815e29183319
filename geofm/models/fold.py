"""Exact algebraic fold of the segmenters' last upsampling + head convolution.

In the published fine-tunes the neck ends with ``ConvTranspose2d(C, C, k=2, s=2)`` (112 -> 224 px) and
the FCN head starts with ``Conv2d(C, 256, 3, padding=1, bias=False)`` followed by BatchNorm (eval) —
all linear, with nothing in between. Output pixel (2i+a, 2j+b) of the 3x3 conv only sees transposed-conv
outputs from 112-grid rows {i-1, i} (a=0) or {i, i+1} (a=1), and the same for columns. So the three layers
equal four 2x2 convolutions ("phases") on the 112 grid, followed by a pixel interleave — computed here
as one 2x2 conv with 4x256 output channels over the zero-padded 112 grid. The transposed-conv bias only
exists inside the 224 grid (the 3x3 conv zero-pads outside), so it enters as a constant-ones input
channel that is zero-padded like the features; that channel's contribution does not depend on the input
and is precomputed once per grid size as a bias map (a per-channel constant inside, fused into the conv,
plus a correction on the border rows/columns). ReLU and the 1x1 classifier run per phase on the 112 grid.
Flood: ~292 -> ~135 GFLOP per window; crop: ~1298 -> ~470.

On CPU (fp32) the 2x2 conv and the classifiers run as oneDNN inner products, not oneDNN convolutions: the
convolutions' last bits depended on the thread count and the batch size (how oneDNN shares the work out), the
inner products' do not, so a window's logits are the same on any machine, in any batch (issue 18). Cost,
measured on the 2-core bench VM (batch 2, best of 4): flood 1.24-1.28 windows/s on one thread against 1.37-1.41
with the convolutions, 2.32 against 2.59-2.75 on two; crop 0.405-0.408 against 0.41-0.44 on one.

``fold_segmenter`` also merges the neck's two back-to-back transposed convs (end of fpn1, start of fpn2)
into one exact x4 upsampling (``MergedUpsample``), which skips the 56-px intermediate grid.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from geofm.models.onednn import linear

#: Phase order: (a, b) = output row/column parity on the fine grid; index = 2a + b (pixel_shuffle order).
PHASES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))


def _check_layers(up: nn.ConvTranspose2d, conv: nn.Conv2d) -> None:
    if (tuple(up.kernel_size), tuple(up.stride), tuple(up.padding), tuple(up.output_padding), up.groups) != (
            (2, 2), (2, 2), (0, 0), (0, 0), 1):
        raise ValueError("fold needs ConvTranspose2d(kernel 2, stride 2, no padding, groups 1)")
    if (tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding), tuple(conv.dilation), conv.groups) != (
            (3, 3), (1, 1), (1, 1), (1, 1), 1):
        raise ValueError("fold needs Conv2d(kernel 3, stride 1, padding 1, groups 1)")


@torch.no_grad()
def fold_kernels(up: nn.ConvTranspose2d, conv: nn.Conv2d,
                 bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Folded weights: (4*Co, Cin, 2, 2) feature kernel, (4*Co, 1, 2, 2) ones-channel kernel, (4*Co,) bias.

    Tap (p, q) of phase (a, b) reads coarse pixel (i + a - 1 + p, j + b - 1 + q) of the 1-px zero-padded
    input, i.e. fine-grid offsets dy = a - 2 + 2p + s for transposed-conv sub-pixel s (same for x).
    """
    _check_layers(up, conv)
    dtype = torch.float64 if up.weight.device.type == "cuda" else torch.float32  # fp32 on CPU: ~10x faster
    wt = up.weight.detach().to(dtype)  # (Cin, Cmid, 2, 2)
    bt = up.bias.detach().to(dtype) if up.bias is not None else wt.new_zeros(wt.shape[1])
    wc = conv.weight.detach().to(dtype)  # (Co, Cmid, 3, 3)
    co, cmid, cin = wc.shape[0], wc.shape[1], wt.shape[0]
    taps = wc.permute(0, 2, 3, 1).reshape(co * 9, cmid)  # row = (k, dy+1, dx+1)
    # products[s][t] (Co, 3, 3, Cin): every 3x3 tap through transposed-conv sub-pixel (s, t); one matmul each
    products = [[(taps @ wt[:, :, s, t].T).reshape(co, 3, 3, cin) for t in range(2)] for s in range(2)]
    bias_taps = (taps @ bt).reshape(co, 3, 3)
    kernel = wt.new_zeros(4, co, cin, 2, 2)
    ones_kernel = wt.new_zeros(4, co, 1, 2, 2)
    for phase, (a, b) in enumerate(PHASES):
        for p in range(2):
            for s in range(2):
                dy = a - 2 + 2 * p + s
                if abs(dy) > 1:
                    continue
                for q in range(2):
                    for t in range(2):
                        dx = b - 2 + 2 * q + t
                        if abs(dx) > 1:
                            continue
                        kernel[phase, :, :, p, q] += products[s][t][:, dy + 1, dx + 1]
                        ones_kernel[phase, :, 0, p, q] += bias_taps[:, dy + 1, dx + 1]
    if conv.bias is not None:
        bias = conv.bias.detach().to(dtype).clone()
    else:
        bias = wt.new_zeros(co)
    if bn is not None:
        if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None:
            raise ValueError("fold needs BatchNorm2d with running statistics")
        scale = torch.rsqrt(bn.running_var.to(dtype) + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight.to(dtype)
        shift = (bn.bias.to(dtype) if bn.bias is not None else 0.0) - bn.running_mean.to(dtype) * scale
        kernel *= scale.view(1, co, 1, 1, 1)
        ones_kernel *= scale.view(1, co, 1, 1, 1)
        bias = bias * scale + shift
    return (kernel.reshape(4 * co, cin, 2, 2).float(), ones_kernel.reshape(4 * co, 1, 2, 2).float(),
            bias.repeat(4).float())


class FoldedUpsampleHead(nn.Module):
    """ConvTranspose2d(k2,s2) -> Conv3x3 -> BN -> ReLU -> Conv1x1, computed exactly on the coarse grid.

    Input (B, Cin, h, w); output (B, K, 2h, 2w) logits.
    """

    def __init__(self, up: nn.ConvTranspose2d, conv: nn.Conv2d, bn: nn.BatchNorm2d | None,
                 classifier: nn.Conv2d) -> None:
        super().__init__()
        if tuple(classifier.kernel_size) != (1, 1) or classifier.groups != 1:
            raise ValueError("fold needs a 1x1 classifier")
        kernel, ones_kernel, bias = fold_kernels(up, conv, bn)
        device = up.weight.device
        self.num_classes = classifier.out_channels
        self.register_buffer("weight", kernel.to(device))
        self.register_buffer("ones_kernel", ones_kernel.to(device))
        self.register_buffer("bias", bias.to(device))
        self.register_buffer("cls_weight", classifier.weight.detach().repeat(4, 1, 1, 1).clone())
        cls_bias = classifier.bias.detach() if classifier.bias is not None else torch.zeros(self.num_classes)
        self.register_buffer("cls_bias", cls_bias.repeat(4).clone().to(device))
        self._bias_maps: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def bias_map(self, h: int, w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """(4*Co, h+1, w+1): the ones channel (zero-padded like the input) through the folded kernel + bias."""
        ones = F.pad(torch.ones(1, 1, h, w, device=device, dtype=torch.float32), (1, 1, 1, 1))
        with torch.autocast(device.type, enabled=False):
            bmap = F.conv2d(ones, self.ones_kernel.float().to(device), self.bias.float().to(device))[0]
        return bmap.to(dtype)

    def _bias_parts(self, h: int, w: int, dtype: torch.dtype,
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Interior bias (4*Co,), and the map minus it on the first/last rows and the first/last columns.

        Interior pixels see the ones channel through all four taps, so their bias is one constant per
        channel (fused into the conv); only the border rows and columns need the rest of the map.
        """
        key = (h, w, dtype, device)
        if key not in self._bias_maps:
            bmap = self.bias_map(h, w, torch.float32, device)
            inner = bmap[:, 1, 1]
            edge = bmap - inner[:, None, None]
            parts = (inner.to(dtype), edge[:, (0, h), :].to(dtype), edge[:, 1:h][:, :, (0, w)].to(dtype))
            self._bias_maps = {key: parts}  # keep one: windows all have the same size
        return self._bias_maps[key]

    def classifier_matrix(self) -> torch.Tensor:
        """(4*K, 4*Co): the per-phase 1x1 classifiers (``cls_weight``, (4*K, Co, 1, 1)) as one block-diagonal
        matrix, phase i's (K, Co) block at rows i*K and columns i*Co."""
        return torch.block_diag(*self.cls_weight.reshape(4, self.num_classes, -1).unbind(0))

    def _conv_as_gemm(self, x: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
        """The padded 2x2 conv, fp32 on CPU, as four GEMMs over the channels-last pixels (oneDNN's inner product,
        one per tap) added, shifted, onto the bias in a fixed order.

        oneDNN's convolution here gives other last bits for some thread counts and batch sizes (fp32, 2 threads
        and batch 3, 3 threads and batch 1 or 4, 6 threads and batch 2, against 1 thread: 95 % of a window's
        logits, up to 3e-6): it shares the work out differently. The inner product's bits depend on neither, so a
        window's numbers are the same on every machine and in every batch.
        """
        n, cin, h, w = x.shape
        xl = x.permute(0, 2, 3, 1)  # (B, h, w, Cin); no copy when x is channels-last (as the neck gives it)
        weight = self.weight.float()
        y = inner.float().expand(n, h + 1, w + 1, -1).clone()  # (B, h+1, w+1, 4*Co)
        for p, q in PHASES:  # tap (p, q) of output (i, j) reads input pixel (i + p - 1, j + q - 1), zero outside
            y[:, 1 - p:1 - p + h, 1 - q:1 - q + w] += linear(xl, weight[:, :, p, q].contiguous(), None)
        return y.permute(0, 3, 1, 2)  # (B, 4*Co, h+1, w+1), channels-last in memory

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        autocast = torch.is_autocast_enabled(x.device.type)
        dtype = torch.get_autocast_dtype(x.device.type) if autocast else x.dtype
        inner, edge_rows, edge_cols = self._bias_parts(h, w, dtype, x.device)
        if x.device.type == "cpu" and x.dtype == torch.float32 and not autocast:
            y = self._conv_as_gemm(x, inner)
        else:
            y = F.conv2d(x, self.weight.to(dtype), inner, padding=1)  # (B, 4*Co, h+1, w+1) = padded 2x2 conv
        y[:, :, (0, h), :] += edge_rows
        y[:, :, 1:h, (0, w)] += edge_cols
        y = torch.relu_(y)
        # the four phases' 1x1 classifiers as one block-diagonal GEMM over the channels-last pixels (oneDNN's
        # inner product on CPU). Not a grouped 1x1 conv: oneDNN's gives other last bits for another thread count
        # or batch size (measured, fp32: 80 % of a window's logits, up to 2e-6), so a window's classes would
        # depend on the machine's cores and the run's workers; this GEMM's bits depend on neither (and on CPU
        # it is faster: the features are channels-last already).
        z = linear(y.permute(0, 2, 3, 1), self.classifier_matrix().to(y.dtype), self.cls_bias.to(y.dtype))
        z = z.permute(0, 3, 1, 2)  # (B, 4*K, h+1, w+1), channels-last in memory
        k = self.num_classes
        phases = [z[:, i * k:(i + 1) * k, a:a + h, b:b + w] for i, (a, b) in enumerate(PHASES)]
        return F.pixel_shuffle(torch.stack(phases, dim=2).reshape(n, 4 * k, h, w), 2)

    def _apply(self, fn, recurse=True):  # moving the module drops cached bias maps
        self._bias_maps = {}
        return super()._apply(fn, recurse)


def reference_upsample_head(x: torch.Tensor, up: nn.ConvTranspose2d, conv: nn.Conv2d,
                            bn: nn.BatchNorm2d | None, classifier: nn.Conv2d) -> torch.Tensor:
    """The unfolded computation, for tests and checks."""
    y = conv(up(x))
    if bn is not None:
        y = bn(y)
    return classifier(torch.relu(y))


class MergedUpsample(nn.Module):
    """Two back-to-back ``ConvTranspose2d(k2, s2)`` layers as one exact x4 upsampling.

    Fine pixel (4i + 2*s1 + s2, 4j + 2*t1 + t2) depends only on coarse pixel (i, j):
    ``W[c, o2, s1, t1, s2, t2] = sum_o1 W1[c, o1, s1, t1] * W2[o1, o2, s2, t2]``; the first bias reaches the
    output through the second layer's weights, so the bias depends on (s2, t2). Computed as one GEMM over
    the channels-last pixels to 16 * C outputs and an interleave (saves the intermediate grid: ~1.85 GMAC per
    flood window). As a GEMM through oneDNN with an NHWC output, which the LayerNorm and the folded head take
    without layout copies, a crop window took ~5 % less CPU time than with the 1x1 convolution + pixel shuffle.
    """

    def __init__(self, first: nn.ConvTranspose2d, second: nn.ConvTranspose2d) -> None:
        super().__init__()
        for layer in (first, second):
            if (tuple(layer.kernel_size), tuple(layer.stride), tuple(layer.padding), tuple(layer.output_padding),
                    layer.groups) != ((2, 2), (2, 2), (0, 0), (0, 0), 1):
                raise ValueError("MergedUpsample needs ConvTranspose2d(kernel 2, stride 2, no padding, groups 1)")
        with torch.no_grad():
            w1, w2 = first.weight.float(), second.weight.float()
            cin, cout = w1.shape[0], w2.shape[1]
            w = torch.einsum("cpab,pqde->qadbec", w1, w2)  # (o2, s1, s2, t1, t2, c): row 2*s1+s2, col 2*t1+t2
            b1 = first.bias.float() if first.bias is not None else w1.new_zeros(w1.shape[1])
            b2 = second.bias.float() if second.bias is not None else w2.new_zeros(cout)
            bias = torch.einsum("p,pqde->qde", b1, w2) + b2[:, None, None]  # (o2, s2, t2)
            bias = bias[:, None, :, None, :].expand(cout, 2, 2, 2, 2)  # (o2, s1, s2, t1, t2)
        # rows ordered (sub-row r_y, sub-column r_x, output channel): one GEMM over channels-last pixels
        self.cout = cout
        self.register_buffer("weight", w.reshape(cout, 16, cin).transpose(0, 1).reshape(16 * cout, cin).contiguous())
        self.register_buffer("bias", bias.reshape(cout, 16).t().reshape(16 * cout).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, h, w) -> (B, Cout, 4h, 4w), returned channels-last in memory (NHWC strides): the LayerNorm
        and the folded head after it work on that layout without copies."""
        n, _, h, w = x.shape
        y = linear(x.permute(0, 2, 3, 1), self.weight, self.bias)  # (B, h, w, 16 * Cout)
        y = y.view(n, h, w, 4, 4, self.cout).permute(0, 1, 3, 2, 4, 5).reshape(n, 4 * h, 4 * w, self.cout)
        return y.permute(0, 3, 1, 2)


def is_folded(model: nn.Module) -> bool:
    """True when ``model``'s head has been replaced by the folded computation."""
    return isinstance(getattr(model, "decode_head", None), FoldedUpsampleHead)


def fold_segmenter(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """A PrithviSegmenter whose last neck upsampling + head run folded on the 112 grid (same logits).

    The model must be in eval mode (BatchNorm uses running statistics). ``inplace=False`` works on a copy.
    """
    if is_folded(model):
        return model
    if model.training:
        raise ValueError("fold_segmenter needs a model in eval mode")
    if not inplace:
        model = copy.deepcopy(model)
    up = model.neck.fpn2[3]
    convmod = model.decode_head.convs[0]
    if len(model.decode_head.convs) != 1 or not isinstance(convmod.activate, nn.ReLU):
        raise ValueError("fold needs an FCN head with one conv -> BN -> ReLU")
    model.decode_head = FoldedUpsampleHead(up, convmod.conv, convmod.bn, model.decode_head.conv_seg)
    model.neck.fpn2[3] = nn.Identity()
    # fpn1 ends and fpn2 starts with a transposed conv and nothing between them: merge the pair too
    model.neck.fpn1[3] = MergedUpsample(model.neck.fpn1[3], model.neck.fpn2[0])
    model.neck.fpn2[0] = nn.Identity()
    return model
