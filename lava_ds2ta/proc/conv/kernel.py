"""Exact integer convolution in Lava's layout through BLAS.

Lava's ``Conv`` takes inputs ``(X, Y, C)`` (``W, H, C``), weights ``(C_out, kX, kY, C_in / g)``
applied as a *true* convolution (the kernel flipped, as ``scipy.signal.convolve2d``), and
``stride``/``padding``/``dilation`` as ``(X, Y)`` pairs; its output is ``(X', Y', C_out)``.
:func:`conv_xyc` computes exactly that as an im2col matrix product.

Exactness. A float product-sum of integers is exact while every partial sum stays below the
float's integer range: ``2^24`` in float32, ``2^53`` in float64. :class:`ConvKernel` bounds the
sums by ``max_o sum |w_o| * max |x|`` at every call and picks float32, float64 or (beyond
``2^53``) int64 arithmetic, so the result always equals integer arithmetic.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_FLOAT32_EXACT, _FLOAT64_EXACT = 1 << 24, 1 << 53


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class ConvKernel:
    """A fixed convolution (Lava's conventions) applied to ``(X, Y, C)`` arrays.

    Parameters are Lava ``Conv`` Vars: ``weight`` ``(O, kX, kY, C/g)`` (true convolution),
    ``stride``, ``padding``, ``dilation`` as ``(X, Y)`` and ``groups``.
    """

    def __init__(self, weight: np.ndarray, stride, padding, dilation, groups: int) -> None:
        o, kx, ky, cg = weight.shape
        self.kernel = (kx, ky)
        self.stride, self.padding, self.dilation = (
            tuple(int(v) for v in p) for p in (stride, padding, dilation)
        )
        self.groups = int(groups)
        self.og, self.cg = o // self.groups, cg
        # Cross-correlation weights as a matrix per group: rows (i, j, c), columns o.
        cc = np.asarray(weight)[:, ::-1, ::-1, :]
        self.depthwise = self.groups > 1 and self.og == 1 and cg == 1
        self._mat = cc.reshape(self.groups, self.og, kx * ky * cg).transpose(0, 2, 1)
        self._mats: dict[np.dtype, np.ndarray] = {}
        self.row_bound = int(np.abs(cc.reshape(o, -1)).astype(np.int64).sum(axis=1).max())

    def mats(self, dtype: np.dtype) -> np.ndarray:
        """The weight matrices ``(groups, kX kY C/g, O/g)`` in ``dtype`` (made once)."""
        if dtype not in self._mats:
            self._mats[dtype] = np.ascontiguousarray(self._mat, dtype=dtype)
        return self._mats[dtype]

    def _dtype(self, x: np.ndarray, exact: bool) -> np.dtype:
        if not exact:
            return np.dtype(np.float64)
        bound = self.row_bound * int(np.abs(x).max(initial=0))
        if bound < _FLOAT32_EXACT:
            return np.dtype(np.float32)
        return np.dtype(np.float64 if bound < _FLOAT64_EXACT else np.int64)

    def columns(self, x: np.ndarray) -> np.ndarray:
        """im2col: ``(X', Y', kX, kY, C)`` windows of the zero-padded input."""
        (kx, ky), (sx, sy) = self.kernel, self.stride
        (px, py), (dx, dy) = self.padding, self.dilation
        if (kx, ky, sx, sy, px, py) == (1, 1, 1, 1, 0, 0):
            return x[:, :, None, None, :]
        xp = np.pad(x, ((px, px), (py, py), (0, 0)))
        win = sliding_window_view(xp, (dx * (kx - 1) + 1, dy * (ky - 1) + 1), axis=(0, 1))
        win = win[::sx, ::sy, :, ::dx, ::dy]  # (X', Y', C, kX, kY)
        return win.transpose(0, 1, 3, 4, 2)

    def __call__(self, x: np.ndarray, exact: bool = True) -> np.ndarray:
        """The convolution of ``x`` ``(X, Y, C)``; integer-valued (exact) when ``exact``."""
        dtype = self._dtype(x, exact)
        cols = self.columns(x.astype(dtype, copy=False))
        xo, yo = cols.shape[:2]
        if self.depthwise:
            w = self.mats(dtype)[:, :, 0].reshape(self.groups, *self.kernel)
            return np.einsum("xyijc,cij->xyc", cols, w)
        out = np.empty((xo, yo, self.groups * self.og), dtype=dtype)
        for g in range(self.groups):
            c = cols[..., g * self.cg : (g + 1) * self.cg].reshape(xo * yo, -1)
            part = c @ self.mats(dtype)[g]
            out[..., g * self.og : (g + 1) * self.og] = part.reshape(xo, yo, -1)
        return out


def wrap24(a: np.ndarray) -> np.ndarray:
    """Signed 24-bit wrap-around (Lava's fixed-point ``Conv`` output and Loihi's currents)."""
    return (a + (1 << 23)) % (1 << 24) - (1 << 23)
