"""Deploy a plain lava-dl netx file (a chain of layers) with the same Lava processes as netx.

lava-dl's ``netx.hdf5.Network`` builds ``input``, ``conv``, ``flatten``, ``dense`` and
``dense_rec`` layers; this module builds the same chain for :func:`runner.run_network`, reusing
netx's own parameter mapping (``Network.get_neuron_params``: ``du = iDecay - 1``,
``dv = vDecay``, ``vth = vThMant``, biases as ``bias_mant`` with ``bias_exp = 6``), netx's own
``optimize_weight_bits`` and netx's own ``Dense``/``RecurrentDense`` blocks (built by
``Network.create_dense`` from the layer's datasets, delays included). Only fixed point: netx
blocks have no floating-point models.

=============== ==================================================================================
``input``       with a neuron: a Lava ``LIF`` fed ``weight * x`` on ``a_in`` (netx's affine input
                transform; its ``bias`` becomes the neuron's ``bias_mant``). Without a neuron the
                frames go straight to the next synapse, graded if they are not 0/1.
``conv``        Lava ``Dense`` (convolution unrolled over flat ``C, H, W`` vectors; equal to Lava's
                ``Conv`` model, which netx uses, checked per layer) -> ``LIF``
``flatten``     nothing: our neuron vectors are already flat in ``C, H, W`` order, which is
                netx's ``transpose([2, 1, 0]).flatten()``
``dense``       netx ``Dense`` block (Lava ``Dense``/``DelayDense`` + ``LIF``)
``dense_rec``   netx ``RecurrentDense`` block
=============== ==================================================================================

Layouts: SLAYER tensors are ``N, C, H, W, T``; netx's Lava neurons are ``W, H, C``; every
vector here is flat in ``C, H, W`` order (so spikes equal netx's after a ``W, H, C -> C, H, W``
transpose). ``x_levels`` for :func:`runner.run_network` are ``N, C, H, W, T`` (a 1-D input of
``C`` neurons is ``N, C, 1, 1, T``), the input layer's raw input ``x`` (spikes or integer
levels).

Timing and readout. The input neuron sees frame ``k`` at Lava step ``k + 1``; every synapse costs
one step (plus its delays), so layer ``p`` of the chain has latency ``p``. The "readout" is the
last layer's spikes: ``run_network`` returns their per-sample counts as ``logits``. netx files
carry no sample length; set ``spec.config["timeSteps"] = T`` to stream samples with netx's
``reset_interval = T`` (block ``p`` is reset at steps ``= 1 + p`` mod ``T``, as in netx), else
the neurons are never reset (netx's default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from lava.lib.dl.netx.blocks.process import Dense as NetxDense
from lava.lib.dl.netx.blocks.process import RecurrentDense as NetxRecurrentDense
from lava.lib.dl.netx.hdf5 import Network
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIF, LIFReset

from lava_ds2ta.deploy.builder import LavaNetwork
from lava_ds2ta.deploy.recorder.process import Recorder
from lava_ds2ta.deploy.source.process import FrameSource
from lava_ds2ta.deploy.unroll import conv_out_size
from lava_ds2ta.errors import FormatError

#: netx's neuron for a ``dense`` layer without a ``neuron`` group (``create_dense``), kept as is.
NETX_DEFAULT_NEURON = {
    "type": "CUBA",
    "iDecay": 0,
    "vDecay": 4096,
    "vThMant": 1 << 18 - 1,
    "refDelay": 1,
    "gradedSpike": False,
}
SUPPORTED = ("input", "conv", "flatten", "dense", "dense_rec")
_COPY_KEYS = ("weight", "weight_rec", "bias")  # netx's NetDict hands these out as int arrays


class _LayerConfig(dict):
    """A read layer as the dict-like ``NetDict`` view netx's ``Network.create_*`` expect."""

    @property
    def f(self) -> _LayerConfig:
        return self


