"""The hardware-form Lava graph: what Loihi 2 neuro cores run as Lava's standard processes.

:class:`HardwareBuilder` builds a network file as it would be mapped to Loihi 2 (docs/loihi2.md):

- convolutions, token projections and the spike max-pool: Lava's ``Conv`` (8-bit weights, a
  weight exponent) into ``LIF`` neurons (CUBA, 12-bit decays, 24-bit states);
- DS2TA's TASA synapse: one ``Conv`` per tap ``m`` with weight exponent ``-tau m``, reading the
  input delayed by ``m`` steps;
- delays (TASA taps, path alignment): chains of relays, each a ``Sparse`` identity synapse into a
  memoryless ``LIF`` that fires on any input (one step per relay);
- the relay chains of TASA taps start with an AND gate of the spike and an enable from a clock
  register (one ``LIF`` and a shift ``Sparse``), so that a tap never reads the spikes a layer
  fires from its bias before its sample arrives;
- MA-SNN's ``gatedConv``: ``Conv`` into graded relay neurons (Lava's ``GradedVec``, threshold
  0: the current as a 24-bit graded spike, no state) read by the host's
  :class:`~lava_ds2ta.proc.gate.process.GatedLIF` (pooling, gates, gated LIF);
- residual sums: no process; every reader gets the summands on its own synapses (graded input);
- the readout: a ``Conv`` of ones (token sum) into a ``Dense`` (graded, 8-bit weights);
- host/embedded side only: MA-SNN's gated neurons, the attention product (``Q K^T``, NSAD
  lookup, ``A V``: :class:`~lava_ds2ta.proc.attention.process.SpikingAttention`), the input frames
  (:class:`~lava_ds2ta.proc.source.process.FrameSource`) and the recorders (probes).

Samples are isolated as on hardware, by the host: every sample runs ``T + latency`` steps (zero
frames after its ``T``) and then every per-sample state of the graph (:data:`STATE_VARS`: ``u``,
``v``, synapse buffers, GatedLIF's TA buffers) is cleared (:func:`run_hardware_form`). In the
simulation each process's model does that clearing itself at the start of every period
(:func:`clearing_models`): Lava's ``Var.set`` sends a Var one element per message, which for
the MA-SNN TCSA net (155 594 state elements) took 5.6 s per sample. On the CPU the ``Conv``
processes run our exact BLAS models (:data:`~lava_ds2ta.proc.conv.models.FAST_MODELS`), which
apply ``weight_exp`` as Lava's ``Dense`` does (accumulate, then shift).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from lava.magma.compiler.compiler_graphs import ProcGroupDiGraphs
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.graded.process import GradedVec
from lava.proc.lif.process import LIF
from lava.proc.sparse.process import Sparse

from lava_ds2ta.deploy.builder import NetworkBuilder
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.deploy.runner import LavaResult
from lava_ds2ta.deploy.runner import from_lava
from lava_ds2ta.deploy.runner import to_frames
from lava_ds2ta.fixed_point import DECAY_SCALE
from lava_ds2ta.layers import LayerSpec
from lava_ds2ta.layers import NetworkSpec
from lava_ds2ta.layers import Signal
from lava_ds2ta.layers.conv import ConvGeometry
from lava_ds2ta.layers.conv import conv_output_shape
from lava_ds2ta.loihi.resources import WEIGHT_BITS
from lava_ds2ta.loihi.resources import weight_format
from lava_ds2ta.proc.attention.process import SpikingAttention
from lava_ds2ta.proc.conv.models import FAST_MODELS
from lava_ds2ta.proc.gate.process import GatedLIF
from lava_ds2ta.proc.recorder.process import Recorder
from lava_ds2ta.proc.source.process import FrameSource

#: Lava's standard processes that Loihi 2 neuro cores run.
NEURO_CORE_PROCESSES = (Conv, Dense, Sparse, LIF, GradedVec)
#: Our processes that run on the host or the embedded cores (never on neuro cores).
HOST_PROCESSES = (SpikingAttention, GatedLIF, FrameSource, Recorder)
#: State variables cleared between samples: neuron states, synapse buffers, and GatedLIF's
#: potential ``v``, TA buffer ``x_buf`` and gated currents ``gated`` (not its weights).
STATE_VARS = ("u", "v", "a_buf", "a_buff", "x_buf", "gated")
#: Processes without state across steps (nothing to clear).
MEMORYLESS = (GradedVec,)


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
        # Steps per sample including the flush: neurons are reset when their sample arrives
        # (LIFReset), the host clears every other state between samples.
        self.period = period
        self._relays: dict[tuple[int, int, int | None], Any] = {}
        self._clock: LIF | None = None

    # ----------------------------------------------------------------------- delays
    def relay(self, port: Any, steps: int, gate: int | None = None) -> Any:
        """``port``'s binary spikes ``steps`` steps later: a chain of ``Sparse`` identity
        synapses into memoryless ``LIF`` relays (shared by every reader of the same delay).

        With ``gate`` (the latency of ``port``) the first relay passes only the spikes of the
        current sample (sample steps >= 0): it is an AND of the spike and the
        :meth:`clock` register's neuron ``gate``.
        Before its sample arrives a layer may fire from its bias alone (its ``LIFReset`` resets
        it only when the sample arrives); a TASA tap reading ``m`` steps back would see those
        spikes, which the reference (zero before the sample) does not have."""
        # Latency 0 has nothing before its sample; without a period (or a latency beyond it)
        # samples are not isolated (streamed on hardware, docs/loihi2.md): no gate.
        gate = gate if gate and self.period and gate < self.period else None
        key = (id(port), steps, gate)
        if key in self._relays:
            return self._relays[key]
        prev = port if steps == 1 else self.relay(port, steps - 1, gate)
        n = int(np.prod(port.shape))
        syn = Sparse(weights=sp.identity(n, dtype=np.int32, format="csr"), num_message_bits=0,
                     name=f"relay{steps}.syn")  # fmt: skip
        # du = 4095: no current memory; dv = 4095: v / 4096 is 0 for the 0 left by a reset.
        # vth 0 fires on one input (v = 64); a gate (vth 1) needs the spike and the enable (128).
        vth = 1 if gate is not None and steps == 1 else 0
        lif = LIF(shape=(n,), du=DECAY_SCALE - 1, dv=DECAY_SCALE - 1, vth=vth,
                  name=f"relay{steps}" + ("g" if gate is not None else ""))  # fmt: skip
        prev.connect(syn.s_in)
        syn.a_out.connect(lif.a_in)
        self.add(syn, lif)
        if vth:
            select = np.zeros((n, self.period), np.int32)
            select[:, gate] = 1
            en = Sparse(weights=sp.csr_matrix(select), num_message_bits=0, name="relay1.enable")
            self.clock().connect(en.s_in)
            en.a_out.connect(lif.a_in)
            self.add(en)
        self._relays[key] = lif.s_out
        return lif.s_out

    def clock(self) -> Any:
        """The clock register's spikes (``period`` neurons): neuron ``k`` spikes at every step of
        the period from step ``k`` on (0-based; a part of latency ``k`` emits its sample's first
        step there). Neuron 0 fires from its bias alone (above threshold, no memory), neuron
        ``k`` relays neuron ``k - 1`` (a shift ``Sparse``); a gate reads its latency's neuron.
        The host's clearing at the start of every period silences it again."""
        n = int(self.period)
        if self._clock is None:
            bias = np.zeros(n, np.int32)
            bias[0] = 1
            self._clock = LIF(shape=(n,), du=DECAY_SCALE - 1, dv=DECAY_SCALE - 1, vth=0,
                              bias_mant=bias, bias_exp=0, name="clock")  # fmt: skip
            shift = sp.eye(n, k=-1, dtype=np.int32, format="csr")
            syn = Sparse(weights=shift, num_message_bits=0, name="clock.shift")
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


