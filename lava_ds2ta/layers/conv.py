"""``conv``: a 2-d convolution synapse and a CUBA LIF (SLAYER's conv block; netx's ``conv``).

Current in weight units, per time step, a zero-padded grouped cross-correlation (as
``torch.nn.functional.conv2d``)::

    a[n, o, y, x, t] = sum_{c, i, j} weight[o, c, i, j] in[n, c, y sy + i dy - py,
                                                           x sx + j dx - px, t]

Lava: Lava's own shared-weight ``Conv`` process (weights stored once per kernel, as Loihi 2's
conv synapses store them; on the CPU our exact BLAS model, :mod:`lava_ds2ta.proc.conv`), one step
of latency, then the neurons.

Operations (``ops``): ``syn`` = sum over nonzero input values of their fan-out, the
``(O / g) x (output positions whose window holds the input position)`` synapses they reach (fewer
at the borders: padding reads no input); a graded value is one accumulate like a binary spike.
A non-spiking network computes ``O H' W' (C / g) kH kW`` multiply-accumulates (``dense_macs``).
"""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

import numpy as np

from lava_ds2ta.errors import ExportError
from lava_ds2ta.fixed_point import BIAS_MAX
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.base import summands
from lava_ds2ta.layers.cuba import NeuronLayer
from lava_ds2ta.proc.conv.kernel import out_size

#: netx files may store weights up to 8 bits of magnitude (Lava's sign modes), ours are even.
WEIGHT_LIMIT = 256


