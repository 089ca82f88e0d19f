"""Loihi 2: a constraint checker and resource estimate, the hardware-form Lava graph, and INRC
cloud bundles (``ds2ta-loihi``; docs/loihi2.md)."""
