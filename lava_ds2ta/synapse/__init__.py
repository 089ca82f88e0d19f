"""Synapses: the TASA delay-weight synapse beside SLAYER's own."""

from lava_ds2ta.synapse.tasa import TASAConv

__all__ = ["TASAConv"]
