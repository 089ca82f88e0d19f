"""Neurons: SLAYER CUBA LIF configured as the paper's LIF (Eq. 2-3)."""

from lava_ds2ta.neuron.lif import Neuron
from lava_ds2ta.neuron.lif import export_params
from lava_ds2ta.neuron.lif import lif_neuron
from lava_ds2ta.neuron.lif import lif_params

__all__ = ["Neuron", "export_params", "lif_neuron", "lif_params"]
