"""The layer-type registry: one :class:`LayerType` per kind of layer in a network file.

A layer type owns everything the pipeline knows about its layers (docs/architecture.md):

=================== ===================================================================
``fields``           the file schema: the datasets of a ``layer/<i>`` group, their ranges and
                     meaning (:class:`Field`); the reader checks every value against them
``check``            what the fields cannot say alone (shapes against the inputs)
``write``            the exporter's side: validate and write the datasets of one layer
``reference``        the integer reference step, numpy ``int64``, time aligned with PyTorch
``build``            the Lava construction on the CPU backend (``Loihi2SimCfg``)
``usage``            what the layer needs on Loihi 2 (:class:`Usage`: neurons, synapse groups,
                     weights, delays, graded messages, host work); :mod:`lava_ds2ta.loihi`
                     judges it against the chip's limits and budgets
``ops``              the operations a layer performed on the spikes that occurred
                     (:data:`OP_KINDS` and the type's own ``op_kinds``;
                     :mod:`lava_ds2ta.report` counts and prices them)
``dense_macs``       the multiply-accumulates of the same layer in a non-spiking network
=================== ===================================================================

The reader (:mod:`lava_ds2ta.export.reader`), the reference simulator
(:mod:`lava_ds2ta.export.simulate`) and the Lava builder (:mod:`lava_ds2ta.deploy.builder`) are
short dispatchers over :data:`REGISTRY`; a new layer type is one module with one class decorated
with :func:`register`.

Layouts: reference tensors are SLAYER's ``N, C, H, W, T`` (time last); a layer's ``shape`` is
``C, H, W`` (``(C,)`` for vectors); Lava vectors are flat in ``C, H, W`` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import ClassVar
from typing import NoReturn
from typing import Protocol

import numpy as np

from lava_ds2ta.errors import ExportError
from lava_ds2ta.errors import FormatError
from lava_ds2ta.fixed_point import logit_scale

#: The ``format`` attribute of our network files and the newest ``formatVersion`` we read/write.
FORMAT = "lava_ds2ta.net"
FORMAT_VERSION = 1
#: Largest size a network file may give any dimension (channels, features, heights, kernels,
#: strides, paddings, heads): a guard against corrupt values, far above what a CPU simulation or
#: a Loihi 2 chip holds.
SIZE_MAX = 1 << 20
#: Largest ``timeSteps`` (steps per sample) of a network file (and of a model config).
TIME_STEPS_MAX = (1 << 16) - 1

@dataclass(frozen=True)
class OpKind:
    """A kind of operation :meth:`LayerType.ops` counts: what one of it is (``meaning``) and how
    the 45 nm energy convention prices it (``price``): ``"ac"`` an accumulate (``E_AC``),
    ``"mac"`` a multiply-accumulate (``E_MAC``), ``"none"`` not priced (counted for hardware
    models and rates). docs/report.md."""

    meaning: str
    price: str

    def __post_init__(self) -> None:
        if self.price not in ("ac", "mac", "none"):
            raise ValueError(f"price must be 'ac', 'mac' or 'none', not {self.price!r}")


#: The operation kinds every layer type may count, kind -> :class:`OpKind` (docs/report.md):
#: totals over the samples given. Each nonzero value a layer sends is one message; its receivers'
#: work is counted on them. A layer type with another kind of work declares it in its own
#: :attr:`LayerType.op_kinds` (MA-SNN's gates, say); :func:`op_kinds` merges them all.
OP_KINDS: dict[str, OpKind] = {
    "syn": OpKind(
        "synaptic accumulates: each nonzero input value (binary or graded) x its fan-out", "ac"
    ),
    "mac": OpKind(
        "multiply-accumulates: the synapses of a layer reading the real-valued image (the "
        "encoding layer), each nonzero input level x its fan-out",
        "mac",
    ),
    "neuron_updates": OpKind("neuron state updates: neurons x time steps", "none"),
    "spikes": OpKind("messages sent: nonzero output values (spikes or graded values)", "none"),
}


@dataclass
class LayerSpec:
    """One layer of a network file. ``shape`` is ``C, H, W`` (``(n,)`` for vectors); ``params``
    holds every other dataset (numpy arrays, 0-d values as Python scalars, strings as ``str``);
    ``neuron`` the ``neuron/`` group as a dict, or ``None``."""

    index: int
    name: str
    type: str
    inputs: list[int]
    shape: tuple[int, ...]
    params: dict[str, Any]
    neuron: dict[str, Any] | None

    @property
    def size(self) -> int:
        """Number of neurons (or values) of the layer's output."""
        return int(np.prod(self.shape))


