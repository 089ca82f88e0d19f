"""Convolutions, spike pooling and the readout as dense matrices over flat ``C, H, W`` vectors.

The Lava graph of the small models uses Lava's ``Dense`` with these (Toeplitz) matrices. Flat
vectors use C order over ``C, H, W`` (SLAYER's axes without N and T).
"""

from __future__ import annotations

import numpy as np


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a zero-padded cross-correlation along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_matrix(
    weight: np.ndarray,
    in_shape: tuple[int, int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Dense ``(O*H'*W', C*H*W)`` matrix of a grouped cross-correlation (torch semantics; netx's
    flipped kernel with Lava's true convolution is the same). ``weight`` is
    ``(O, C/groups, kH, kW)``; ``stride``/``padding``/``dilation`` are ``(H, W)`` pairs."""
    out_ch, cg, kh, kw = weight.shape
    c, h, w = in_shape
    if c != cg * groups or out_ch % groups:
        raise ValueError(
            f"conv weight {weight.shape} with groups={groups} does not fit {c} channels"
        )
    ho = conv_out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv_out_size(w, kw, stride[1], padding[1], dilation[1])
    m = np.zeros((out_ch, ho, wo, c, h, w), dtype=weight.dtype)
    og = out_ch // groups
    for g in range(groups):
        o, i = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
        for ky in range(kh):
            for kx in range(kw):
                for oy in range(ho):
                    iy = oy * stride[0] - padding[0] + ky * dilation[0]
                    if not 0 <= iy < h:
                        continue
                    for ox in range(wo):
                        ix = ox * stride[1] - padding[1] + kx * dilation[1]
                        if 0 <= ix < w:
                            m[o, oy, ox, i, iy, ix] += weight[o, :, ky, kx]
    return m.reshape(out_ch * ho * wo, c * h * w)


def pool_matrix(
    in_shape: tuple[int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> np.ndarray:
    """Per-channel sum-pool matrix; with a threshold below one spike it is the spike max-pool."""
    c = in_shape[0]
    ones = np.zeros((c, c, *kernel), dtype=np.int32)
    ones[np.arange(c), np.arange(c)] = 1
    return conv_matrix(ones, in_shape, stride, padding)


def readout_matrix(weight: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """``(classes, C*H*W)``: the readout weight applied to every token, summed over tokens."""
    tokens = int(np.prod(in_shape[1:]))
    return np.repeat(weight, tokens, axis=1)