def clearing_models(processes: list[Any], period: int, cfg: Loihi2SimCfg) -> dict[type, type]:
    """The host's clearing between samples, done by the models: for every process class of the
    graph with per-sample state (:data:`STATE_VARS`), the ProcessModel ``cfg`` selects for it,
    extended to zero those Vars at the start of every period (steps ``1 + k period``, ``k >= 1``;
    Lava counts steps from 1), exactly as ``Var.set`` of zeros between two ``period``-step runs
    would, without Lava's element-per-message ``Var.set``. For ``cfg.exception_proc_model_map``."""
    out: dict[type, type] = {}
    for proc in processes:
        names = tuple(v.name for v in proc.vars if v.name in STATE_VARS)
        if type(proc) in out or isinstance(proc, MEMORYLESS) or not names:
            continue
        model = cfg.select(proc, ProcGroupDiGraphs._find_proc_models(proc))
        out[type(proc)] = _clearing(model, names, period)
    return out


def _clearing(model: type, names: tuple[str, ...], period: int) -> type:
    """``model`` whose ``run_spk`` first zeroes ``names`` at the start of every period."""
    if not issubclass(model, PyLoihiProcessModel):
        raise TypeError(f"{model.__name__}: only Loihi-protocol Python models can be cleared")

    def run_spk(self) -> None:
        if self.time_step > 1 and (self.time_step - 1) % period == 0:
            for name in names:
                getattr(self, name)[...] = 0
        model.run_spk(self)

    return type(f"Clearing{model.__name__}", (model,), {"run_spk": run_spk})


