"""Reference simulator of a network file in numpy ``int64`` (the integer semantics of
docs/hdf5-format.md), batched over samples and time aligned with PyTorch (no latency).

Layouts: SLAYER ``N, C, H, W, T``. Units: currents ``a`` in weight units (8-bit mantissas),
neuron states ``u, v`` in state units (weight units * 64), as Lava's ``PyLifModelBitAcc``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lava_ds2ta.errors import FormatError, StateOverflowError
from lava_ds2ta.export.reader import LayerSpec, NetworkSpec

#: Lava wraps ``u`` and clips ``v`` at 24 bits; SLAYER does neither.
STATE_LIMIT = 1 << 23


def _pair(v: Any) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


def conv(x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Integer 2-d convolution of ``x`` (``N, Cin, H, W, T``) with ``w`` (``Cout, Cin/g, kH, kW``)
    at every time step (cross-correlation, zero padding, as ``torch.nn.functional.conv3d``)."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, cin, h, wd, t = x.shape
    cout, cg, kh, kw = w.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, ph), (pw, pw), (0, 0)))
    w = w.astype(np.int64)
    out = np.zeros((n, cout, ho, wo, t), dtype=np.int64)
    og = cout // groups
    for g in range(groups):
        xg, wg = xp[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                           j * dw : j * dw + sw * (wo - 1) + 1 : sw]  # fmt: skip
                out[:, g * og : (g + 1) * og] += np.einsum("oc,nchwt->nohwt", wg[:, :, i, j], patch)
    return out


def tasa_window(c: np.ndarray, tau: int, window: int) -> np.ndarray:
    """``a[t] = sum_{m < window, t-m >= 0} floor(c[t-m] / 2^(tau m))`` (arithmetic right shift)."""
    a = c.copy()
    for m in range(1, window):
        if m < c.shape[-1]:
            a[..., m:] += np.right_shift(c[..., :-m], tau * m)
    return a


def _trunc_decay(x: np.ndarray, decay: int) -> np.ndarray:
    """``trunc0(x * (4096 - decay) / 4096)``: Loihi's decay, rounding toward zero."""
    y = x * (4096 - int(decay))
    return np.sign(y) * np.right_shift(np.abs(y), 12)


def cuba_lif(a: np.ndarray, neuron: dict[str, Any], bias: np.ndarray | None, name: str = ""):
    """CUBA LIF on currents ``a`` (``N, C, H, W, T``, weight units); returns binary spikes and
    the largest ``|u|``, ``|v|`` reached (state units). ``bias`` is ``(C,)`` in weight units."""
    n, c = a.shape[:2]
    b = np.zeros(c, np.int64) if bias is None else np.asarray(bias, np.int64)
    b = (64 * b).reshape(1, c, *([1] * (a.ndim - 3)))
    vth = 64 * int(neuron["vThMant"])
    u = np.zeros(a.shape[:-1], np.int64)
    v = np.zeros(a.shape[:-1], np.int64)
    s = np.zeros(a.shape, np.int64)
    umax = vmax = 0
    for t in range(a.shape[-1]):
        u = _trunc_decay(u, neuron["iDecay"]) + 64 * a[..., t]
        v = _trunc_decay(v, neuron["vDecay"]) + u + b
        umax, vmax = max(umax, int(np.abs(u).max())), max(vmax, int(np.abs(v).max()))
        if umax >= STATE_LIMIT or vmax >= STATE_LIMIT:
            raise StateOverflowError(
                f"layer {name}: neuron state reached 2^23 at time step {t} "
                f"(|u| {umax}, |v| {vmax}); Lava would wrap/clip it: reduce weights or inputs"
            )
        spk = v > vth
        s[..., t] = spk
        v = np.where(spk, 0, v)
    return s, umax, vmax


