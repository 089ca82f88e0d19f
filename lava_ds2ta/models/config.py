"""Model configuration, presets (sizes) and variants (the paper's ablation, Table 4)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from lava_ds2ta.block.ma import attention_dims
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.fixed_point import DELAY_MAX
from lava_ds2ta.fixed_point import SCALE_SHIFT_MAX
from lava_ds2ta.fixed_point import TAU_MAX
from lava_ds2ta.layers.base import SIZE_MAX
from lava_ds2ta.layers.base import TIME_STEPS_MAX
from lava_ds2ta.layers.inputs import LEVELS_MAX

#: Variant name -> (TASA on Q/K/V/output projections, NSAD on attention maps).
VARIANTS: dict[str, tuple[bool, bool]] = {
    "spikformer": (False, False),
    "ds2ta_nsad": (False, True),
    "ds2ta": (True, True),
}


@dataclass
class ModelConfig:
    """Everything that defines a model. Build one with :func:`lava_ds2ta.create_model`.

    ``sps_pool`` has one character per patch-splitting stage, ``1`` for a spike max-pool after
    it; the token grid is ``img_size / 2^(number of pools)`` squared. ``input_levels``: inputs are
    quantised to ``round(x * input_levels)`` integer graded spikes (digits 0..16 with 16; event
    counts with 1).
    """

    name: str = "ds2ta"
    """Variant: ``spikformer`` (no TASA, no NSAD), ``ds2ta_nsad`` (NSAD), ``ds2ta`` (both)."""
    preset: str = "tiny"
    """Size preset the other values start from (:data:`PRESETS`)."""
    img_size: int = 8
    in_channels: int = 1
    num_classes: int = 10
    embed_dim: int = 64
    """Embedding dimension ``D``."""
    depth: int = 1
    """Encoder blocks ``L``."""
    num_heads: int = 4
    """Attention heads; the head dimension is ``d = D / heads``."""
    mlp_ratio: int = 4
    """MLP hidden size ``D x mlp_ratio``."""
    time_steps: int = 4
    input_levels: int = 16
    """Inputs are ``round(x * input_levels)`` integer graded spikes."""
    sps_pool: str = "0010"
    """One flag per patch-splitting stage: ``1`` = spike max-pool after it."""
    t_aw: int = 3
    """TASA window ``T_AW`` (taps; ``ds2ta`` only)."""
    tau_init: int = 4
    """Initial TASA attenuation exponent (paper: 4 static, 2 DVS)."""
    nsad_u_init: float = 3.0
    """Initial NSAD threshold ``u_h`` (paper: 3 for d=32, 2 for d=16)."""
    tau_m: float = 2.0
    """Membrane time constant: voltage decay ``1 / tau_m``."""
    threshold: float = 1.0
    attn_threshold: float = 0.5
    """Threshold of the attention LIF (Spikformer: 0.5)."""
    attn_scale_shift: int = 3
    """Attention scale ``2^-attn_scale_shift`` (Spikformer's 0.125 is 3)."""
    tau_grad: float = 0.01
    scale_grad: float = 10.0
    """Width (x 100 x threshold) and peak scale of SLAYER's surrogate gradient."""
    sps_attention: str = "none"
    """MA-SNN gates on the patch-splitting stages: ``none``, ``TA``, ..., ``TCSA``
    (docs/ma-snn.md); training only for now (not in the network file yet)."""
    sps_t_ratio: int = 2
    """TA's MLP ``T -> T / sps_t_ratio -> T`` on the patch-splitting stages."""
    sps_c_ratio: int = 8
    """CA's MLP ``C -> C / sps_c_ratio -> C`` on the patch-splitting stages."""

    @property
    def use_tasa(self) -> bool:
        return VARIANTS[self.name][0]

    @property
    def use_nsad(self) -> bool:
        return VARIANTS[self.name][1]

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def token_grid(self) -> int:
        return self.img_size // 2 ** self.sps_pool.count("1")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict that :func:`create_model` turns back into the same model. Without gates on
        the patch splitting its three keys are left out, so checkpoints and network files stay
        value for value what versions before the option wrote."""
        values = dataclasses.asdict(self)
        if self.sps_attention == "none":
            for key in ("sps_attention", "sps_t_ratio", "sps_c_ratio"):
                del values[key]
        return values

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid key (a wrong type, NaN or
        infinity, or a value outside its range)."""
        if not isinstance(self.name, str) or self.name not in VARIANTS:
            raise ConfigError(
                f"model.name: unknown model {self.name!r} (known: {', '.join(VARIANTS)})"
            )
        for key, lo, hi in _INT_RANGES:
            value = getattr(self, key)
            if not _is_int(value) or not lo <= value <= hi:
                raise ConfigError(f"model.{key}: must be an integer in [{lo}, {hi}], got {value!r}")
        for key, lo, strict in _REAL_RANGES:
            value = getattr(self, key)
            bad = not _is_real(value) or value < lo or (strict and value == lo)
            if bad:
                want = f"> {lo:g}" if strict else f">= {lo:g}"
                raise ConfigError(f"model.{key}: must be a finite number {want}, got {value!r}")
        if not _is_real(self.nsad_u_init):
            u = self.nsad_u_init
            raise ConfigError(f"model.nsad_u_init: must be a finite number, got {u!r}")
        attention_dims(self.sps_attention, "model.sps_attention")
        self._validate_shapes()

    def _validate_shapes(self) -> None:
        """The sizes must fit together: heads, patch-splitting stages, pooling."""
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"model.num_heads: {self.num_heads} heads do not divide embed_dim {self.embed_dim}"
            )
        pool = self.sps_pool
        if not isinstance(pool, str) or not pool or set(pool) - {"0", "1"}:
            raise ConfigError(
                f"model.sps_pool: expected a string of 0/1 flags, got {self.sps_pool!r}"
            )
        stages = len(self.sps_pool)
        if self.embed_dim % 2 ** (stages - 1):
            raise ConfigError(
                f"model.embed_dim: {self.embed_dim} is not divisible by 2^{stages - 1} "
                f"for {stages} patch-splitting stages"
            )
        if self.img_size % 2 ** self.sps_pool.count("1"):
            raise ConfigError(
                f"model.img_size: {self.img_size} is not divisible by the pooling factor "
                f"2^{self.sps_pool.count('1')} of sps_pool {self.sps_pool!r}"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


#: Integer keys and their ranges (sizes bounded by what a network file may hold).
_INT_RANGES = (
    ("img_size", 1, SIZE_MAX),
    ("in_channels", 1, SIZE_MAX),
    ("num_classes", 1, SIZE_MAX),
    ("embed_dim", 1, SIZE_MAX),
    ("depth", 1, SIZE_MAX),
    ("num_heads", 1, SIZE_MAX),
    ("mlp_ratio", 1, SIZE_MAX),
    ("time_steps", 1, TIME_STEPS_MAX),
    ("input_levels", 1, LEVELS_MAX),
    ("t_aw", 1, DELAY_MAX + 1),
    ("tau_init", 0, TAU_MAX),
    ("attn_scale_shift", 0, SCALE_SHIFT_MAX),
    ("sps_t_ratio", 1, SIZE_MAX),
    ("sps_c_ratio", 1, SIZE_MAX),
)
#: Real keys: ``(key, lower bound, bound excluded)``; every real must also be finite.
_REAL_RANGES = (
    ("tau_m", 1.0, False),  # voltage decay 1 / tau_m
    ("threshold", 0.0, True),
    ("attn_threshold", 0.0, True),
    ("tau_grad", 0.0, True),
    ("scale_grad", 0.0, True),
)


#: Columns of the preset table below.
_PRESET_KEYS = ("img_size", "in_channels", "num_classes", "embed_dim", "depth", "num_heads",
                "mlp_ratio", "time_steps", "input_levels", "sps_pool", "t_aw", "tau_init",
                "nsad_u_init")  # fmt: skip
#: Sizes. ``tiny`` is for the embedded digits; the others are the paper's (section 4).
#: tiny: digits (8x8, static): 4x4 = 16 tokens, T=4, tau=4 as for static CIFAR; head dim d=16 as
#: in the DVS setting, hence its u_h=2 (the paper's u_h=3 goes with d=32).
#: vit-4-384: CIFAR-10/100, 12 heads, 32x32 -> 8x8 = 64 tokens, T=4, tau=4, u_h=3.
#: vit-2-256: CIFAR10-DVS / DVS128 Gesture, 16 heads, 128x128, 16x16 patches, T=10, tau=2, u_h=2;
#: its inputs are event counts per frame, integers already (input_levels 1).
PRESETS: dict[str, dict[str, Any]] = {
    name: dict(zip(_PRESET_KEYS, row, strict=True))
    for name, row in {
        #            img  C  cls    D  L   H mlp   T  lvl  pools  T_AW tau  u_h
        "tiny":      (8,  1, 10,  64, 1,  4,  4,  4, 16, "0010", 3,   4,  2.0),
        "vit-4-384": (32, 3, 10, 384, 4, 12,  4,  4, 16, "0011", 3,   4,  3.0),
        "vit-2-256": (128, 2, 10, 256, 2, 16, 4, 10,  1, "1111", 3,   2,  2.0),
    }.items()
}  # fmt: skip


def transformer_config(
    name: str = "ds2ta", preset: str | None = None, **overrides: Any
) -> ModelConfig:
    """Resolve a variant, a preset (``None``: ``tiny``) and overrides into a validated
    :class:`ModelConfig`."""
    preset = "tiny" if preset is None else preset
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"model.preset: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    known = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "preset"}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"model.{key}: unknown model key (known: {', '.join(sorted(known))})")
    cfg = ModelConfig(name=name, preset=preset, **{**PRESETS[preset], **overrides})
    cfg.validate()
    return cfg