class ConvGeometry(NamedTuple):
    """``stride``, ``padding``, ``dilation`` as ``(y, x)`` pairs and ``groups``."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


def pair(value: Any) -> tuple[int, int]:
    """A ``kernelSize``/``stride``/``padding``/``dilation`` dataset (one or two values) as
    ``(y, x)``."""
    a = np.asarray(value).reshape(-1)
    return (int(a[0]), int(a[-1]))


def conv_weight(layer: LayerSpec) -> np.ndarray:
    """``weight`` as ``(out, in/groups, kH, kW)`` int64 (netx files add a trailing axis)."""
    w = np.asarray(layer.params["weight"])
    return np.rint(w.reshape(w.shape[:4])).astype(np.int64)


def conv_output_shape(in_shape, weight_shape, geometry: ConvGeometry) -> tuple[int, int, int]:
    """``(O, H', W')`` of a convolution of a ``(C, H, W)`` input."""
    (sy, sx), (py, px), (dy, dx), _ = geometry
    o, _, kh, kw = weight_shape
    return (o, out_size(in_shape[1], kh, sy, py, dy), out_size(in_shape[2], kw, sx, px, dx))


def conv2d(x: np.ndarray, w: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """Integer cross-correlation of ``x`` (``N, Cin, H, W, T``) with ``w``
    (``Cout, Cin/g, kH, kW``) at every time step; int64 ``N, Cout, H', W', T``."""
    (sh, sw), (ph, pw), (dh, dw), groups = geometry
    n, _, _, _, t = x.shape
    cout, cg, kh, kw = w.shape
    _, ho, wo = conv_output_shape(x.shape[1:4], w.shape, geometry)
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (ph, ph), (pw, pw), (0, 0)))
    out = np.zeros((n, cout, ho, wo, t), dtype=np.int64)
    og = cout // groups
    for g in range(groups):
        xg, wg = xp[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og].astype(np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                           j * dw : j * dw + sw * (wo - 1) + 1 : sw]  # fmt: skip
                out[:, g * og : (g + 1) * og] += np.einsum("oc,nchwt->nohwt", wg[:, :, i, j], patch)
    return out


def fan_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """Along one axis: for each of the ``size`` input positions, how many (output position,
    kernel tap) pairs read it, int64 ``(size,)``."""
    out = out_size(size, kernel, stride, padding, dilation)
    taps = np.arange(out)[:, None] * stride + np.arange(kernel)[None, :] * dilation
    return np.bincount(taps.ravel(), minlength=size + 2 * padding)[padding : padding + size]


def synaptic_events(
    x: np.ndarray, weight_shape, geometry: ConvGeometry, taps: np.ndarray | None = None
) -> float:
    """Synaptic operations of a convolution on the input that occurred: every nonzero value of
    ``x`` (``N, C, H, W, T``) times its fan-out, ``(O / g) x`` the output positions that read
    it, weighted per time step by ``taps`` (``(T,)``, how many delayed copies act; default 1)."""
    (sy, sx), (py, px), (dy, dx), groups = geometry
    o, _, kh, kw = weight_shape
    _, _, h, w, t = x.shape
    reach = np.outer(fan_out(h, kh, sy, py, dy), fan_out(w, kw, sx, px, dx)) * (o // groups)
    taps = np.ones(t, np.int64) if taps is None else taps
    return float(np.einsum("nhwt,hw,t->", np.count_nonzero(x, axis=1), reach, taps))


@register("conv")
class ConvLayer(NeuronLayer):
    """Convolution + CUBA LIF; with ``kernelSize`` 1 a token-wise projection."""


    fields = (
        Field("inChannels", "input channels C", lo=1, hi=SIZE_MAX),
        Field("outChannels", "output channels O", lo=1, hi=SIZE_MAX),
        Field("kernelSize", "kernel (kH, kW)", "pair", lo=1, hi=SIZE_MAX),
        Field("stride", "stride (sy, sx)", "pair", lo=1, hi=SIZE_MAX),
        Field("padding", "zero padding (py, px)", "pair", lo=0, hi=SIZE_MAX),
        Field("dilation", "dilation (dy, dx)", "pair", lo=1, hi=SIZE_MAX),
        Field("groups", "groups g", lo=1, hi=SIZE_MAX),
        Field("weight", "(O, C/g, kH, kW) weight mantissas (ours: even, in [-256, 254])", "ints",
              lo=-WEIGHT_LIMIT, hi=WEIGHT_LIMIT - 1, dtype="int16"),  # fmt: skip
        Field("bias", "(O,) per-channel bias, weight units", "ints", lo=-BIAS_MAX, hi=BIAS_MAX,
              dtype="int32", optional_in_netx=True),  # fmt: skip
    )

    def write(self, handle, shape: tuple[int, ...], **values: Any) -> None:
        if np.any(np.asarray(values["weight"]) % 2):
            raise ExportError(
                f"{self.name} layer: weights are not even 8-bit mantissas; "
                "use the neuron's quantize_8bit pre-hook"
            )
        super().write(handle, shape, **values)

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        p, w = layer.params, np.asarray(layer.params["weight"])
        cin, cout, groups = int(p["inChannels"]), int(p["outChannels"]), int(p["groups"])
        kh, kw = pair(p["kernelSize"])
        if w.ndim not in (4, 5) or w.shape[:4] != (cout, cin // groups, kh, kw):
            fail(f"weight has shape {w.shape}, expected {(cout, cin // groups, kh, kw)} "
                 "(outChannels, inChannels/groups, kernelSize)")  # fmt: skip
        if "bias" in p and np.size(p["bias"]) not in (1, cout):
            fail(f"bias has {np.size(p['bias'])} values, expected outChannels = {cout}")
        if spec.version > 0 and np.any(w % 2):
            fail("weights are not even 8-bit mantissas")
        src = spec.layers[layer.inputs[0]] if layer.inputs else None
        if src is not None and len(src.shape) == 3:
            c, h, wd = src.shape
            if c != cin or cin % groups or cout % groups:
                fail(f"inChannels {cin} (groups {groups}) does not fit the input's {c} channels")
            out = conv_output_shape(src.shape, (cout, cin // groups, kh, kw), self.geometry(layer))
            out = self.output_shape(layer, out, fail)
            if tuple(layer.shape) != out:
                fail(f"shape {layer.shape} does not match the convolution's output {out}")

    def output_shape(self, layer: LayerSpec, conv_out: tuple[int, int, int], fail: Failure):
        """The layer's ``(C, H, W)`` from its convolution's output (a pooling may shrink it)."""
        return conv_out

    @staticmethod
    def geometry(layer: LayerSpec) -> ConvGeometry:
        p = layer.params
        return ConvGeometry(pair(p["stride"]), pair(p["padding"]), pair(p.get("dilation", 1)),
                            int(p.get("groups", 1)))  # fmt: skip

    def current(self, layer: LayerSpec, inputs: list[np.ndarray]) -> np.ndarray:
        return conv2d(inputs[0], conv_weight(layer), self.geometry(layer))

    def synapse_groups(self, layer: LayerSpec, replicas: int) -> list[SynapseGroup]:
        """The layer's synapses as Loihi 2 stores them: one shared kernel."""
        w = conv_weight(layer)
        return [SynapseGroup("conv", "kernel", w, axons=replicas * int(np.prod(w.shape[1:])),
                             taps=int(np.prod(w.shape[1:])), replicas=replicas,
                             channels=w.shape[0])]  # fmt: skip

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """Neurons ``O H' W'``; each reads ``C/g kH kW`` weights of a shared kernel (per summand
        of its input), and an input spike reaches ``ceil(kH/sy) ceil(kW/sx) O/g`` neurons."""
        parts = summands(spec, layer.inputs[0]) if layer.inputs else 1
        groups = self.synapse_groups(layer, parts)
        (sy, sx), _, _, g = self.geometry(layer)
        o, cg, kh, kw = conv_weight(layer).shape
        fan_in = sum(gr.taps * gr.replicas for gr in groups)
        return Usage(
            place="neuro", neurons=layer.size, grid=tuple(layer.shape), groups=groups,
            connections=layer.size * fan_in, fan_in=fan_in,
            fan_out=len(groups) * -(-kh // sy) * -(-kw // sx) * (o // g),
            neuron=layer.neuron, bias=layer.params.get("bias"),
        )  # fmt: skip

    def synapse(self, layer: LayerSpec, inputs: list[Signal], net: Builder):
        (x,) = inputs
        port, _ = net.conv(layer, conv_weight(layer), x, self.geometry(layer))
        return port, x.latency + 1

    def taps(self, layer: LayerSpec, time_steps: int) -> np.ndarray:
        """How many copies of the weights an input at step ``t`` reaches within its sample,
        ``(T,)``: one for a plain convolution."""
        return np.ones(time_steps, np.int64)

    def synapse_ops(self, layer: LayerSpec, inputs: list[np.ndarray]) -> dict[str, float]:
        (x,) = inputs
        taps = self.taps(layer, x.shape[-1])
        return {"syn": synaptic_events(x, conv_weight(layer).shape, self.geometry(layer), taps)}

    def dense_macs(self, layer: LayerSpec) -> int:
        return int(np.prod(layer.shape[1:])) * conv_weight(layer).size
