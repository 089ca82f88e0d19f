"""``dense`` and ``dense_rec`` (netx): fully connected synapses, optional per-synapse delays, a
CUBA LIF (netx's non-leaky default neuron when the layer has none), recurrent weights for
``dense_rec``.

Current in weight units, time aligned (a delay ``D`` is a real shift of ``D`` steps)::

    a[i, t] = sum_j weight[i, j] x[j, t - delay[i, j]]   (+ sum_j weight_rec[i, j] s[j, t - 1])

Lava: netx's own ``Network.create_dense`` block (Lava ``Dense``/``DelayDense`` + ``LIF``, weights
through netx's ``optimize_weight_bits``), so the graph is exactly the one netx builds.

Operations (``ops``): every nonzero input value reaches ``outFeatures`` synapses, every spike of a
``dense_rec`` layer its ``outFeatures`` recurrent synapses (``syn``); neuron updates and spikes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.lib.dl.netx.blocks.process import Dense as NetxDense
from lava.lib.dl.netx.blocks.process import RecurrentDense as NetxRecurrentDense
from lava.lib.dl.netx.hdf5 import Network

from lava_ds2ta.fixed_point import BIAS_MAX
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import DELAY_MAX
from lava_ds2ta.fixed_point import VTH_MAX
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import Builder
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import SynapseGroup
from lava_ds2ta.layers.base import Usage
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.cuba import check_neuron
from lava_ds2ta.layers.cuba import is_cuba
from lava_ds2ta.layers.cuba import lif_reference
from lava_ds2ta.layers.cuba import neuron_ops

#: netx's neuron for a ``dense`` layer without a ``neuron`` group (``create_dense``): a
#: non-leaky integrator that never fires within 17 bits.
NETX_DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": DECAY_SCALE, "vThMant": VTH_MAX + 1,
                       "refDelay": 1, "gradedSpike": False}  # fmt: skip
_COPY_KEYS = ("weight", "weight_rec", "bias")  # netx's NetDict hands these out as arrays


class _LayerConfig(dict):
    """A read layer as the dict-like ``NetDict`` view netx's ``Network.create_*`` expect."""

    @property
    def f(self) -> _LayerConfig:
        return self


def _netx_config(layer: LayerSpec) -> _LayerConfig:
    cfg = _LayerConfig(layer.params)
    for key in _COPY_KEYS:
        if key in cfg:
            cfg[key] = np.asarray(cfg[key]).astype(int).copy()
    cfg["shape"] = np.asarray(layer.shape)
    if layer.neuron is not None:
        cfg["neuron"] = dict(layer.neuron)
    return cfg