@dataclass
class NetworkSpec:
    """A network file: ``version`` is ``formatVersion`` (0 for a plain lava-dl netx file),
    ``config`` the model config dict (empty for netx), ``layers`` in topological order."""

    version: int
    config: dict[str, Any]
    layers: list[LayerSpec]
    path: Path | None = None

    @property
    def time_steps(self) -> int | None:
        """Steps per sample: the input layer's ``timeSteps``, else ``config['timeSteps']`` (set
        by the user for netx files), else ``None`` (a netx chain that is never reset)."""
        t = self.layers[0].params.get("timeSteps", self.config.get("timeSteps"))
        return None if t is None else int(t)

    @property
    def readout(self) -> LayerSpec | None:
        """The ``readout`` layer, if the network has one."""
        last = self.layers[-1]
        return last if last.type == "readout" else None

    @property
    def logit_scale(self) -> int:
        """The network's integer logits are ``logit_scale`` times the PyTorch model's logits
        (``W_SCALE * tokens * T`` with a readout, 1 for a netx chain's spike counts)."""
        readout = self.readout
        if readout is None:
            return 1
        tokens = int(np.prod(self.layers[readout.inputs[0]].shape[1:]))
        return logit_scale(tokens, self.time_steps or 1)


@dataclass(frozen=True)
class Field:
    """One dataset of a layer group.

    ``kind``: ``"int"`` (an integer scalar, stored 0-d or ``(1,)``), ``"pair"`` (an integer or
    two, ``(y, x)``), ``"ints"`` (an integer array), ``"str"`` (one of ``choices``).
    ``lo``/``hi`` bound every element (inclusive). ``required=False`` datasets may be absent.
    ``dtype`` is what the exporter writes (integers may be read from any numeric dtype, as netx
    files store weights as floats, but must be finite and integral). ``optional_in_netx``: a
    required dataset that plain lava-dl netx files may omit.
    """

    name: str
    doc: str
    kind: str = "int"
    lo: int | None = None
    hi: int | None = None
    required: bool = True
    choices: tuple[str, ...] = ()
    dtype: str = "int64"
    optional_in_netx: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` for this dataset, or ``None``."""
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                return f"is {value!r}, expected one of {', '.join(self.choices)}"
            return None
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            return f"is not numeric ({a.dtype})"
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)):
                return "contains NaN or infinite values"
            if not np.array_equal(a, np.rint(a)):
                return "holds non-integer values"
        if self.kind == "int" and a.size != 1:
            return f"must be one integer, has shape {a.shape}"
        if self.kind == "pair" and a.size not in (1, 2):
            return f"must be one or two integers (y, x), has shape {a.shape}"
        if a.size:
            lo, hi = a.min(), a.max()
            if (self.lo is not None and lo < self.lo) or (self.hi is not None and hi > self.hi):
                bad = lo if self.lo is not None and lo < self.lo else hi
                return f"has value {bad:g} outside {self.range_text()}"
        return None

    def range_text(self) -> str:
        """The allowed values, as the docs and messages show them: ``[lo, hi]``, a choice."""
        if self.kind == "str":
            return ", ".join(f"`{c}`" for c in self.choices)
        if self.lo is None and self.hi is None:
            return "any integer"
        if self.hi is None:
            return f">= {self.lo}"
        if self.lo is None:
            return f"<= {self.hi}"
        return f"[{self.lo}, {self.hi}]"


#: Datasets of every layer group besides ``type`` (and ``name``, a string): the reader checks
#: them like a layer type's fields.
COMMON_FIELDS = (
    Field("shape", "output shape C, H, W ((n,) for vectors)", "ints", lo=1, hi=SIZE_MAX),
    Field("inputs", "indices of the input layers, each below the layer's own", "ints", lo=0,
          hi=SIZE_MAX, dtype="int32"),  # fmt: skip
)


@dataclass
class SynapseGroup:
    """Synapses of one layer that Loihi 2 stores together (one weight exponent, one delay).

    ``kind`` ``"conv"``: a shared kernel (``taps`` = ``C/g kH kW`` weights per output channel,
    stored once per core for the core's channels); ``"dense"``: a matrix of ``axons`` inputs
    (``nonzero`` weights). ``weights`` are the integer weights (mantissas in the file's units),
    ``exponent`` the weight exponent the layer adds (TASA taps: ``-tau m``), ``delay`` in steps,
    ``replicas`` how many input populations feed it (one per summand of a residual sum).
    """

    kind: str
    label: str
    weights: np.ndarray
    axons: int
    taps: int = 1
    exponent: int = 0
    delay: int = 0
    replicas: int = 1
    channels: int = 1

    @property
    def nonzero(self) -> int:
        return int(np.count_nonzero(self.weights))


@dataclass
class Usage:
    """What a layer needs on Loihi 2, in the layer's own terms (no budgets, no limits).

    ``place``: ``"neuro"`` (neuro cores), ``"host"`` (host / embedded cores), ``"neuro+host"``
    (a host product feeding neurons on neuro cores), ``"none"`` (no process: a view or a sum
    done at the readers' dendrites). ``neurons`` on neuro cores with ``grid`` their ``C, H, W``
    output (tiled by the resource model); ``connections`` the synaptic connections (unrolled:
    one per input-output pair that a spike crosses); ``fan_in`` per neuron, ``fan_out`` per
    input neuron; ``graded`` the largest magnitude of each graded message the layer sends or
    receives (``label -> value``, bits are derived); ``host_macs`` the multiply-accumulates per
    step that host/embedded cores do; ``tables`` lookup tables (NSAD) held on the host.
    """

    place: str = "none"
    neurons: int = 0
    grid: tuple[int, ...] = ()
    groups: list[SynapseGroup] = field(default_factory=list)
    connections: int = 0
    fan_in: int = 0
    fan_out: int = 0
    neuron: dict[str, Any] | None = None
    bias: np.ndarray | None = None
    graded: dict[str, int] = field(default_factory=dict)
    host_macs: int = 0
    tables: np.ndarray | None = None
    note: str = ""


def summands(spec: NetworkSpec, index: int) -> int:
    """How many spike populations add up to layer ``index``'s output (an ``add`` of ``k`` layers
    is read as ``k`` populations summed at the readers' dendrites; other layers are one)."""
    layer = spec.layers[index]
    if layer.type != "add":
        return 1
    return sum(summands(spec, j) for j in layer.inputs)


class LayerType:
    """Base of all layer types; subclasses set the class attributes and override methods."""

    #: The ``type`` dataset value this class handles (set by :func:`register`).
    name: ClassVar[str] = ""
    #: The datasets of a layer group besides ``type``, ``shape``, ``name``, ``inputs``.
    fields: ClassVar[tuple[Field, ...]] = ()
    #: Whether the layer has a CUBA ``neuron/`` group (:mod:`lava_ds2ta.layers.cuba`).
    has_neuron: ClassVar[bool] = False
    #: Allowed number of inputs (our files; netx files are chains).
    num_inputs: ClassVar[tuple[int, int]] = (1, 1)
    #: Its output is the network's integer logits per step (the readout), not spikes.
    logits: ClassVar[bool] = False
    #: Operation kinds this type counts beyond the common :data:`OP_KINDS`, name -> kind.
    op_kinds: ClassVar[dict[str, OpKind]] = {}

    # ----------------------------------------------------------------------- file side
    def check(self, layer: LayerSpec, spec: NetworkSpec, fail: Failure) -> None:
        """Check what the fields alone cannot (shapes against the input layers
        ``spec.layers[j]``, ``j`` in ``layer.inputs``); report a problem with ``fail(...)``."""

    def write(self, handle, shape: tuple[int, ...], **values: Any) -> None:
        """Write ``type``, ``shape`` and this type's datasets into an HDF5 group.

        ``values`` holds every field (and ``neuron``, a dict, for layers with a neuron). Values
        are checked against :attr:`fields` first: a value outside its range raises
        :class:`~lava_ds2ta.errors.ExportError` naming the dataset.
        """
        write_str(handle, "type", self.name)
        handle.create_dataset("shape", data=np.asarray(tuple(shape), dtype=np.int64))
        for f in self.fields:
            if f.name not in values:
                if f.required:
                    raise ExportError(f"{self.name} layer: dataset {f.name!r} missing")
                continue
            value = values[f.name]
            problem = f.problem(value)
            if problem is not None:
                raise ExportError(f"{self.name} layer: {f.name} {problem}")
            if f.kind == "str":
                write_str(handle, f.name, value)
            else:
                handle.create_dataset(f.name, data=np.asarray(value).astype(f.dtype))
        if self.has_neuron:
            write_neuron(handle, values["neuron"])

    # ---------------------------------------------------------------------- reference
    def reference(self, layer: LayerSpec, inputs: list[np.ndarray], stats: dict | None):
        """The layer's output (``N, C, H, W, T`` int64) from its inputs' outputs."""
        raise FormatError(f"layer type {self.name!r} has no integer reference")

    # ------------------------------------------------------------------------ Loihi 2
    def usage(self, layer: LayerSpec, spec: NetworkSpec) -> Usage:
        """What the layer needs on Loihi 2 (default: nothing; a view)."""
        return Usage()

    # --------------------------------------------------------------------------- Lava
    def delay_steps(self, layer: LayerSpec, spec: NetworkSpec) -> int:
        """Steps the layer holds a sample before its output starts, beyond its synapse hop
        (MA-SNN's TA buffers the sample's ``T`` steps); the builder sizes recordings with it."""
        return 0

    def build(self, layer: LayerSpec, inputs: list[Signal], net: Builder) -> Signal:
        """Create the layer's Lava processes through ``net``; return its output signal."""
        raise FormatError(f"layer type {self.name!r} cannot be deployed on Lava")

    # ------------------------------------------------------------------ operation counts
    def ops(
        self, layer: LayerSpec, inputs: list[np.ndarray], output: np.ndarray
    ) -> dict[str, float]:
        """The operations the layer performed, by kind (:data:`OP_KINDS` and
        :attr:`op_kinds`), summed over samples.

        ``inputs`` are its input layers' outputs and ``output`` its own, what actually occurred
        (``N, C, H, W, T`` integers; ``N, C, T`` for vectors). The default counts nothing.
        """
        return {}

    def dense_macs(self, layer: LayerSpec) -> int:
        """Multiply-accumulates of the same layer in an equally sized non-spiking network, one
        inference (one pass, no time steps). The default: none (sums, pooling, reshapes)."""
        return 0


def write_str(handle, key: str, value: str) -> None:
    """A string dataset stored like SLAYER's ``type``: shape ``(1,)``, fixed-length ASCII."""
    data = value.encode("ascii")
    handle.create_dataset(key, (1,), f"S{max(len(data), 20)}", [data])


def write_neuron(handle, neuron: dict[str, Any]) -> None:
    """The ``neuron/`` group from a SLAYER neuron's ``device_params`` (as lava-dl writes it)."""
    for key, value in neuron.items():
        handle.create_dataset(f"neuron/{key}", data=value)


class Failure:
    """Raises a one-line :class:`FormatError` naming the file, the layer and the fix."""

    def __init__(self, path: Path | None, layer: LayerSpec | int, name: str | None = None):
        index = layer if isinstance(layer, int) else layer.index
        name = name if name is not None else (None if isinstance(layer, int) else layer.name)
        self.where = f"{path}: layer {index}" + (f" ({name})" if name else "")

    def __call__(self, problem: str, fix: str = "re-export the network with ds2ta-export"):
        raise FormatError(f"{self.where}: {problem}; {fix}")


@dataclass
class Signal:
    """A layer's output in the Lava graph: OutPorts whose sum is the value, each with its
    latency (the step offset at which it carries a sample's first frame), and the ``shape``."""

    parts: list[tuple[Any, int]]
    shape: tuple[int, ...]
    #: Spikes (not graded values): Lava may carry them with ``num_message_bits = 0``.
    binary: bool = True
    #: The OutPort a recorder reads for this layer's spikes, if it has one.
    probe: Any = field(default=None, repr=False)
    #: A constant added to the value at every step that no port carries (the readout's bias).
    step_bias: np.ndarray | None = None

    @property
    def latency(self) -> int:
        return max(lat for _, lat in self.parts)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Builder(Protocol):
    """What a layer type's ``build`` uses of the Lava graph builder
    (:class:`lava_ds2ta.deploy.builder.NetworkBuilder`)."""

    spec: NetworkSpec  # the network being built
    fixed: bool  # fixed_pt (integer mantissas) or floating_pt (real units)
    period: int | None  # steps per sample; None: never reset
    frames: np.ndarray  # the input, (C*H*W, N*T) integer levels
    source: Any  # the FrameSource, set by the input layer

    def fail(self, layer: LayerSpec, problem: str) -> NoReturn: ...
    def add(self, *processes: Any) -> None: ...
    def weights(self, w: np.ndarray) -> np.ndarray: ...
    def dense(self, w: np.ndarray, x: Signal, name: str, mantissas: bool = False) -> Any: ...
    def connect(self, signal: Signal, in_port: Any, target: int | None = None) -> None: ...
    def host_input(self, port: Any, name: str) -> Any: ...
    def reset_offset(self, latency: int) -> int: ...
    def require_cuba(self, layer: LayerSpec, neuron: dict[str, Any] | None) -> None: ...
    def lif(self, layer: LayerSpec, n: int, latency: int, bias: np.ndarray | None) -> Any: ...


#: Layer type name -> the (single) instance that handles it.
REGISTRY: dict[str, LayerType] = {}


def register(name: str) -> Callable[[type[LayerType]], type[LayerType]]:
    """Class decorator: ``@register("conv")`` makes ``cls`` the layer type of ``type = "conv"``
    (one instance in :data:`REGISTRY`)."""

    def decorate(cls: type[LayerType]) -> type[LayerType]:
        cls.name = name
        REGISTRY[name] = cls()
        return cls

    return decorate


def layer_type(name: str) -> LayerType:
    """The registered layer type ``name``; :class:`FormatError` listing the known ones if none."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise FormatError(
            f"unknown layer type {name!r} (known: {', '.join(sorted(REGISTRY))}); "
            "use a lava_ds2ta version that knows this layer type"
        ) from None


def op_kinds() -> dict[str, OpKind]:
    """Every operation kind a registered layer type may count: :data:`OP_KINDS` and each type's
    :attr:`LayerType.op_kinds` (a name declared twice with different meanings raises)."""
    out = dict(OP_KINDS)
    for kind in REGISTRY.values():
        for name, op in kind.op_kinds.items():
            if out.setdefault(name, op) != op:
                raise ValueError(f"operation kind {name!r} of layer type {kind.name!r} is "
                                 "declared differently elsewhere")  # fmt: skip
    return out
