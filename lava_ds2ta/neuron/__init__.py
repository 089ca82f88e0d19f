"""Neurons: SLAYER CUBA LIF configured as the paper's LIF (Eq. 2-3)."""

from lava_ds2ta.neuron.lif import Neuron, lif_neuron, lif_params

__all__ = ["Neuron", "lif_neuron", "lif_params"]
