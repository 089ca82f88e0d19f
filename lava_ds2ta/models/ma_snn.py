"""The MA-SNN family (Yao et al., "Attention Spiking Neural Networks", TPAMI 2023): convolutional
SNNs with multi-dimensional attention (TA, CA, SA and their combinations) on every layer.

``input -> L x GatedSpikingConv (Conv3x3 [-> AvgPool] -> BN -> [TA] -> LIF [CA, SA]) -> FC
layers (TA only) -> 8-bit readout``. Registered names, one network each, every one with
``attention`` in ``none, TA, CA, SA, TCA, TSA, CSA, TCSA`` (the paper's Table 6)::

    create_model("ma_snn_3conv", attention="TCSA")     # Gesture 3-conv net (Table 1, 4-6)
    create_model("ma_snn_5conv", attention="TCSA")     # Gesture 5-conv net (Fang et al.'s PLIF)
    create_model("ma_snn_dvs_digits", attention="TA")  # small net for the embedded dvs-digits

docs/ma-snn.md maps the code onto the paper and lists every deviation.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import torch

from lava_ds2ta.block import Readout
from lava_ds2ta.block.ma import GatedSpikingConv
from lava_ds2ta.block.ma import attention_dims
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.models.inputs import encode_input
from lava_ds2ta.models.registry import register_model


@dataclass
class MASNNConfig:
    """Everything that defines an MA-SNN model. Build one with :func:`lava_ds2ta.create_model`."""

    name: str = "ma_snn_dvs_digits"
    """Network (:data:`NETWORKS`)."""
    preset: str = "default"
    """The network's only preset (every MA-SNN name is one network)."""
    attention: str = "none"
    """Gated dimensions: ``none``, ``TA``, ``CA``, ``SA``, ``TCA``, ``TSA``, ``CSA``, ``TCSA``."""
    img_size: int = 16
    in_channels: int = 2
    num_classes: int = 10
    time_steps: int = 10
    input_levels: int = 1
    """Inputs are ``round(x * input_levels)`` integer graded spikes (event counts: 1)."""
    channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    """Output channels of the convolution layers."""
    pools: list[int] = field(default_factory=lambda: [1, 2, 2])
    """Average pooling ``k x k`` of each convolution layer's current (1: none)."""
    kernel_size: int = 3
    fc: list[int] = field(default_factory=lambda: [64])
    """Widths of the spiking fully connected layers before the readout."""
    t_ratio: int = 5
    """TA's MLP ``T -> T / t_ratio -> T``."""
    c_ratio: int = 8
    """CA's MLP ``C -> C / c_ratio -> C``."""
    sa_kernel: int = 7
    """SA's convolution ``k x k`` (the paper: 7; the public code: 3)."""
    tau_m: float = 2.0
    """Membrane time constant: ``beta = 1 - 1 / tau_m``."""
    threshold: float = 1.0
    tau_grad: float = 0.01
    scale_grad: float = 10.0
    """Width (x 100 x threshold) and peak scale of SLAYER's surrogate gradient."""

    @property
    def dims(self) -> str:
        """The gated dimensions, a subset of ``"TCS"``."""
        return attention_dims(self.attention)

    @property
    def feature_size(self) -> int:
        """Side of the last convolution layer's output map."""
        return self.img_size // math.prod(self.pools)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict that :func:`create_model` turns back into the same model."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid key."""
        attention_dims(self.attention)
        for key in ("img_size", "in_channels", "num_classes", "time_steps", "input_levels",
                    "kernel_size", "t_ratio", "c_ratio", "sa_kernel"):  # fmt: skip
            _positive_int(key, getattr(self, key))
        for key in ("channels", "pools", "fc"):
            value = getattr(self, key)
            if not isinstance(value, list) or (key != "fc" and not value):
                raise ConfigError(f"model.{key}: must be a list of integers >= 1, got {value!r}")
            for v in value:
                _positive_int(key, v)
        if len(self.pools) != len(self.channels):
            raise ConfigError(
                f"model.pools: one pooling size per convolution layer ({len(self.channels)}), "
                f"got {self.pools!r}"
            )
        if self.img_size % math.prod(self.pools):
            raise ConfigError(
                f"model.img_size: {self.img_size} is not divisible by the pooling factor "
                f"{math.prod(self.pools)} of pools {self.pools!r}"
            )
        if self.kernel_size % 2 == 0 or self.sa_kernel % 2 == 0:
            raise ConfigError(
                f"model.{'kernel_size' if self.kernel_size % 2 == 0 else 'sa_kernel'}: "
                "must be odd (same padding)"
            )
        if not self.tau_m >= 1:
            raise ConfigError(f"model.tau_m: must be >= 1 (beta = 1 - 1/tau_m), got {self.tau_m!r}")
        for key in ("threshold", "tau_grad", "scale_grad"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"model.{key}: must be > 0, got {getattr(self, key)!r}")


