"""Convolutions, spike pooling and the readout as dense matrices over flat ``C, H, W`` vectors.

Lava's ``Conv`` process model is far slower on CPU than ``Dense`` (DESIGN.md section 6), and the
transformer's maps are small, so every spatial layer is unrolled into the equivalent dense
(Toeplitz) matrix. Flat vectors use C order over ``C, H, W`` (SLAYER's axes without N and T).
"""

from __future__ import annotations

import numpy as np


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_matrix(
    weight: np.ndarray,
    in_shape: tuple[int, int, int],
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> np.ndarray:
    """Dense matrix ``(O*H'*W', C*H*W)`` of a convolution with ``weight`` ``(O, C, kH, kW)``."""
    out_ch, in_ch, kh, kw = weight.shape
    c, h, w = in_shape
    if c != in_ch:
        raise ValueError(f"convolution expects {in_ch} input channels, the input has {c}")
    ho = conv_out_size(h, kh, stride, padding, dilation)
    wo = conv_out_size(w, kw, stride, padding, dilation)
    m = np.zeros((out_ch, ho, wo, in_ch, h, w), dtype=weight.dtype)
    for i in range(kh):
        for j in range(kw):
            for oy in range(ho):
                iy = oy * stride - padding + i * dilation
                if not 0 <= iy < h:
                    continue
                for ox in range(wo):
                    ix = ox * stride - padding + j * dilation
                    if 0 <= ix < w:
                        m[:, oy, ox, :, iy, ix] += weight[:, :, i, j]
    return m.reshape(out_ch * ho * wo, in_ch * h * w)


def pool_matrix(
    in_shape: tuple[int, int, int], kernel: int = 3, stride: int = 2, padding: int = 1
) -> np.ndarray:
    """Per-channel sum-pool matrix; with a threshold below one spike it is the spike max-pool."""
    c = in_shape[0]
    ones = np.zeros((c, c, kernel, kernel), dtype=np.int32)
    ones[np.arange(c), np.arange(c)] = 1
    return conv_matrix(ones, in_shape, stride, padding)


def readout_matrix(weight: np.ndarray, in_shape: tuple[int, int, int]) -> np.ndarray:
    """``(classes, C*H*W)``: the readout weight applied to every token and summed over tokens."""
    _, h, w = in_shape
    return np.repeat(weight, h * w, axis=1)
