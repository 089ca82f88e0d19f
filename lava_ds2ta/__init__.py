"""lava_ds2ta: DS2TA and Spikformer spiking transformers from lava-dl training to Lava / Loihi 2.

``create_model(name, preset=..., **overrides)`` builds a model; see :mod:`lava_ds2ta.models`.
"""

from lava_ds2ta.models import create_model, list_models

__version__ = "0.1.0"
__all__ = ["create_model", "list_models", "__version__"]
