"""Layer types of network files, one module each, registered by name in :data:`REGISTRY`.

========================= =================================================================
``input``                  :mod:`.inputs`: integer input levels (netx: an input neuron)
``conv``                   :mod:`.conv`: convolution + CUBA LIF (also netx's ``conv``)
``tasa``                   :mod:`.tasa`: DS2TA's attenuated delay-weight synapse + CUBA LIF
``gatedConv``              :mod:`.gated`: MA-SNN's convolution, pooling and gated LIF (TA, CA, SA)
``spikeMaxPool``           :mod:`.maxpool`: OR-pooling of spikes
``add``                    :mod:`.add`: residual sum
``attention``              :mod:`.attention`: spiking attention with NSAD tables + LIF
``readout``                :mod:`.readout`: linear head to integer logits
``flatten``, ``dense``,    :mod:`.flatten`, :mod:`.dense`: lava-dl netx chain layers
``dense_rec``
========================= =================================================================

docs/architecture.md shows how to add one.
"""

from lava_ds2ta.layers import add
from lava_ds2ta.layers import attention
from lava_ds2ta.layers import conv
from lava_ds2ta.layers import dense
from lava_ds2ta.layers import flatten
from lava_ds2ta.layers import gated
from lava_ds2ta.layers import inputs
from lava_ds2ta.layers import maxpool
from lava_ds2ta.layers import readout
from lava_ds2ta.layers import tasa
from lava_ds2ta.layers.base import FORMAT
from lava_ds2ta.layers.base import FORMAT_VERSION
from lava_ds2ta.layers.base import REGISTRY
from lava_ds2ta.layers.base import Failure
from lava_ds2ta.layers.base import Field
from lava_ds2ta.layers.base import LayerSpec
from lava_ds2ta.layers.base import LayerType
from lava_ds2ta.layers.base import NetworkSpec
from lava_ds2ta.layers.base import Signal
from lava_ds2ta.layers.base import layer_type
from lava_ds2ta.layers.base import register
from lava_ds2ta.layers.cuba import NeuronLayer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "REGISTRY",
    "Failure",
    "Field",
    "LayerSpec",
    "LayerType",
    "NetworkSpec",
    "NeuronLayer",
    "Signal",
    "add",
    "attention",
    "conv",
    "dense",
    "flatten",
    "gated",
    "inputs",
    "layer_type",
    "maxpool",
    "readout",
    "register",
    "tasa",
]
