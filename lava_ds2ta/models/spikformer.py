"""The Spikformer / DS2TA spiking vision transformer family.

``SPS (+ relative position embedding) -> L x EncoderBlock -> Readout``; the variant decides
whether the attention uses TASA projections and the NSAD denoiser (DS2TA Table 4).
"""

from __future__ import annotations

import torch

from lava_ds2ta.block import EncoderBlock
from lava_ds2ta.block import Readout
from lava_ds2ta.block import SpikingMLP
from lava_ds2ta.block import SpikingPatchSplitting
from lava_ds2ta.block import SpikingSelfAttention
from lava_ds2ta.block.ma import attention_dims
from lava_ds2ta.errors import ExportError
from lava_ds2ta.models.config import VARIANTS
from lava_ds2ta.models.config import ModelConfig
from lava_ds2ta.models.config import transformer_config
from lava_ds2ta.models.graph import GraphBuilder
from lava_ds2ta.models.graph import Node
from lava_ds2ta.models.inputs import encode_input
from lava_ds2ta.models.registry import register_model


class SpikingTransformer(torch.nn.Module):
    """Spikformer / DS2TA. Input ``N, C, H, W`` (static, repeated over T) or ``N, C, H, W, T``.

    Returns logits ``N, classes`` averaged over tokens and time steps.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config
        neuron = dict(
            threshold=c.threshold, tau_m=c.tau_m, tau_grad=c.tau_grad, scale_grad=c.scale_grad
        )
        attn_neuron = {**neuron, "threshold": c.attn_threshold}
        dims = attention_dims(c.sps_attention)
        gates = dict(dims=dims, time_steps=c.time_steps, t_ratio=c.sps_t_ratio,
                     c_ratio=c.sps_c_ratio) if dims else None  # fmt: skip
        self.sps = SpikingPatchSplitting(
            c.in_channels, c.embed_dim, [p == "1" for p in c.sps_pool], neuron, c.input_levels,
            gates,
        )
        self.blocks = torch.nn.ModuleList(
            EncoderBlock(
                SpikingSelfAttention(
                    c.embed_dim,
                    c.num_heads,
                    neuron,
                    attn_neuron,
                    tasa_window=c.t_aw if c.use_tasa else None,
                    tau_init=c.tau_init,
                    nsad_u_init=c.nsad_u_init if c.use_nsad else None,
                    scale_shift=c.attn_scale_shift,
                ),
                SpikingMLP(c.embed_dim, c.embed_dim * c.mlp_ratio, neuron),
            )
            for _ in range(c.depth)
        )
        self.head = Readout(c.embed_dim, c.num_classes)
        # Set by the data-dependent initialisation (lava_ds2ta.init.data_init, called once by
        # the trainer); saved in checkpoints so that a loaded model is never re-initialised.
        self.register_buffer("initialized", torch.tensor(False))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Residual stream after the last encoder block, ``N, D, H', W', T``."""
        x = self.sps(encode_input(x, self.config, self.head.weight.device))
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def graph(self) -> list[Node]:
        """The exported layers in topological order (docs/hdf5-format.md lists them)."""
        c, sps, g = self.config, self.sps, GraphBuilder()
        if c.sps_attention != "none":
            raise ExportError(
                f"model.sps_attention: {c.sps_attention} patch-splitting stages cannot be "
                "exported yet (the network file has no gated layer type); train with none"
            )
        x = g.add(
            "input", "input", [], probe=(sps, "input"),
            timeSteps=c.time_steps, inputLevels=c.input_levels,
        )  # fmt: skip
        following = [*sps.stages[1:], sps.rpe]
        for i, (stage, pool) in enumerate(zip(sps.stages, sps.pool, strict=True)):
            x = g.block(f"sps.stages.{i}", stage, [x])
            if pool:
                x = g.add(
                    f"sps.pool.{i}", "spikeMaxPool", [x], probe=(following[i], "input"),
                    kernelSize=[3, 3], stride=[2, 2], padding=[1, 1],
                )  # fmt: skip
        rpe = g.block("sps.rpe", sps.rpe, [x])
        x = g.add("sps.add_rpe", "add", [x, rpe], probe=(sps, "output"))
        for b, block in enumerate(self.blocks):
            p, attn, mlp = f"blocks.{b}", block.attn, block.mlp
            qkv = [g.block(f"{p}.attn.{k}", m, [x]) for k, m in (("q", attn.q), ("k", attn.k),
                                                                 ("v", attn.v))]  # fmt: skip
            a = g.add(f"{p}.attn", "attention", qkv, attn, (attn.attn_neuron, "output"))
            proj = g.block(f"{p}.attn.proj", attn.proj, [a])
            x = g.add(f"{p}.add_attn", "add", [x, proj], probe=(mlp, "input"))
            h = g.block(f"{p}.mlp.fc2", mlp.fc2, [g.block(f"{p}.mlp.fc1", mlp.fc1, [x])])
            x = g.add(f"{p}.add_mlp", "add", [x, h], probe=(block, "output"))
        g.add("head", "readout", [x], self.head)
        return g.nodes


for _name in VARIANTS:
    register_model(_name, transformer_config, SpikingTransformer)
