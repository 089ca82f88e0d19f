"""Blocks: spiking convolution, self-attention (Spikformer / DS2TA), MLP, encoder, patch
splitting and readout. Every block uses SLAYER's layout ``N, C, H, W, T``."""

from lava_ds2ta.block.attention import SpikingSelfAttention
from lava_ds2ta.block.conv import SpikingConv
from lava_ds2ta.block.encoder import EncoderBlock
from lava_ds2ta.block.encoder import SpikingMLP
from lava_ds2ta.block.readout import Readout
from lava_ds2ta.block.sps import SpikingPatchSplitting

__all__ = [
    "EncoderBlock",
    "Readout",
    "SpikingConv",
    "SpikingMLP",
    "SpikingPatchSplitting",
    "SpikingSelfAttention",
]
