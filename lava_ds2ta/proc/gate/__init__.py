"""MA-SNN's gated LIF layer as one Lava process: pooling, TA, CA, SA and the neuron."""
