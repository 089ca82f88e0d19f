"""Build a Lava process graph from a network file: a dispatcher over the layer types.

Every layer of the file is built by its layer type (``LayerType.build`` in
:mod:`lava_ds2ta.layers`), which creates Lava processes through the helpers of
:class:`NetworkBuilder` and returns the layer's output :class:`~lava_ds2ta.layers.Signal`.

Timing. Each synapse hop (``Dense``, ``Conv``, ``TASAConv``) costs Lava one step; neurons,
attention and fan-in sums cost none; an MA-SNN layer with TA holds each sample ``T`` steps. A
layer's *latency* is the step offset at which it sees a sample's first
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
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense

from lava_ds2ta.deploy.unroll import format_bytes
from lava_ds2ta.deploy.unroll import unrolled_matrix
from lava_ds2ta.errors import FormatError
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.layers import REGISTRY
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import Signal
from lava_ds2ta.layers.conv import ConvGeometry
from lava_ds2ta.layers.conv import conv_output_shape
from lava_ds2ta.layers.cuba import is_cuba
from lava_ds2ta.layers.cuba import lava_lif
from lava_ds2ta.layers.validate import validate_network
from lava_ds2ta.proc.delay.process import SpikeDelay
from lava_ds2ta.proc.recorder.process import Recorder
from lava_ds2ta.proc.source.process import FrameSource
from lava_ds2ta.proc.tasa.process import TASAConv

TAGS = ("fixed_pt", "floating_pt")
#: How the builder builds convolutions: Lava's shared-weight ``Conv`` (memory grows with the
#: kernel) or the unrolled dense matrix (memory grows with the image; small maps only).
SYNAPSES = ("conv", "unrolled")
#: Synapse memory accounted per weight: the int32 weights of a ``Dense``; for a convolution the
#: int32 weights plus the float32/float64 copies its CPU model computes with.
DENSE_BYTES, CONV_BYTES = 4, 16


@dataclass
class LavaNetwork:
    """The built process graph and where to read its results.

    ``output`` (the last layer's value per step: the readout's logits, or a netx chain's last
    spikes; its layer has ``output_shape``) and every entry of ``spikes`` (layer index -> (file,
    latency, shape)) are ``.npy`` files of shape ``(neurons, steps)`` that :class:`Recorder`
    processes fill, neurons in Lava's flat ``W, H, C`` order; column ``k`` holds Lava step
    ``k + 1``. ``step_bias`` is added to ``output`` at every step when it is read.
    """

    source: FrameSource
    output: Path
    output_latency: int
    output_shape: tuple[int, ...]
    step_bias: np.ndarray
    num_steps: int
    spikes: dict[int, tuple[Path, int, tuple[int, ...]]] = field(default_factory=dict)
    processes: list[Any] = field(default_factory=list)
    #: Synapse memory per layer index, bytes (what :meth:`NetworkBuilder.reserve` accounted).
    memory: dict[int, int] = field(default_factory=dict)


class NetworkBuilder:
    """Builds the Lava graph of ``spec`` fed with ``frames`` ``(W*H*C, N*T)`` integer levels
    (every frame flat in Lava's ``W, H, C`` order, samples back to back).

    Layer types use :meth:`add`, :meth:`connect`, :meth:`conv`, :meth:`dense`, :meth:`weights`,
    :meth:`lif`, :meth:`reset_offset` and :meth:`fail`; ``fixed`` tells the precision,
    ``period`` the steps per sample (``None``: never reset), ``frames`` the input. Recordings go
    to ``workdir``. ``synapses`` picks shared-weight or unrolled convolutions (:data:`SYNAPSES`);
    the synapse memory of each layer is accounted in ``memory`` (bytes per layer index) before it
    is allocated, and a build beyond ``max_memory`` bytes is refused.
    """

    def __init__(
        self, spec: NetworkSpec, frames: np.ndarray, workdir: Path, tag: str = "fixed_pt",
        record: bool = False, synapses: str = "conv", max_memory: int | None = None,
    ) -> None:  # fmt: skip
        if tag not in TAGS:
            raise ValueError(f"tag must be one of {TAGS}, got {tag!r}")
        if synapses not in SYNAPSES:
            raise ValueError(f"synapses must be one of {SYNAPSES}, got {synapses!r}")
        self.unrolled = synapses == "unrolled"
        self.max_memory = max_memory
        self.memory: dict[int, int] = {}
        self.spec = spec
        self.frames = np.asarray(frames, np.int64)
        self.fixed = tag == "fixed_pt"
        self.period = spec.time_steps
        self.record = record
        self.workdir = Path(workdir)
        self.processes: list[Any] = []
        self.source: FrameSource | None = None
        self._delays: dict[tuple[int, int], OutPort] = {}
        # Latency grows by at most two steps per layer, plus the steps a layer holds a sample
        # (MA-SNN's TA: T): recordings this long hold every step.
        held = sum(REGISTRY[layer.type].delay_steps(layer, spec) for layer in spec.layers
                   if layer.type in REGISTRY)  # fmt: skip
        self.buffer = self.frames.shape[1] + 2 * len(spec.layers) + 2 + held

    # ----------------------------------------------------------------- for layer types
    def fail(self, layer: LayerSpec, problem: str) -> NoReturn:
        """Raise a one-line :class:`FormatError` naming the layer."""
        name = f" ({layer.name})" if layer.name else ""
        raise FormatError(f"{self.spec.path}: layer {layer.index}{name}: {problem}")

    def add(self, *processes: Any) -> None:
        """Register processes (for counting and reporting)."""
        self.processes.extend(processes)

    def weights(self, w: np.ndarray, mantissas: bool = False) -> np.ndarray:
        """Integer mantissas in fixed point; in floating point real weights (mantissa / 64), or
        the mantissas as floats with ``mantissas`` (a sum, or logits in weight units)."""
        if self.fixed:
            return w.astype(np.int32)
        return w.astype(np.float64) / (1 if mantissas else W_SCALE)

    def reserve(self, layer: LayerSpec, nbytes: int, what: str) -> None:
        """Account ``nbytes`` of synapse memory to ``layer`` before it is allocated; refuse, with
        one line naming the layer and the figure, a build beyond ``max_memory``."""
        self.memory[layer.index] = self.memory.get(layer.index, 0) + int(nbytes)
        total = sum(self.memory.values())
        if self.max_memory is not None and total > self.max_memory:
            self.fail(layer, f"its synapses need {format_bytes(nbytes)} ({what}), "
                             f"{format_bytes(total)} in all, over the limit of "
                             f"{format_bytes(self.max_memory)}; raise --max-memory or use "
                             "shared-weight synapses (--synapses conv)")  # fmt: skip

    def dense(self, layer: LayerSpec, w: np.ndarray, x: Signal, mantissas: bool = False) -> Dense:
        """A Lava ``Dense`` with integer mantissas ``w`` (exact: 9 weight bits for mixed signs,
        no exponent) reading ``x``; graded inputs use 24 message bits. In floating point the
        weights are real (``w / 64``) unless ``mantissas`` (output in weight units)."""
        self.reserve(layer, w.size * DENSE_BYTES, f"dense {w.shape[0]} x {w.shape[-1]}")
        lo, hi = int(w.min(initial=0)), int(w.max(initial=0))
        syn = Dense(
            weights=self.weights(w, mantissas),
            num_weight_bits=9 if lo < 0 < hi else 8,
            weight_exp=0,
            num_message_bits=0 if x.binary else 24,
            name=f"{layer.name}.syn",
        )
        self.connect(x, syn.s_in)
        self.add(syn)
        return syn

    def conv(
        self, layer: LayerSpec, weight: np.ndarray, x: Signal, geometry: ConvGeometry,
        taps: tuple[int, int] | None = None, mantissas: bool = False,
    ) -> tuple[OutPort, Any]:  # fmt: skip
        """A shared-weight convolution of ``x``: Lava's ``Conv``, or our ``TASAConv`` with
        ``taps = (tau, window)``. ``weight`` is the file's ``(O, C/g, kH, kW)`` cross-correlation
        mantissas, ``geometry`` ``(stride, padding, dilation, groups)`` with ``(y, x)`` pairs;
        ``mantissas`` as in :meth:`weights`.
        Returns the flat output port (``W, H, C`` order) and the process. With
        ``synapses="unrolled"`` the convolution is a 1x1 convolution of its dense matrix."""
        out = conv_output_shape(x.shape, weight.shape, geometry)
        if self.unrolled:
            n_in, n_out = x.size, int(np.prod(out))
            self.reserve(layer, n_in * n_out * CONV_BYTES, f"unrolled {n_out} x {n_in}")
            lava_w = unrolled_matrix(weight, x.shape, geometry)[:, None, None, :]
            in_shape, params = (1, 1, n_in), dict(stride=(1, 1), padding=(0, 0),
                                                  dilation=(1, 1), groups=1)  # fmt: skip
        else:
            c, h, w = x.shape
            cols = out[1] * out[2] * weight[0].size  # im2col workspace
            self.reserve(layer, weight.size * CONV_BYTES + cols * 8, f"conv {weight.shape}")
            lava_w = weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)
            in_shape = (w, h, c)
            stride, padding, dilation, groups = geometry
            params = dict(stride=stride[::-1], padding=padding[::-1], dilation=dilation[::-1],
                          groups=groups)  # fmt: skip
        bits = 0 if x.binary else 24
        name = f"{layer.name}.syn"
        if taps is None:
            proc = Conv(weight=self.weights(lava_w, mantissas), input_shape=in_shape, weight_exp=0,
                        num_weight_bits=8, num_message_bits=bits, name=name, **params)  # fmt: skip
        else:
            proc = TASAConv(weight=self.weights(lava_w, mantissas), input_shape=in_shape,
                            tau=taps[0], window=taps[1], reset_interval=self.period,
                            reset_offset=self.reset_offset(x.latency), num_message_bits=bits,
                            name=name, **params)  # fmt: skip
        self.connect(x, proc.s_in, shape=in_shape)
        self.add(proc)
        return proc.a_out.flatten(), proc

    def host_input(self, port: OutPort, name: str) -> OutPort:
        """The synaptic current ``port`` (flat) as a host process reads it: here the port itself
        (Lava passes a synapse's output to any process); the hardware form sends it through
        graded relay neurons (:class:`~lava_ds2ta.loihi.hardware.HardwareBuilder`)."""
        return port

    def connect(
        self, signal: Signal, in_port: InPort, target: int | None = None,
        shape: tuple[int, ...] | None = None,
    ) -> None:  # fmt: skip
        """Connect every part of ``signal`` to ``in_port`` (Lava sums them), each delayed to the
        latency ``target`` (default: the signal's own) with a shared :class:`SpikeDelay`;
        ``shape`` reshapes the flat ports (e.g. to a ``Conv``'s ``(W, H, C)``)."""
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
            (port if shape is None else port.reshape(shape)).connect(in_port)

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
            output_shape=tuple(final.shape),
            step_bias=bias,
            num_steps=self.frames.shape[1] + final.latency,
            spikes=spikes,
            processes=self.processes,
            memory=dict(self.memory),
        )

