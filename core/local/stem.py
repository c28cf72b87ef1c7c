"""The network's first two layers in training (``bn_data`` then ``conv0``), without the gradient
nothing uses.

The pictures need no gradient, so the only thing ``bn_data`` learns is its ``beta`` (its gamma is
fixed), whose gradient is the sum of the gradient flowing into ``conv0``'s input. Autograd gets
that sum by computing the whole input gradient of ``conv0`` (a 7×7 stride-2 convolution back onto
3 channels at 224 px: the slowest single kernel of a ResNet-18 step, 110 ms of about 2 s on
2 cores) and then ``bn_data``'s backward. The sum is far cheaper to get directly: ``conv0`` is
linear, so summing its input gradient over every position gives

    d beta[c] = Σ_o Σ_kh,kw  W[o, c, kh, kw] · S[o, kh, kw]

where ``S[o, kh, kw]`` sums the output gradient over the output positions whose input position
for that kernel tap lies inside the picture (the rest read the zero padding). That is the output
gradient summed over the batch, then two small matrix products with 0/1 "inside the picture"
matrices. The result is the same number (up to float rounding), so the trained model is the same
network MXNet trains; ``conv0``'s weight gradient is computed as before.

``bn_data``'s own forward pass also runs on the pictures laid out N×C×H×W: with 3 channels,
torch's channels-last BatchNorm took 35 ms where the plain layout took 5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def applies(bn_data: nn.Module, x: torch.Tensor, training: bool) -> bool:
    """Whether the shortcut gives autograd's answer: training with gradients on, pictures that
    need none (not, say, a saliency map's), and a fixed gamma (whose gradient would need the
    whole input gradient)."""
    return training and torch.is_grad_enabled() and not x.requires_grad and bool(getattr(bn_data, "fix_gamma", False))


def input_stem(bn_data: nn.Module, conv0: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv0(bn_data(x))`` in training, with the gradients of ``bn_data.beta`` and ``conv0.weight``
    and the moving statistics as autograd and ``F.batch_norm`` would give them."""
    with torch.no_grad():  # the normalised pictures are constants; beta's gradient comes from _FirstConvolution
        normalized = bn_data(x.contiguous())
    return _FirstConvolution.apply(normalized, bn_data.beta, conv0.weight, conv0.stride, conv0.padding)


class _FirstConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, normalized, beta, weight, stride, padding):  # type: ignore[override]
        ctx.save_for_backward(normalized, weight)
        ctx.stride, ctx.padding = tuple(stride), tuple(padding)
        return F.conv2d(normalized, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        normalized, weight = ctx.saved_tensors
        dtype = grad_out.dtype  # under autocast the forward ran in it
        _, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad_out, normalized.to(dtype), weight.to(dtype), None, list(ctx.stride), list(ctx.padding), [1, 1],
            False, [0, 0], 1, [False, True, False])
        exact = torch.promote_types(dtype, torch.float32)  # a half-precision gradient is summed in float32
        # (out channels, out height, out width), summed over the batch in the order the gradient lies
        # in memory: over a channels-last gradient's own dimension 0 torch's sum took 27 ms at 224 px
        # (batch 16, bfloat16, 2 threads), against 3.6 over its N×H×W×C view
        per_position = grad_out.permute(0, 2, 3, 1).sum(0, dtype=exact).permute(2, 0, 1)
        rows = _inside(normalized.shape[2], grad_out.shape[2], weight.shape[2], ctx.stride[0], ctx.padding[0], per_position)
        cols = _inside(normalized.shape[3], grad_out.shape[3], weight.shape[3], ctx.stride[1], ctx.padding[1], per_position)
        per_tap = torch.einsum("kh,ohw,lw->okl", rows, per_position, cols)
        grad_beta = torch.einsum("ockl,okl->c", weight.to(exact), per_tap)
        return None, grad_beta.to(weight.dtype), grad_weight.to(weight.dtype), None, None


def _inside(size_in: int, size_out: int, kernel: int, stride: int, padding: int, like: torch.Tensor) -> torch.Tensor:
    """``V[k, i]`` = 1 where kernel tap ``k`` of output row ``i`` reads a row of the picture, not padding."""
    rows = torch.arange(size_out, device=like.device).mul(stride).unsqueeze(0) \
        + torch.arange(kernel, device=like.device).unsqueeze(1) - padding
    return ((rows >= 0) & (rows < size_in)).to(like.dtype)