def run_hardware_form(spec: NetworkSpec, x_levels: np.ndarray, record: bool = True,
                      on_build=None) -> LavaResult:  # fmt: skip
    """Run ``x_levels`` (``N, C, H, W, T``) through the hardware-form graph on ``Loihi2SimCfg``
    ``fixed_pt``: the samples one after the other, ``T + latency`` steps each (zero frames after
    the ``T``), every per-sample state cleared between two (:func:`clearing_models`)."""
    n, _, _, _, t = x_levels.shape
    frames = to_frames(x_levels.astype(np.int64))
    with LavaSession(samples=n, period=t) as session:
        (session.workdir / "probe").mkdir()
        # the latency does not depend on the period (MA-SNN's TA needs one to be built)
        probe = HardwareBuilder(spec, frames[:, :t], session.workdir / "probe", period=t).build()
        period = t + probe.output_latency
        session.period = period  # a sample takes a whole period (for the interrupt line)
        padded = np.zeros((frames.shape[0], n * period), np.int64)
        for i in range(n):
            padded[:, i * period : i * period + t] = frames[:, i * t : (i + 1) * t]
        (session.workdir / "run").mkdir()
        builder = HardwareBuilder(spec, padded, session.workdir / "run", record, period)
        net = builder.build()
        if on_build is not None:
            on_build(net)
        base = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=FAST_MODELS["fixed_pt"])
        models = {**FAST_MODELS["fixed_pt"], **clearing_models(net.processes, period, base)}
        cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)
        ran = False
        try:
            started = time.perf_counter()
            session.run(net.source, 1, cfg)  # compiles the graph and starts Lava
            start = time.perf_counter()
            session.run(net.source, n * period - 1, cfg)
            seconds = time.perf_counter() - start
            ran = True
            out = _windows(np.load(net.output), net.output_latency, n, t, period)
            logits = from_lava(out, net.output_shape, n, t).reshape(n, -1, t).sum(axis=-1)
            logits = logits + t * net.step_bias[None, :]
            spikes = {i: from_lava(_windows(np.load(p), lat, n, t, period), shape, n, t)
                      for i, (p, lat, shape) in net.spikes.items()}  # fmt: skip
        finally:
            session.stop(failed=not ran)
    logits = np.rint(logits).astype(np.int64)
    spikes = {k: np.rint(v).astype(np.int64) for k, v in spikes.items()}
    return LavaResult(logits, spikes, n * period, seconds, len(net.processes),
                      startup_seconds=start - started, memory=net.memory)  # fmt: skip


def _windows(data: np.ndarray, latency: int, n: int, t: int, period: int) -> np.ndarray:
    """The ``T`` columns of each sample (sample ``i`` starts at ``i period + latency``)."""
    return np.concatenate(
        [data[:, i * period + latency : i * period + latency + t] for i in range(n)], axis=1
    )
