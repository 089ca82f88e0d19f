"""Build a Lava process graph from an exported network and stream samples through it.

Every layer of the file becomes Lava processes:

=============== ==============================================================================
``input``       :class:`FrameSource` (integer input levels, samples back to back)
``conv``        Lava ``Dense`` (convolution unrolled, see :mod:`.unroll`) -> Lava ``LIFReset``
``tasa``        :class:`TASADense` -> Lava ``LIFReset``
``spikeMaxPool`` Lava ``Dense`` sum-pool -> memoryless Lava ``LIF`` with threshold 0 (an OR)
``attention``   :class:`SpikingAttention` -> Lava ``LIFReset`` (same step)
``add``         no process: the summed OutPorts fan in to each consumer (Lava sums them)
``readout``     Lava ``Dense`` -> :class:`Recorder` (integer logits per step)
=============== ==============================================================================

Timing. Each synapse hop (``Dense``, ``TASADense``) costs Lava one step; neurons, attention and
fan-in sums cost none. A layer's *latency* is the step offset at which it sees a sample's first
frame. Paths meeting in a residual sum are aligned with :class:`SpikeDelay` processes, so every
layer sees exactly the time-aligned sequence the PyTorch model computes, shifted by its latency.
Samples follow each other every ``T`` steps; neuron states and TASA histories are cleared when a
new sample reaches the layer (``reset_interval = T``, ``reset_offset`` = its latency), so one
compiled network streams a whole data set in ``N T + depth`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lava.magma.core.process.ports.ports import OutPort
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIF, LIFReset

from lava_ds2ta.deploy.attention.process import SpikingAttention
from lava_ds2ta.deploy.delay.process import SpikeDelay
from lava_ds2ta.deploy.recorder.process import Recorder
from lava_ds2ta.deploy.source.process import FrameSource
from lava_ds2ta.deploy.tasa.process import TASADense
from lava_ds2ta.deploy.unroll import conv_matrix, pool_matrix, readout_matrix
from lava_ds2ta.errors import FormatError

TAGS = ("fixed_pt", "floating_pt")


@dataclass
class Signal:
    """A layer's output: OutPorts whose sum is the value, each with its latency in steps."""

    parts: list[tuple[OutPort, int]]
    shape: tuple[int, int, int]

    @property
    def latency(self) -> int:
        return max(lat for _, lat in self.parts)


@dataclass
class LavaNetwork:
    """The built process graph and where to read its results.

    ``readout`` and every entry of ``spikes`` (layer index -> (file, latency, shape)) are
    ``.npy`` files of shape ``(neurons, steps)`` that :class:`Recorder` processes fill.
    """

    source: FrameSource
    readout: Path
    readout_latency: int
    readout_bias: np.ndarray
    num_steps: int
    tokens_times_steps: int
    spikes: dict[int, tuple[Path, int, tuple[int, int, int]]] = field(default_factory=dict)
    processes: list[Any] = field(default_factory=list)