@register("dense")
class DenseLayer(LayerType):
    """netx dense block."""


    has_neuron = True
    recurrent = False
    fields = (
        Field("inFeatures", "input neurons", lo=1, hi=SIZE_MAX),
        Field("outFeatures", "output neurons", lo=1, hi=SIZE_MAX),
        Field("weight", "(out, in) weights", "ints", lo=-256, hi=255),
        Field("delay", "synaptic delays, per output or input neuron", "ints", lo=0,
              hi=DELAY_MAX, required=False),  # fmt: skip
        Field("bias", "per-neuron bias, weight units", "ints", lo=-BIAS_MAX, hi=BIAS_MAX,
              required=False),  # fmt: skip
    )

    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        if spec.version > 0:
            fail(f"{self.name} layers only come from plain netx files")
        p = layer.params
        n_in, n_out = int(p["inFeatures"]), int(p["outFeatures"])
        if np.size(p["weight"]) != n_in * n_out or layer.size != n_out:
            fail(f"weight {np.shape(p['weight'])} / shape {layer.shape} do not fit "
                 f"{n_in} -> {n_out} features")  # fmt: skip
        src = spec.layers[layer.inputs[0]] if layer.inputs else None
        if src is not None and src.size != n_in:
            fail(f"inFeatures {n_in} differs from the input's {src.size} neurons")
        if "delay" in p and np.size(p["delay"]) not in (1, n_in, n_out):
            fail(f"delay has {np.size(p['delay'])} values (1, {n_in} or {n_out} expected)")
        if layer.neuron is not None and is_cuba(layer.neuron):
            check_neuron(layer.neuron, fail)

    def weights(self, layer: LayerSpec) -> tuple[np.ndarray, np.ndarray]:
        """``(weight (out, in), delay (out, in))`` as int64."""
        p = layer.params
        w = np.rint(np.asarray(p["weight"], np.float64)).astype(np.int64)
        w = w.reshape(int(p["outFeatures"]), -1)
        d = np.rint(np.asarray(p.get("delay", 0), np.float64)).astype(np.int64).reshape(-1)
        if d.size == w.shape[0]:
            d = np.repeat(d[:, None], w.shape[1], axis=1)
        elif d.size == w.shape[1]:
            d = np.repeat(d[None, :], w.shape[0], axis=0)
        return w, np.broadcast_to(d, w.shape)

    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """``outFeatures`` neurons reading ``inFeatures`` axons (plus their own for
        ``dense_rec``); a delay field per synapse (the largest delay is what Loihi checks)."""
        w, d = self.weights(layer)
        groups = [SynapseGroup("dense", "weight", w, axons=w.shape[1], delay=int(d.max(initial=0)))]
        if self.recurrent:
            rec = np.rint(np.asarray(layer.params["weight_rec"], np.float64)).astype(np.int64)
            groups.append(SynapseGroup("dense", "recurrent", rec, axons=rec.shape[1]))
        nz = sum(g.nonzero for g in groups)
        neuron = layer.neuron or NETX_DEFAULT_NEURON
        graded = {}
        if not is_cuba(neuron):  # sigma-delta and other graded neurons: netx's message bits
            graded["graded spikes (netx)"] = (1 << (int(neuron.get("messageBits", 16)) - 1)) - 1
        return Usage(
            place="neuro", neurons=layer.size, grid=(layer.size,), groups=groups,
            connections=nz, fan_in=int(max((np.count_nonzero(g.weights, axis=1).max(initial=0)
                                            for g in groups), default=0)),
            fan_out=int(max((np.count_nonzero(g.weights, axis=0).max(initial=0)
                             for g in groups), default=0)),
            neuron=neuron, bias=layer.params.get("bias"), graded=graded,
        )  # fmt: skip

    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        x = inputs[0].reshape(inputs[0].shape[0], -1, inputs[0].shape[-1]).astype(np.int64)
        w, d = self.weights(layer)
        a = np.zeros((x.shape[0], w.shape[0], x.shape[-1]), np.int64)
        for delay in np.unique(d):
            wd = np.where(d == delay, w, 0)
            shifted = np.pad(x, ((0, 0), (0, 0), (delay, 0)))[..., : x.shape[-1]]
            a += np.einsum("oi,nit->not", wd, shifted)
        neuron = layer.neuron or NETX_DEFAULT_NEURON
        rec = None
        if self.recurrent:
            rec = np.rint(np.asarray(layer.params["weight_rec"], np.float64)).astype(np.int64)
        bias = layer.params.get("bias")
        s, umax, vmax = lif_reference(a, neuron, bias, f"{layer.index} ({layer.name})", rec)
        if stats is not None:
            stats[layer.index] = {"a_max": int(np.abs(a).max()), "u_max": umax, "v_max": vmax}
        return s

    def ops(self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray):
        events = np.count_nonzero(inputs[0]) + (np.count_nonzero(output) if self.recurrent else 0)
        return {"syn": float(events * layer.size), **neuron_ops(output)}

    def dense_macs(self, layer: LayerSpec) -> int:
        return int(np.size(layer.params["weight"]) + np.size(layer.params.get("weight_rec", [])))

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        (x,) = inputs
        cfg: dict[str, Any] = _netx_config(layer)
        if not net.fixed:
            net.fail(layer, "netx blocks have fixed-point models only: run with tag fixed_pt")
        if "weight/imag" in cfg:
            net.fail(layer, "complex dense layers cannot be deployed")
        net.require_cuba(layer, layer.neuron or NETX_DEFAULT_NEURON)
        latency = x.latency + 1
        block, _ = Network.create_dense(
            cfg,
            input_message_bits=0 if x.binary else 24,
            reset_interval=net.period,
            reset_offset=net.reset_offset(latency),
            rec=self.recurrent,
        )
        if not isinstance(block, (NetxDense, NetxRecurrentDense)):
            net.fail(layer, f"unexpected netx block {type(block).__name__}")
        net.connect(x, block.inp)
        net.add(block)
        bits = int((layer.neuron or {}).get("messageBits", 0))
        return Signal([(block.out, latency)], layer.shape, binary=bits == 0, probe=block.out)


@register("dense_rec")
class DenseRecLayer(DenseLayer):
    """netx recurrent dense block: the layer's own spikes feed back one step later."""

    recurrent = True
    fields = DenseLayer.fields + (Field("weight_rec", "(out, out) recurrent weights", "ints",
                                        lo=-256, hi=255),)  # fmt: skip
