"""Model configuration, presets (sizes) and variants (the paper's ablation, Table 4)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lava_ds2ta.block.ma import attention_dims
from lava_ds2ta.errors import ConfigError
from lava_ds2ta.fixed_point import SCALE_SHIFT_MAX
from lava_ds2ta.fixed_point import TAU_MAX

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
        """Raise :class:`ConfigError` naming the first invalid key."""
        if self.name not in VARIANTS:
            raise ConfigError(
                f"model.name: unknown model {self.name!r} (known: {', '.join(VARIANTS)})"
            )
        positive = (
            "img_size",
            "in_channels",
            "num_classes",
            "embed_dim",
            "depth",
            "num_heads",
            "mlp_ratio",
            "time_steps",
            "t_aw",
            "sps_t_ratio",
            "sps_c_ratio",
        )
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"model.{key}: must be an integer >= 1, got {value!r}")
        attention_dims(self.sps_attention, "model.sps_attention")
        if self.embed_dim % self.num_heads:
            raise ConfigError(
                f"model.num_heads: {self.num_heads} heads do not divide embed_dim {self.embed_dim}"
            )
        if not self.sps_pool or set(self.sps_pool) - {"0", "1"}:
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
        if not isinstance(self.tau_init, int) or not 0 <= self.tau_init <= TAU_MAX:
            raise ConfigError(
                f"model.tau_init: must be an integer in [0, {TAU_MAX}], got {self.tau_init!r}"
            )
        if not self.tau_m >= 1:
            raise ConfigError(
                f"model.tau_m: must be >= 1 (voltage decay 1/tau_m), got {self.tau_m!r}"
            )
        for key in ("threshold", "attn_threshold", "tau_grad", "scale_grad"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"model.{key}: must be > 0, got {getattr(self, key)!r}")
        if not isinstance(self.attn_scale_shift, int) or not (
            0 <= self.attn_scale_shift <= SCALE_SHIFT_MAX
        ):
            raise ConfigError(
                f"model.attn_scale_shift: must be an integer in [0, {SCALE_SHIFT_MAX}], "
                f"got {self.attn_scale_shift!r}"
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
    if preset not in PRESETS:
        raise ConfigError(f"model.preset: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    known = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "preset"}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"model.{key}: unknown model key (known: {', '.join(sorted(known))})")
    cfg = ModelConfig(name=name, preset=preset, **{**PRESETS[preset], **overrides})
    cfg.validate()
    return cfg
