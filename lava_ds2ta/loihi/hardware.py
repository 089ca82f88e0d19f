"""The hardware-form Lava graph: what Loihi 2 neuro cores run as Lava's standard processes.

:class:`HardwareBuilder` builds a network file as it would be mapped to Loihi 2 (docs/loihi2.md):

- convolutions, token projections and the spike max-pool: Lava's ``Conv`` (8-bit weights, a
  weight exponent) into ``LIF`` neurons (CUBA, 12-bit decays, 24-bit states);
- DS2TA's TASA synapse: one ``Conv`` per tap ``m`` with weight exponent ``-tau m``, reading the
  input delayed by ``m`` steps;
- delays (TASA taps, path alignment): chains of relays, each a ``Sparse`` identity synapse into a
  memoryless ``LIF`` that fires on any input (one step per relay);
- the relay chains of TASA taps start with an AND gate of the spike and a window neuron that
  fires in the sample's ``T`` steps (an OR of a clock register: one ``LIFReset`` and a
  ``Sparse``), so that a tap never reads the spikes a layer fires from its bias before its
  sample arrives;
- MA-SNN's ``gatedConv``: ``Conv`` into graded relay neurons (Lava's ``GradedVec``, threshold
  0: the current as a 24-bit graded spike, no state) read by the host's
  :class:`~lava_ds2ta.proc.gate.process.GatedLIF` (pooling, gates, gated LIF);
- residual sums: no process; every reader gets the summands on its own synapses (graded input);
- the readout: a ``Conv`` of ones (token sum) into a ``Dense`` (graded, 8-bit weights);
- host/embedded side only: MA-SNN's gated neurons, the attention product (``Q K^T``, NSAD
  lookup, ``A V``: :class:`~lava_ds2ta.proc.attention.process.SpikingAttention`), the input frames
  (:class:`~lava_ds2ta.proc.source.process.FrameSource`) and the recorders (probes).

Samples are isolated by the graph itself, as it runs on Loihi 2 (:func:`build_padded`): every
sample runs ``P = T + latency`` steps (zero frames after its ``T``); every stateful neuron on the
neuro-core side is a ``LIFReset`` (``reset_interval = P``) that Loihi 2's microcode zeroes when
its sample arrives, the relays are memoryless, the gates pass only the sample's ``T`` steps (a
:meth:`HardwareBuilder.clock` register of ``LIFReset`` neurons), and the host's ``GatedLIF``
resets at its own phase of the period. The same graph runs on ``Loihi2SimCfg`` here
(:func:`run_hardware_form`) and on ``Loihi2HwCfg`` (:mod:`lava_ds2ta.loihi.hwrun`). On the CPU
the ``Conv`` processes run our exact BLAS models
(:data:`~lava_ds2ta.proc.conv.models.FAST_MODELS`), which apply ``weight_exp`` as Lava's
``Dense`` does (accumulate, then shift).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from lava.magma.core.process.ports.ports import InPort
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.graded.process import GradedVec
from lava.proc.lif.process import LIF
from lava.proc.lif.process import LIFReset
from lava.proc.sparse.process import Sparse

from lava_ds2ta.deploy.builder import LavaNetwork
from lava_ds2ta.deploy.builder import NetworkBuilder
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.deploy.runner import LavaResult
from lava_ds2ta.deploy.runner import run_built
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.fixed_point import W_MAX
from lava_ds2ta.fixed_point import W_SCALE
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import Signal
from lava_ds2ta.layers.conv import ConvGeometry
from lava_ds2ta.layers.conv import conv_output_shape
from lava_ds2ta.loihi.resources import WEIGHT_BITS
from lava_ds2ta.loihi.resources import weight_format
from lava_ds2ta.proc.attention.process import SpikingAttention
from lava_ds2ta.proc.gate.process import GatedLIF
from lava_ds2ta.proc.recorder.process import Recorder
from lava_ds2ta.proc.source.process import FrameSource

#: Lava's standard processes that Loihi 2 neuro cores run.
NEURO_CORE_PROCESSES = (Conv, Dense, Sparse, LIF, GradedVec)
#: Our processes that run on the host or the embedded cores (never on neuro cores).
HOST_PROCESSES = (SpikingAttention, GatedLIF, FrameSource, Recorder)
#: Longest period the :meth:`HardwareBuilder.clock` register supports: its neuron 0 silences
#: itself with ``-W_MAX`` (``v = -W_MAX W_SCALE``) and its bias of 1 lifts ``v`` by 1 per step.
CLOCK_MAX_PERIOD = W_MAX * W_SCALE


class PortGroup:
    """Several OutPorts whose sum is one current (the taps of a TASA synapse)."""

    def __init__(self, ports: list[Any]) -> None:
        self.ports = ports

    def connect(self, in_port: InPort) -> None:
        for port in self.ports:
            port.connect(in_port)


class HardwareBuilder(NetworkBuilder):
    """:class:`NetworkBuilder` for the Loihi 2 form (fixed point)."""

    dendritic_sums = True

    def __init__(self, spec: NetworkSpec, frames: np.ndarray, workdir: Path,
                 record: bool = False, period: int | None = None) -> None:  # fmt: skip
        super().__init__(spec, frames, workdir, "fixed_pt", record)
        # Steps per sample including the flush: every neuron with state is reset by the graph
        # in every period (LIFReset; the clock register gates the relays of TASA taps).
        self.period = period
        self._relays: dict[tuple[int, int, int | None], Any] = {}
        self._clock: LIFReset | None = None
        self._windows: dict[int, Any] = {}

    # ----------------------------------------------------------------------- delays
    def relay(self, port: Any, steps: int, gate: int | None = None) -> Any:
        """``port``'s binary spikes ``steps`` steps later: a chain of ``Sparse`` identity
        synapses into memoryless ``LIF`` relays (shared by every reader of the same delay).

        With ``gate`` (the latency of ``port``) the first relay passes only the spikes of the
        current sample (its ``T`` steps): it is an AND of the spike and the :meth:`window`
        neuron of latency ``gate``.
        Before its sample arrives a layer may fire from its bias alone (its ``LIFReset`` resets
        it only when the sample arrives); a TASA tap reading ``m`` steps back would see those
        spikes, which the reference (zero before the sample) does not have."""
        # Latency 0 has nothing before its sample; without a period (or a latency beyond it)
        # samples are not isolated: no gate.
        gate = gate if gate and self.period and gate < self.period else None
        key = (id(port), steps, gate)
        if key in self._relays:
            return self._relays[key]
        prev = port if steps == 1 else self.relay(port, steps - 1, gate)
        n = int(np.prod(port.shape))
        syn = Sparse(weights=sp.identity(n, dtype=np.int32, format="csr"), num_message_bits=0,
                     name=f"relay{steps}.syn")  # fmt: skip
        # du = 4095: no current memory; dv = 4095: v / 4096 is 0 for v < 4096 (at most 128 here).
        # vth 0 fires on one input (v = 64); a gate (vth 1) needs the spike and the enable (128).
        vth = 1 if gate is not None and steps == 1 else 0
        lif = LIF(shape=(n,), du=DECAY_SCALE - 1, dv=DECAY_SCALE - 1, vth=vth,
                  name=f"relay{steps}" + ("g" if gate is not None else ""))  # fmt: skip
        prev.connect(syn.s_in)
        syn.a_out.connect(lif.a_in)
        self.add(syn, lif)
        if vth:
            en = Sparse(weights=sp.csr_matrix(np.ones((n, 1), np.int32)), num_message_bits=0,
                        name="relay1.enable")  # fmt: skip
            self.window(gate).connect(en.s_in)
            en.a_out.connect(lif.a_in)
            self.add(en)
        self._relays[key] = lif.s_out
        return lif.s_out

    def window(self, latency: int) -> Any:
        """One neuron spiking in the ``T`` steps of the period in which a part of latency
        ``latency`` emits its sample (steps ``latency .. latency + T - 1``, 0-based): an OR of
        the :meth:`clock` neurons one step earlier (memoryless ``LIF``, ``Sparse`` of ones)."""
        t = self.spec.time_steps
        if latency + t > self.period:
            raise ValueError(f"a part of latency {latency} ends after the period {self.period}")
        if latency not in self._windows:
            select = np.zeros((1, self.period - 1), np.int32)
            select[0, latency - 1 : latency + t - 1] = 1
            syn = Sparse(weights=sp.csr_matrix(select), num_message_bits=0, name="window.syn")
            lif = LIF(shape=(1,), du=DECAY_SCALE - 1, dv=DECAY_SCALE - 1, vth=0,
                      name=f"window{latency}")  # fmt: skip
            self.clock().connect(syn.s_in)
            syn.a_out.connect(lif.a_in)
            self.add(syn, lif)
            self._windows[latency] = lif.s_out
        return self._windows[latency]

    def clock(self) -> Any:
        """The clock register's spikes (``period - 1`` neurons): neuron ``k`` spikes once per
        period, at its step ``k`` (0-based; the period starts at Lava steps ``1 + i period``).

        One ``LIFReset`` (``reset_interval = period``, ``reset_offset = 1``: u and v are zeroed
        at the first step of every period, as Loihi 2's microcode does) and a ``Sparse``: neuron
        0 fires from its bias (1) in the reset step, neuron ``k`` fires from neuron ``k - 1``
        (weight 2), and every neuron silences itself after its spike (weight ``-W_MAX`` to
        itself, kept in ``v``: ``dv = 0``; ``du = 4095``, no current memory). Neuron 0's bias
        lifts its ``v`` back above 0 only after :data:`CLOCK_MAX_PERIOD` steps, hence the bound
        on the period. Nothing fires at the last step of a period, so nothing reaches the next
        one: the register holds no state across periods."""
        if self._clock is None:
            n = int(self.period) - 1
            if not 0 < n < CLOCK_MAX_PERIOD:
                raise ValueError(f"clock register: the period {self.period} must be in "
                                 f"[2, {CLOCK_MAX_PERIOD}]")  # fmt: skip
            bias = np.zeros(n, np.int32)
            bias[0] = 1
            self._clock = LIFReset(shape=(n,), du=DECAY_SCALE - 1, dv=0, vth=0, bias_mant=bias,
                                   bias_exp=0, reset_interval=self.period, reset_offset=1,
                                   name="clock")  # fmt: skip
            # even weights: Lava keeps 7 magnitude bits of a mixed-sign 8-bit weight
            shift = 2 * sp.eye(n, k=-1, dtype=np.int32) - W_MAX * sp.eye(n, dtype=np.int32)
            syn = Sparse(weights=shift.tocsr(), num_message_bits=0, name="clock.shift")
            self._clock.s_out.connect(syn.s_in)
            syn.a_out.connect(self._clock.a_in)
            self.add(self._clock, syn)
        return self._clock.s_out

    def connect(self, signal: Signal, in_port: InPort, target: int | None = None,
                shape: tuple[int, ...] | None = None, gated: bool = False) -> None:  # fmt: skip
        """Connect every part of ``signal``, delayed to the latency ``target`` by relays;
        ``gated``: the relays pass only the current sample's spikes (TASA taps)."""
        target = signal.latency if target is None else target
        for port, lat in signal.parts:
            if lat < target:
                if not self._binary_port(port):
                    raise ValueError("hardware form: only binary spikes can be delayed by relays")
                port = self.relay(port, target - lat, lat if gated else None)
            (port if shape is None else port.reshape(shape)).connect(in_port)

    def host_input(self, port: Any, name: str) -> Any:
        """A synapse's current sent to a host process: graded relay neurons (``GradedVec``,
        threshold 0) carry it in 24-bit graded spikes, in the same step (neurons cost no step)."""
        relay = GradedVec(shape=tuple(port.shape), vth=0)
        relay.name = f"{name}.relay"
        port.connect(relay.a_in)
        self.add(relay)
        return relay.s_out

    @staticmethod
    def _binary_port(port: Any) -> bool:
        proc = port.process if hasattr(port, "process") else None
        while proc is None and hasattr(port, "_parent_port"):  # virtual ports
            port = port._parent_port
            proc = getattr(port, "process", None)
        return isinstance(proc, (LIF, GatedLIF))  # GatedLIF: MA-SNN's binary spikes (host)

    # --------------------------------------------------------------------- synapses
    def dense(self, layer: LayerSpec, w: np.ndarray, x: Signal, mantissas: bool = False) -> Dense:
        bits, _ = weight_format(w)
        if bits > WEIGHT_BITS or (w.min(initial=0) < 0 < w.max(initial=0) and np.any(w % 2)):
            self.fail(layer, f"weights do not fit Loihi 2's {WEIGHT_BITS}-bit mantissas")
        syn = Dense(weights=w.astype(np.int32), num_weight_bits=WEIGHT_BITS, weight_exp=0,
                    num_message_bits=0 if x.binary else 24, name=f"{layer.name}.syn")  # fmt: skip
        self.connect(x, syn.s_in)
        self.add(syn)
        return syn

    def conv(self, layer: LayerSpec, weight: np.ndarray, x: Signal, geometry: ConvGeometry,
             taps: tuple[int, int] | None = None, mantissas: bool = False):  # fmt: skip
        """Lava ``Conv`` with 8-bit weights; a TASA synapse (``taps = (tau, window)``) is one
        ``Conv`` per tap ``m`` (exponent ``-tau m``) reading ``x`` delayed by ``m`` steps."""
        c, h, w = x.shape
        stride, padding, dilation, groups = geometry
        lava_w = weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).astype(np.int32)
        params = dict(stride=stride[::-1], padding=padding[::-1], dilation=dilation[::-1],
                      groups=groups)  # fmt: skip
        out = conv_output_shape(x.shape, weight.shape, geometry)
        self.memory[layer.index] = self.memory.get(layer.index, 0) + int(weight.size) * 4
        tau, window = taps if taps is not None else (0, 1)
        ports, procs = [], []
        for m in range(window):
            proc = Conv(weight=lava_w, input_shape=(w, h, c), weight_exp=-tau * m,
                        num_weight_bits=WEIGHT_BITS, num_message_bits=0 if x.binary else 24,
                        name=f"{layer.name}.tap{m}", **params)  # fmt: skip
            self.connect(x, proc.s_in, target=x.latency + m, shape=(w, h, c),
                         gated=taps is not None)  # fmt: skip
            self.add(proc)
            ports.append(proc.a_out.flatten())
            procs.append(proc)
        assert tuple(procs[0].a_out.shape) == (out[2], out[1], out[0])
        if taps is None:
            return ports[0], procs[0]
        return PortGroup(ports), procs


