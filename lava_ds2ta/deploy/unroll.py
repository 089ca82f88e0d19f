"""The unrolled form of a convolution: its dense (Toeplitz) matrix over flat ``W, H, C`` vectors,
and byte counts for the builder's synapse-memory report.

``ds2ta-run-cpu --synapses unrolled`` builds every convolution as a 1x1 convolution of this
matrix: memory grows with the image (``O H' W' x C H W`` weights), which only small maps afford.
"""

from __future__ import annotations

import numpy as np

from lava_ds2ta.layers.conv import ConvGeometry
from lava_ds2ta.layers.conv import conv_output_shape


def unrolled_matrix(weight: np.ndarray, in_shape, geometry: ConvGeometry) -> np.ndarray:
    """``(W' H' O, W H C)`` matrix of the cross-correlation with ``weight`` ``(O, C/g, kH, kW)``
    of a ``(C, H, W)`` input; rows and columns flat in Lava's ``W, H, C`` order."""
    (sy, sx), (py, px), (dy, dx), groups = geometry
    o, cg, kh, kw = weight.shape
    c, h, w = in_shape
    _, ho, wo = conv_output_shape(in_shape, weight.shape, geometry)
    m = np.zeros((wo, ho, o, w, h, c), dtype=weight.dtype)
    og = o // groups
    for g in range(groups):
        out_c, in_c = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
        for ky in range(kh):
            for kx in range(kw):
                for oy in range(ho):
                    iy = oy * sy - py + ky * dy
                    for ox in range(wo):
                        ix = ox * sx - px + kx * dx
                        if 0 <= iy < h and 0 <= ix < w:
                            m[ox, oy, out_c, ix, iy, in_c] += weight[out_c, :, ky, kx]
    return m.reshape(wo * ho * o, w * h * c)


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError  # unreachable