class _Builder:
    def __init__(self, spec, frames: np.ndarray, tag: str, record: bool, workdir: Path) -> None:
        if tag not in TAGS:
            raise ValueError(f"tag must be one of {TAGS}, got {tag!r}")
        self.spec = spec
        self.fixed = tag == "fixed_pt"
        self.record = record
        self.frames = frames
        self.workdir = Path(workdir)
        self.delays: dict[tuple[int, int], OutPort] = {}
        self.processes: list[Any] = []

    # ----------------------------------------------------------------------- helpers
    def weights(self, w: np.ndarray) -> np.ndarray:
        """Integer mantissas in fixed point, real weights (mantissa / 64) in floating point."""
        return w.astype(np.int32) if self.fixed else w.astype(np.float64) / 64.0

    def aligned(self, signal: Signal, target: int | None = None) -> list[OutPort]:
        """OutPorts of ``signal``, each delayed to ``target`` (default: the signal's latency)."""
        target = signal.latency if target is None else target
        ports = []
        for port, lat in signal.parts:
            if lat < target:
                key = (id(port), target - lat)
                if key not in self.delays:
                    delay = SpikeDelay(shape=port.shape, delay=target - lat)
                    port.connect(delay.s_in)
                    self.processes.append(delay)
                    self.delays[key] = delay.s_out
                port = self.delays[key]
            ports.append(port)
        return ports

    def recorder(self, port: OutPort, name: str, steps: int) -> Path:
        """Record ``port`` into ``workdir/<name>.npy`` (``neurons x steps``)."""
        path = self.workdir / f"{len(self.processes):03d}_{name}.npy"
        dtype = np.int32 if self.fixed else np.float64
        np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(port.shape[0], steps))
        rec = Recorder(shape=port.shape, steps=steps, path=str(path), name=f"{name}.recorder")
        port.connect(rec.a_in)
        self.processes.append(rec)
        return path

    def connect(self, signal: Signal, in_port, target: int | None = None) -> None:
        for port in self.aligned(signal, target):
            port.connect(in_port)

    def neuron(self, layer, n: int, latency: int, name: str):
        """A Lava LIF for a CUBA neuron description, reset when a new sample arrives."""
        cfg = layer.neuron
        bias = np.asarray(layer.params.get("bias", np.zeros(n)), dtype=np.int64)
        bias = np.repeat(bias, n // bias.size)  # per channel -> per neuron (C, H, W order)
        period = self.spec_time_steps
        common = dict(
            shape=(n,), name=name, reset_interval=period, reset_offset=(1 + latency) % period
        )
        if self.fixed:
            return LIFReset(
                du=int(cfg["iDecay"]) - 1,
                dv=int(cfg["vDecay"]),
                vth=int(cfg["vThMant"]),
                bias_mant=bias.astype(np.int32),
                bias_exp=6,
                **common,
            )
        return LIFReset(
            du=cfg["iDecay"] / 4096,
            dv=cfg["vDecay"] / 4096,
            vth=cfg["vThMant"] / 64,
            bias_mant=bias / 64.0,
            bias_exp=0,
            **common,
        )

    def spiking(self, layer, synapse, signal_in: Signal, n: int, extra_latency: int = 1):
        self.connect(signal_in, synapse.s_in)
        latency = signal_in.latency + extra_latency
        lif = self.neuron(layer, n, latency, layer.name)
        synapse.a_out.connect(lif.a_in)
        self.processes += [synapse, lif]
        return lif, latency

    # ------------------------------------------------------------------------ layers
    def build(self) -> LavaNetwork:
        spec = self.spec
        first = spec.layers[0]
        if first.type != "input":
            raise FormatError(f"{spec.path}: layer 0 must be 'input', found {first.type!r}")
        self.spec_time_steps = int(first.params["timeSteps"])
        signals: dict[int, Signal] = {}
        spikes: dict[int, tuple[Path, int, tuple[int, int, int]]] = {}
        frames = self.frames if self.fixed else self.frames.astype(np.float64)
        source = FrameSource(frames=frames)
        self.processes.append(source)
        signals[0] = Signal([(source.s_out, 0)], tuple(first.shape))
        num_steps = frames.shape[1]
        # Latency never exceeds the number of layers: recordings this long hold every step.
        buffer = num_steps + len(spec.layers) + 2
        readout = None
        for layer in spec.layers[1:]:
            ins = [signals[i] for i in layer.inputs]
            out, lif = self.layer(layer, ins, buffer)
            if layer.type == "readout":
                readout = out
                continue
            signals[layer.index] = out
            if self.record and lif is not None:
                path = self.recorder(lif.s_out, layer.name, buffer)
                spikes[layer.index] = (path, out.latency, out.shape)
        if readout is None:
            raise FormatError(f"{spec.path}: the network has no readout layer")
        sink, latency, bias, tokens = readout
        return LavaNetwork(
            source,
            sink,
            latency,
            bias,
            num_steps + latency + 1,
            tokens * self.spec_time_steps,
            spikes,
            self.processes,
        )

    def layer(self, layer, ins: list[Signal], buffer: int):
        kind = layer.type
        p = layer.params
        if kind in ("conv", "tasa"):
            (x,) = ins
            w = conv_matrix(
                np.asarray(p["weight"]),
                x.shape,
                int(_scalar(p["stride"])),
                int(_scalar(p["padding"])),
                int(_scalar(p.get("dilation", 1))),
            )
            n = w.shape[0]
            if kind == "conv":
                syn = Dense(weights=self.weights(w), num_message_bits=24, name=f"{layer.name}.syn")
            else:
                syn = TASADense(
                    weights=self.weights(w),
                    tau=int(_scalar(p["tau"])),
                    window=int(_scalar(p["window"])),
                    reset_interval=self.spec_time_steps,
                    reset_offset=(1 + x.latency) % self.spec_time_steps,
                    name=f"{layer.name}.syn",
                )
            lif, latency = self.spiking(layer, syn, x, n)
            return Signal([(lif.s_out, latency)], tuple(layer.shape)), lif
        if kind == "spikeMaxPool":
            (x,) = ins
            w = pool_matrix(
                x.shape,
                int(_scalar(p["kernelSize"])),
                int(_scalar(p["stride"])),
                int(_scalar(p["padding"])),
            )
            syn = Dense(
                weights=w.astype(np.int32) if self.fixed else w.astype(np.float64),
                num_message_bits=24,
                name=f"{layer.name}.syn",
            )
            self.connect(x, syn.s_in)
            n = w.shape[0]
            if self.fixed:
                lif = LIF(shape=(n,), du=4095, dv=4096, vth=0, name=layer.name)
            else:
                lif = LIF(shape=(n,), du=1.0, dv=1.0, vth=0.0, name=layer.name)
            syn.a_out.connect(lif.a_in)
            self.processes += [syn, lif]
            return Signal([(lif.s_out, x.latency + 1)], tuple(layer.shape)), lif
        if kind == "add":
            parts = [part for s in ins for part in s.parts]
            return Signal(parts, ins[0].shape), None
        if kind == "attention":
            q, k, v = ins
            heads, d = int(_scalar(p["numHeads"])), int(_scalar(p["headDim"]))
            tokens = q.shape[1] * q.shape[2]
            tables = p.get("tables")
            if tables is not None and np.shape(tables) != (heads, d + 1):
                raise FormatError(
                    f"{self.spec.path}: layer {layer.index} ({layer.name}): NSAD tables have "
                    f"shape {np.shape(tables)}, expected {(heads, d + 1)} (heads, headDim + 1); "
                    "re-export the model"
                )
            att = SpikingAttention(
                num_heads=heads,
                head_dim=d,
                tokens=tokens,
                tables=None if tables is None else np.asarray(tables),
                scale_shift=int(_scalar(p["scaleShift"])),
                name=layer.name,
            )
            latency = max(s.latency for s in ins)
            for s, port in ((q, att.q_in), (k, att.k_in), (v, att.v_in)):
                self.connect(s, port, latency)
            lif = self.neuron(layer, heads * d * tokens, latency, f"{layer.name}.neuron")
            att.a_out.connect(lif.a_in)
            self.processes += [att, lif]
            return Signal([(lif.s_out, latency)], tuple(layer.shape)), lif
        if kind == "readout":
            (x,) = ins
            w = readout_matrix(np.asarray(p["weight"]), x.shape)
            syn = Dense(weights=self.weights(w), num_message_bits=24, name=layer.name)
            self.connect(x, syn.s_in)
            self.processes.append(syn)
            sink = self.recorder(syn.a_out, layer.name, buffer)
            tokens = x.shape[1] * x.shape[2]
            return (sink, x.latency + 1, np.asarray(p["bias"], dtype=np.int64), tokens), None
        raise FormatError(
            f"{self.spec.path}: layer {layer.index} ({layer.name}): "
            f"layer type {kind!r} cannot be deployed"
        )


def _scalar(v) -> Any:
    a = np.asarray(v).reshape(-1)
    return a[0] if a.size else v


def build_network(
    spec, frames: np.ndarray, workdir: Path, tag: str = "fixed_pt", record: bool = False
) -> LavaNetwork:
    """Build the Lava graph for ``spec`` (a read network) fed with ``frames`` ``(n, N*T)``.

    Recordings go to ``.npy`` files in ``workdir``.
    """
    if spec.version == 0:  # a plain lava-dl netx chain
        from lava_ds2ta.deploy.netx_chain import build_netx_chain

        return build_netx_chain(spec, frames, workdir, tag, record)
    return _Builder(spec, frames, tag, record, workdir).build()