def graph_processes(net_processes: list[Any]) -> dict[str, list[str]]:
    """The graph's processes by side: ``neuro`` (Lava's standard processes), ``host`` (ours,
    host/embedded), ``other`` (anything else: must be empty in the hardware form)."""
    out: dict[str, list[str]] = {"neuro": [], "host": [], "other": []}
    for p in net_processes:
        side = ("neuro" if isinstance(p, NEURO_CORE_PROCESSES)
                else "host" if isinstance(p, HOST_PROCESSES) else "other")  # fmt: skip
        out[side].append(f"{type(p).__module__}.{type(p).__name__}:{p.name}")
    return out


def build_padded(spec: NetworkSpec, x_levels: np.ndarray, workdir: Path,
                 record: bool = False) -> tuple[LavaNetwork, int]:  # fmt: skip
    """Build the hardware-form graph for ``x_levels`` (``N, C, H, W, T``) with samples
    ``P = T + latency`` steps apart (zero frames after each sample's ``T``; the latency measured
    on a probe graph, which does not depend on the period; MA-SNN's TA needs one to be built).
    Returns the graph and ``P``; its ``num_steps`` is ``N P``. ``workdir``: an empty folder."""
    n, _, _, _, t = x_levels.shape
    frames = to_frames(np.asarray(x_levels, np.int64))
    (Path(workdir) / "probe").mkdir()
    probe = HardwareBuilder(spec, frames[:, :t], Path(workdir) / "probe", period=t).build()
    period = t + probe.output_latency
    # the last sample's zero frames are left to the source (zeros after its frames)
    padded = np.zeros((frames.shape[0], n, period), np.int64)
    padded[:, :, :t] = frames.reshape(frames.shape[0], n, t)
    padded = padded.reshape(frames.shape[0], n * period)[:, : (n - 1) * period + t]
    (Path(workdir) / "run").mkdir()
    net = HardwareBuilder(spec, padded, Path(workdir) / "run", record, period).build()
    return net, period


def run_hardware_form(spec: NetworkSpec, x_levels: np.ndarray, record: bool = True,
                      on_build=None, progress: bool = False) -> LavaResult:  # fmt: skip
    """Run ``x_levels`` (``N, C, H, W, T``) through the hardware-form graph on ``Loihi2SimCfg``
    ``fixed_pt``: the samples one after the other, ``T + latency`` steps each (zero frames after
    the ``T``), isolated by the graph itself (:func:`build_padded`)."""
    n, _, _, _, t = x_levels.shape
    with LavaSession(samples=n, period=t) as session:
        net, period = build_padded(spec, x_levels, session.workdir, record)
        session.period = period  # a sample takes a whole period (for the interrupt line)
        if on_build is not None:
            on_build(net)
        return run_built(net, n, t, "fixed_pt", progress, session, period)