def spike_maxpool(x: np.ndarray, kernel=3, stride=2, padding=1) -> np.ndarray:
    """Max over each ``kernel`` window (logical OR for binary spikes), zero padding."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    n, c, h, w, t = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw), (0, 0)))
    out = np.zeros((n, c, ho, wo, t), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, xp[:, :, i : i + sh * (ho - 1) + 1 : sh,
                                     j : j + sw * (wo - 1) + 1 : sw])  # fmt: skip
    return out


def attention_current(q, k, v, heads: int, d: int, tables, shift: int) -> np.ndarray:
    """``a = (A V) * 2^(6 - shift)`` with ``A = tables[h][Q_h K_h^T]`` (or ``Q_h K_h^T``), per
    head and time step; ``q, k, v`` are ``N, D, H, W, T`` spikes; result in weight units."""
    n, dim, hh, ww, t = v.shape
    qh, kh, vh = (z.reshape(n, heads, d, hh * ww, t) for z in (q, k, v))
    s = np.einsum("nhcit,nhcjt->nhtij", qh, kh)
    if tables is not None:
        tab = np.asarray(tables, np.int64)
        s = tab[np.arange(heads).reshape(1, -1, 1, 1, 1), s]
    out = np.einsum("nhtij,nhcjt->nhcit", s, vh).reshape(v.shape)
    return out * (1 << (6 - shift))


def readout(x: np.ndarray, layer: LayerSpec) -> np.ndarray:
    """``logits_int[k] = sum_{h,w,t} (W x)[k] + H W T b[k]`` (units: 64 H W T logits)."""
    w, b = (np.asarray(layer.params[k], np.int64) for k in ("weight", "bias"))
    hwt = int(np.prod(x.shape[2:]))
    return x.sum(axis=(2, 3, 4)) @ w.T + hwt * b


def input_levels(spec: NetworkSpec, x: np.ndarray) -> np.ndarray:
    """Encode images in [0, 1] (``N, C, H, W[, T]``) as the model does: ``floor(x L + 0.5)``."""
    p = spec.layers[0].params
    return np.floor(np.asarray(x, np.float64) * p["inputLevels"] + 0.5).astype(np.int64)


def _lif_layer(layer: LayerSpec, a: np.ndarray, stats: dict | None) -> np.ndarray:
    bias = layer.params.get("bias")
    s, umax, vmax = cuba_lif(a, layer.neuron, bias, f"{layer.index} ({layer.name})")
    if stats is not None:
        stats[layer.index] = {"a_max": int(np.abs(a).max()), "u_max": umax, "v_max": vmax}
    return s


def simulate(
    spec: NetworkSpec, x_levels: np.ndarray, stats: dict | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Run ``spec`` on integer input levels ``x_levels`` (``N, C, H, W`` repeated over T, or
    ``N, C, H, W, T``). Returns ``(logits_int (N, classes), {layer index: N, C, H, W, T int64})``;
    the readout has no entry in the dict. Pass ``stats={}`` to collect per-layer ``a_max``,
    ``u_max``, ``v_max``. Raises :class:`StateOverflowError` if a state reaches 2^23."""
    x = np.asarray(x_levels, dtype=np.int64)
    first = spec.layers[0]
    if x.ndim == 4:
        x = np.repeat(x[..., None], int(first.params["timeSteps"]), axis=-1)
    if first.type != "input" or x.ndim != 5 or tuple(x.shape[1:4]) != first.shape:
        raise FormatError(
            f"simulate: input of shape {x.shape} does not match layer 0 {first.type} {first.shape}"
        )
    out: dict[int, np.ndarray] = {0: x}
    logits = None
    for layer in spec.layers[1:]:
        p, ins = layer.params, [out[j] for j in layer.inputs]
        if layer.type in ("conv", "tasa"):
            a = conv(ins[0], p["weight"], p["stride"], p["padding"], p["dilation"], p["groups"])
            if layer.type == "tasa":
                a = tasa_window(a, int(p["tau"]), int(p["window"]))
            out[layer.index] = _lif_layer(layer, a, stats)
        elif layer.type == "spikeMaxPool":
            out[layer.index] = spike_maxpool(ins[0], p["kernelSize"], p["stride"], p["padding"])
        elif layer.type == "add":
            out[layer.index] = sum(ins[1:], ins[0].copy())
        elif layer.type == "attention":
            tables = p.get("tables") if p["denoiser"] == "nsad" else None
            a = attention_current(*ins, p["numHeads"], p["headDim"], tables, p["scaleShift"])
            out[layer.index] = _lif_layer(layer, a, stats)
        elif layer.type == "readout":
            logits = readout(ins[0], layer)
        else:
            raise FormatError(f"simulate: layer {layer.index} type {layer.type!r} not supported")
    return logits, out
