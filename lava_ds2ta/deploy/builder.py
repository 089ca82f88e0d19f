"""Build a Lava process graph from a network file: a dispatcher over the layer types.

Every layer of the file is built by its layer type (``LayerType.build`` in
:mod:`lava_ds2ta.layers`), which creates Lava processes through the helpers of
:class:`NetworkBuilder` and returns the layer's output :class:`~lava_ds2ta.layers.Signal`.

Timing. Each synapse hop (``Dense``, ``TASADense``) costs Lava one step; neurons, attention and
fan-in sums cost none. A layer's *latency* is the step offset at which it sees a sample's first
frame. Paths meeting in a residual sum are aligned with :class:`SpikeDelay` processes, so every
layer sees exactly the time-aligned sequence the PyTorch model computes, shifted by its latency.
Samples follow each other every ``T`` steps; neuron states and TASA histories are cleared when a
new sample reaches the layer (``reset_interval = T``, ``reset_offset = 1 + latency``), so one
compiled network streams a whole data set in ``N T + depth`` steps. A plain netx file without a
known ``T`` is never reset (netx's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import NoReturn

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.proc.dense.process import Dense

from lava_ds2ta.errors import FormatError
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import Signal
from lava_ds2ta.layers.cuba import is_cuba
from lava_ds2ta.layers.cuba import lava_lif
from lava_ds2ta.layers.validate import validate_network
from lava_ds2ta.proc.delay.process import SpikeDelay
from lava_ds2ta.proc.recorder.process import Recorder
from lava_ds2ta.proc.source.process import FrameSource

TAGS = ("fixed_pt", "floating_pt")


@dataclass
class LavaNetwork:
    """The built process graph and where to read its results.

    ``output`` (the last layer's value per step: the readout's logits, or a netx chain's last
    spikes) and every entry of ``spikes`` (layer index -> (file, latency, shape)) are ``.npy``
    files of shape ``(neurons, steps)`` that :class:`Recorder` processes fill; column ``k`` holds
    Lava step ``k + 1``. ``step_bias`` is added to ``output`` at every step when it is read.
    """

    source: FrameSource
    output: Path
    output_latency: int
    step_bias: np.ndarray
    num_steps: int
    spikes: dict[int, tuple[Path, int, tuple[int, ...]]] = field(default_factory=dict)
    processes: list[Any] = field(default_factory=list)


class NetworkBuilder:
    """Builds the Lava graph of ``spec`` fed with ``frames`` ``(C*H*W, N*T)`` integer levels.

    Layer types use :meth:`add`, :meth:`connect`, :meth:`dense`, :meth:`weights`, :meth:`lif`,
    :meth:`reset_offset` and :meth:`fail`; ``fixed`` tells the precision, ``period`` the steps
    per sample (``None``: never reset), ``frames`` the input. Recordings go to ``workdir``.
    """

    def __init__(
        self,
        spec: NetworkSpec,
        frames: np.ndarray,
        workdir: Path,
        tag: str = "fixed_pt",
        record: bool = False,
    ) -> None:
        if tag not in TAGS:
            raise ValueError(f"tag must be one of {TAGS}, got {tag!r}")
        self.spec = spec
        self.frames = np.asarray(frames, np.int64)
        self.fixed = tag == "fixed_pt"
        self.period = spec.time_steps
        self.record = record
        self.workdir = Path(workdir)
        self.processes: list[Any] = []
        self.source: FrameSource | None = None
        self._delays: dict[tuple[int, int], OutPort] = {}
        # Latency grows by at most one step per layer: recordings this long hold every step.
        self.buffer = self.frames.shape[1] + len(spec.layers) + 2

    # ----------------------------------------------------------------- for layer types
    def fail(self, layer: LayerSpec, problem: str) -> NoReturn:
        """Raise a one-line :class:`FormatError` naming the layer."""
        name = f" ({layer.name})" if layer.name else ""
        raise FormatError(f"{self.spec.path}: layer {layer.index}{name}: {problem}")

    def add(self, *processes: Any) -> None:
        """Register processes (for counting and reporting)."""
        self.processes.extend(processes)

    def weights(self, w: np.ndarray) -> np.ndarray:
        """Integer mantissas in fixed point, real weights (mantissa / 64) in floating point."""
        return w.astype(np.int32) if self.fixed else w.astype(np.float64) / W_SCALE

    def dense(self, w: np.ndarray, x: Signal, name: str, mantissas: bool = False) -> Dense:
        """A Lava ``Dense`` with integer mantissas ``w`` (exact: 9 weight bits for mixed signs,
        no exponent) reading ``x``; graded inputs use 24 message bits. In floating point the
        weights are real (``w / 64``) unless ``mantissas`` (output in weight units)."""
        lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
        bits = 9 if lo < 0 < hi else 8
        syn = Dense(
            weights=w.astype(np.float64) if mantissas and not self.fixed else self.weights(w),
            num_weight_bits=bits,
            weight_exp=0,
            num_message_bits=0 if x.binary else 24,
            name=name,
        )
        self.connect(x, syn.s_in)
        self.add(syn)
        return syn

    def connect(self, signal: Signal, in_port: InPort, target: int | None = None) -> None:
        """Connect every part of ``signal`` to ``in_port`` (Lava sums them), each delayed to the
        latency ``target`` (default: the signal's own) with a shared :class:`SpikeDelay`."""
        target = signal.latency if target is None else target
        for port, lat in signal.parts:
            if lat < target:
                key = (id(port), target - lat)
                if key not in self._delays:
                    delay = SpikeDelay(shape=port.shape, delay=target - lat)
                    port.connect(delay.s_in)
                    self.add(delay)
                    self._delays[key] = delay.s_out
                port = self._delays[key]
            port.connect(in_port)

    def reset_offset(self, latency: int) -> int:
        """Phase at which a new sample reaches a part of latency ``latency``."""
        return (1 + latency) % self.period if self.period else 0

    def require_cuba(self, layer: LayerSpec, neuron: dict[str, Any] | None) -> None:
        if not is_cuba(neuron):
            kind = None if neuron is None else neuron.get("type")
            self.fail(layer, f"neuron type {kind!r} cannot be deployed (CUBA/LOIHI only)")

    def lif(self, layer: LayerSpec, n: int, latency: int, bias: np.ndarray | None):
        """Lava LIF neurons for ``layer.neuron``, reset when a new sample arrives."""
        self.require_cuba(layer, layer.neuron)
        reset = None if not self.period else (self.period, self.reset_offset(latency))
        name = layer.name or f"layer{layer.index}"
        lif = lava_lif(layer.neuron, n, bias, self.fixed, reset, name)
        self.add(lif)
        return lif

    # --------------------------------------------------------------------- recording
    def recorder(self, port: OutPort, name: str) -> Path:
        """Record ``port`` into ``workdir/<n>_<name>.npy`` (``neurons x buffer``)."""
        path = self.workdir / f"{len(self.processes):03d}_{name}.npy"
        dtype = np.int32 if self.fixed else np.float64
        n = int(np.prod(port.shape))
        np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, self.buffer))
        rec = Recorder(shape=(n,), steps=self.buffer, path=str(path), name=f"{name}.recorder")
        port.connect(rec.a_in)
        self.add(rec)
        return path

    # ------------------------------------------------------------------------- build
    def build(self) -> LavaNetwork:
        spec = self.spec
        validate_network(spec)
        if spec.layers[0].type != "input":
            self.fail(spec.layers[0], "the network has no 'input' layer to feed; add one")
        signals: dict[int, Signal] = {}
        spikes: dict[int, tuple[Path, int, tuple[int, ...]]] = {}
        for layer in spec.layers:
            kind = REGISTRY.get(layer.type)
            if kind is None:
                self.fail(layer, f"layer type {layer.type!r} cannot be deployed")
            out = kind.build(layer, [signals[j] for j in layer.inputs], self)
            signals[layer.index] = out
            if self.record and out.probe is not None and not kind.logits:
                path = self.recorder(out.probe, layer.name or f"layer{layer.index}")
                spikes[layer.index] = (path, out.latency, tuple(out.shape))
        if self.source is None:
            raise FormatError(f"{spec.path}: the network has no input layer")
        last = spec.layers[-1]
        final = signals[last.index]
        if last.index in spikes:
            output = spikes[last.index][0]
        elif len(final.parts) == 1:
            output = self.recorder(final.parts[0][0], last.name or f"layer{last.index}")
        else:
            self.fail(last, "the last layer must be one process (a readout or a spiking layer)")
        bias = np.zeros(final.size, np.int64) if final.step_bias is None else final.step_bias
        return LavaNetwork(
            source=self.source,
            output=output,
            output_latency=final.latency,
            step_bias=bias,
            num_steps=self.frames.shape[1] + final.latency,
            spikes=spikes,
            processes=self.processes,
        )