def _netx_config(layer) -> _LayerConfig:
    cfg = _LayerConfig(layer.params)
    for key in _COPY_KEYS:
        if key in cfg:
            cfg[key] = np.asarray(cfg[key]).astype(int).copy()
    cfg["shape"] = np.asarray(layer.shape)
    if layer.neuron is not None:
        cfg["neuron"] = dict(layer.neuron)
    return cfg


def _pair(v: Any) -> tuple[int, int]:
    """A netx ``stride``/``padding``/``dilation`` (scalar or ``H, W``) as ``(H, W)``."""
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def conv_matrix_2d(
    weight: np.ndarray,
    in_shape: tuple[int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Dense ``(O*H'*W', C*H*W)`` matrix of a grouped cross-correlation (torch/SLAYER semantics;
    netx's flipped kernel with Lava's true convolution is the same). ``weight`` is
    ``(O, C/groups, kH, kW)``; ``stride``/``padding``/``dilation`` are ``(H, W)``."""
    out_ch, cg, kh, kw = weight.shape
    c, h, w = in_shape
    if c != cg * groups or out_ch % groups:
        raise ValueError(
            f"conv weight {weight.shape} with groups={groups} does not fit {c} channels"
        )
    ho = conv_out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv_out_size(w, kw, stride[1], padding[1], dilation[1])
    m = np.zeros((out_ch, ho, wo, c, h, w), dtype=np.int64)
    og = out_ch // groups
    for g in range(groups):
        o, i = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
        for ky in range(kh):
            for kx in range(kw):
                for oy in range(ho):
                    iy = oy * stride[0] - padding[0] + ky * dilation[0]
                    if not 0 <= iy < h:
                        continue
                    for ox in range(wo):
                        ix = ox * stride[1] - padding[1] + kx * dilation[1]
                        if 0 <= ix < w:
                            m[o, oy, ox, i, iy, ix] += weight[o, :, ky, kx]
    return m.reshape(out_ch * ho * wo, c * h * w), (out_ch, ho, wo)


class _ChainBuilder:
    def __init__(self, spec, frames: np.ndarray, workdir: Path, tag: str, record: bool) -> None:
        if tag != "fixed_pt":
            raise ValueError(
                f"netx files run in fixed point only (netx blocks have no {tag!r} models); "
                "use tag='fixed_pt'"
            )
        self.spec = spec
        self.frames = np.asarray(frames)
        self.record = record
        self.workdir = Path(workdir)
        t = spec.config.get("timeSteps")
        self.reset_interval = None if t is None else int(t)
        self.processes: list[Any] = []

    def fail(self, layer, problem: str) -> FormatError:
        return FormatError(f"{self.spec.path}: layer {layer.index} ({layer.type}): {problem}")

    def neuron_params(self, neuron: dict, position: int, layer, input: bool = False) -> dict:
        """netx's own mapping; ``position`` is the block's index in netx's chain."""
        if str(neuron.get("type")) not in ("LOIHI", "CUBA"):
            raise self.fail(
                layer, f"neuron type {neuron.get('type')!r} cannot be deployed (CUBA/LOIHI only)"
            )
        return Network.get_neuron_params(
            neuron,
            input=input,
            reset_interval=self.reset_interval,
            reset_offset=1 + position,
        )

    def lif(self, params: dict, n: int, bias: np.ndarray | int, name: str):
        params = dict(params)
        proc = params.pop("neuron_proc")
        params.pop("bias_key", None)
        params.pop("num_message_bits", None)
        bias_mant = np.broadcast_to(np.asarray(bias), (n,)).astype(np.int32)
        if proc not in (LIF, LIFReset):
            raise FormatError(f"{self.spec.path}: {name}: neuron process {proc} not supported")
        return proc(shape=(n,), bias_mant=bias_mant, name=name, **params)

    def build(self) -> LavaNetwork:
        spec = self.spec
        for layer in spec.layers:
            if layer.type not in SUPPORTED:
                raise self.fail(layer, f"layer type {layer.type!r} cannot be deployed")
        first = spec.layers[0]
        if first.type != "input":
            raise self.fail(first, "a netx chain must start with an 'input' layer")
        n_in = int(np.prod(first.shape))
        if self.frames.shape[0] != n_in:
            raise FormatError(
                f"{spec.path}: the input layer has {n_in} neurons, "
                f"the frames have {self.frames.shape[0]}"
            )
        graded = bool(np.any((self.frames != 0) & (self.frames != 1)))
        position = 0
        shape = tuple(int(s) for s in first.shape)
        sinks: dict[int, tuple[Path, int, tuple[int, ...]]] = {}
        depth = sum(
            1 + int(np.clip(np.max(layer.params.get("delay", 0)), 0, 62))
            for layer in spec.layers[1:]
            if layer.type != "flatten"
        )
        buffer = self.frames.shape[1] + depth + 1  # recorded steps: covers every latency
        if first.neuron is not None:
            weight = int(np.asarray(first.params.get("weight", 64)).reshape(-1)[0])
            bias = int(np.asarray(first.params.get("bias", 0)).reshape(-1)[0])
            source = FrameSource(frames=(weight * self.frames).astype(np.int64), name="input")
            params = self.neuron_params(first.neuron, position, first, input=True)
            lif = self.lif(params, n_in, bias, first.name)
            source.s_out.connect(lif.a_in)
            self.processes += [source, lif]
            out, latency, bits = lif.s_out, 0, int(params.get("num_message_bits", 0))
            position += 1
            last = (first.index, out, latency, shape)
        else:
            source = FrameSource(frames=self.frames.astype(np.int64), name="input")
            self.processes.append(source)
            out, latency, bits = source.s_out, 0, (24 if graded else 0)
            last = None
        max_in = int(np.abs(self.frames).max(initial=0)) if last is None else 1
        if last is not None and self.record:
            sinks[first.index] = self.sink(out, latency, shape, buffer)
        for layer in spec.layers[1:]:
            if layer.type == "flatten":
                shape = (int(np.prod(shape)),)
                continue
            if layer.type == "conv":
                out, shape = self.conv(layer, out, shape, position, bits, max_in)
                latency += 1
            else:
                out, shape = self.dense(layer, out, position, bits)
                delay = layer.params.get("delay")
                latency += 1 + (int(np.max(np.clip(delay, 0, 62))) if delay is not None else 0)
            bits, max_in = self._out_bits(layer), 1
            position += 1
            last = (layer.index, out, latency, shape)
            if self.record:
                sinks[layer.index] = self.sink(out, latency, shape, buffer)
        if last is None:
            raise FormatError(f"{spec.path}: the network has no spiking layer")
        index, out, latency, shape = last
        readout = sinks[index][0] if index in sinks else self.sink(out, latency, shape, buffer)[0]
        num_frames = self.frames.shape[1]
        return LavaNetwork(
            source=source,
            readout=readout,
            readout_latency=latency,
            readout_bias=np.zeros(int(np.prod(shape)), dtype=np.int64),
            num_steps=num_frames + latency,
            tokens_times_steps=0,
            spikes=sinks if self.record else {},
            processes=self.processes,
        )

    def _out_bits(self, layer) -> int:
        neuron = layer.neuron or NETX_DEFAULT_NEURON
        return int(neuron.get("messageBits", 0))

    def sink(self, port, latency: int, shape: tuple[int, ...], steps: int):
        """Record ``port`` into ``workdir/<n>_netx.npy`` (``neurons x steps``, int32)."""
        n = int(np.prod(shape))
        path = self.workdir / f"{len(self.processes):03d}_netx.npy"
        np.lib.format.open_memmap(path, mode="w+", dtype=np.int32, shape=(n, steps))
        rec = Recorder(shape=(n,), steps=steps, path=str(path), name=f"{path.stem}.recorder")
        port.connect(rec.a_in)
        self.processes.append(rec)
        return path, latency, tuple(shape)

    def conv(self, layer, inp, in_shape, position: int, bits: int, max_in: int):
        """Lava ``Conv`` (netx's synapse) as an equal unrolled Lava ``Dense``."""
        p = layer.params
        if len(in_shape) != 3:
            raise self.fail(layer, f"a conv needs a C, H, W input, found shape {in_shape}")
        weight = np.asarray(p["weight"])
        weight = np.rint(weight.reshape(weight.shape[:4])).astype(np.int64)
        groups = int(np.asarray(p.get("groups", 1)).reshape(-1)[0])
        w, out_shape = conv_matrix_2d(
            weight,
            in_shape,
            _pair(p.get("stride", 1)),
            _pair(p.get("padding", 0)),
            _pair(p.get("dilation", 1)),
            groups,
        )
        if tuple(out_shape) != tuple(int(s) for s in layer.shape):
            raise self.fail(
                layer, f"output shape {out_shape} differs from the file's {layer.shape}"
            )
        # Lava's Dense model clips weights to 8 bits per sign mode and truncates LSBs below
        # num_weight_bits; Lava's Conv does neither but wraps sums to 24 bits. Use Dense only
        # where both are the identity.
        lo, hi = w.min(initial=0), w.max(initial=0)
        mixed = lo < 0 < hi
        if (mixed and (lo < -256 or hi > 255)) or (not mixed and max(-lo, hi) > 255):
            raise self.fail(layer, f"conv weights [{lo}, {hi}] exceed Lava's 8-bit synapse range")
        if int(np.abs(w).sum(axis=1).max(initial=0)) * max_in >= 1 << 23:
            raise self.fail(layer, "conv sums can exceed Lava Conv's 24-bit range")
        syn = Dense(
            weights=w.astype(np.int32),
            num_weight_bits=9 if mixed else 8,
            weight_exp=0,
            num_message_bits=bits,
            name=f"{layer.name}.syn",
        )
        inp.connect(syn.s_in)
        n = w.shape[0]
        bias = np.zeros(n, dtype=np.int64)
        if "bias" in p:
            b = np.rint(np.asarray(p["bias"])).astype(np.int64).reshape(-1)
            bias = np.repeat(b, n // b.size) if b.size != n else b
        params = self.neuron_params(layer.neuron, position, layer)
        lif = self.lif(params, n, bias, layer.name)
        syn.a_out.connect(lif.a_in)
        self.processes += [syn, lif]
        return lif.s_out, out_shape

    def dense(self, layer, inp, position: int, bits: int):
        """netx's own ``create_dense`` (weights, delays, recurrence, bias) on the read layer."""
        cfg = _netx_config(layer)
        if "weight/imag" in cfg or "weight" not in cfg:
            raise self.fail(layer, "complex or weightless dense layers cannot be deployed")
        if layer.neuron is not None:
            self.neuron_params(layer.neuron, position, layer)  # type check only
        block, _ = Network.create_dense(
            cfg,
            input_message_bits=bits,
            reset_interval=self.reset_interval,
            reset_offset=1 + position,
            rec=layer.type == "dense_rec",
        )
        if not isinstance(block, (NetxDense, NetxRecurrentDense)):
            raise self.fail(layer, f"unexpected netx block {type(block).__name__}")
        inp.connect(block.inp)
        self.processes.append(block)
        return block.out, (int(np.prod(layer.shape)),)


def build_netx_chain(
    spec, frames: np.ndarray, workdir: Path, tag: str = "fixed_pt", record: bool = False
) -> LavaNetwork:
    """Build a plain netx ``spec`` (``version == 0``) fed ``frames`` ``(C*H*W, N*T)``.

    Returns a :class:`~lava_ds2ta.deploy.builder.LavaNetwork` whose readout file (in
    ``workdir``) records the last layer's spikes (``readout_bias`` zeros,
    ``tokens_times_steps`` 0: logits are per-sample spike counts).
    """
    return _ChainBuilder(spec, frames, workdir, tag, record).build()