def _positive_int(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"model.{key}: must be an integer >= 1, got {value!r}")


#: The networks. ``ma_snn_3conv``: the paper's Gesture net (Yao et al. 2021; Table 1, 4-6):
#: 32x32 input (128x128 summed over 4x4 pixels), 2-64-128-128 Conv3x3, AvgPool [1, 2, 2],
#: FC 256, 11 classes, T=60 (dt 15 ms), t_ratio 5 (the public code), c_ratio 16 (CA then adds
#: the +4,608 parameters of the paper's Table 5; the public code's config has 8).
#: ``ma_snn_5conv``: Fang et al.'s PLIF Gesture net as MA-SNN uses it (Table 1): 128x128 input,
#: 5 x (Conv3x3 128, pool 2), FC 512, T=20 (dt 300 ms). ``ma_snn_dvs_digits``: a small net for
#: the 16x16 dvs-digits (2-16-32-32, FC 64), T=10, c_ratio 8.
NETWORKS: dict[str, dict[str, Any]] = {
    "ma_snn_3conv": dict(img_size=32, num_classes=11, time_steps=60, channels=[64, 128, 128],
                         pools=[1, 2, 2], fc=[256], c_ratio=16),
    "ma_snn_5conv": dict(img_size=128, num_classes=11, time_steps=20, channels=[128] * 5,
                         pools=[2] * 5, fc=[512], c_ratio=16),
    "ma_snn_dvs_digits": dict(img_size=16, num_classes=10, time_steps=10, channels=[16, 32, 32],
                              pools=[1, 2, 2], fc=[64], c_ratio=8),
}  # fmt: skip


def ma_snn_config(name: str, preset: str | None = None, **overrides: Any) -> MASNNConfig:
    """Resolve a network name and overrides into a validated :class:`MASNNConfig`."""
    if preset not in (None, "default"):
        raise ConfigError(f"model.preset: unknown preset {preset!r} for {name} (known: default)")
    known = {f.name for f in dataclasses.fields(MASNNConfig)} - {"name", "preset"}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"model.{key}: unknown model key (known: {', '.join(sorted(known))})")
    values = copy.deepcopy({**NETWORKS[name], **overrides})
    cfg = MASNNConfig(name=name, **values)
    cfg.validate()
    return cfg


class MASNN(torch.nn.Module):
    """MA-SNN. Input ``N, C, H, W, T`` event frames (or ``N, C, H, W`` images, repeated over T).

    Returns logits ``N, classes``: the 8-bit readout of the last layer's spike counts averaged
    over positions and time steps.
    """

    def __init__(self, config: MASNNConfig) -> None:
        super().__init__()
        config.validate()
        self.config = c = config
        neuron = dict(threshold=c.threshold, tau_m=c.tau_m, tau_grad=c.tau_grad,
                      scale_grad=c.scale_grad)  # fmt: skip
        first = {**neuron, "threshold": c.threshold * c.input_levels}
        gates = dict(time_steps=c.time_steps, t_ratio=c.t_ratio, c_ratio=c.c_ratio,
                     sa_kernel=c.sa_kernel)  # fmt: skip
        layers, cin = [], c.in_channels
        for i, (cout, pool) in enumerate(zip(c.channels, c.pools, strict=True)):
            layers.append(GatedSpikingConv(cin, cout, c.kernel_size, c.kernel_size // 2, pool,
                                           c.dims, neuron=first if i == 0 else neuron, **gates))
            cin = cout  # fmt: skip
        size, fc_dims = c.feature_size, "T" if "T" in c.dims else ""  # CA, SA: conv layers
        for width in c.fc:  # a convolution over the whole map: 1x1 output
            layers.append(GatedSpikingConv(cin, width, size, 0, 1, fc_dims, neuron=neuron, **gates))
            cin, size = width, 1
        self.layers = torch.nn.ModuleList(layers)
        self.head = Readout(cin, c.num_classes)
        # Set once by the data-dependent initialisation (lava_ds2ta.init.data_init).
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = encode_input(x, self.config, self.head.weight.device)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


for _name in NETWORKS:
    register_model(_name, ma_snn_config, MASNN)
