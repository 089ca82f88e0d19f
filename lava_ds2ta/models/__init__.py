"""Models: a registry of model names (timm style), the model families and checkpoint helpers.

    from lava_ds2ta.models import create_model, load_model, list_models
    model = create_model("ds2ta", preset="vit-4-384", num_classes=100)
    model, state = load_model("runs/ds2ta_digits/last.pt")     # eval mode, CPU

Families: :mod:`.spikformer` (``spikformer``, ``ds2ta_nsad``, ``ds2ta``; presets in
:mod:`.config`), :mod:`.ma_snn` (``ma_snn_3conv``, ``ma_snn_5conv``, ``ma_snn_dvs_digits``, each
with ``attention`` in ``none, TA, CA, SA, TCA, TSA, CSA, TCSA``).
"""

from lava_ds2ta.models.checkpoint import load_checkpoint
from lava_ds2ta.models.checkpoint import load_model
from lava_ds2ta.models.checkpoint import save_checkpoint
from lava_ds2ta.models.config import PRESETS
from lava_ds2ta.models.config import VARIANTS
from lava_ds2ta.models.config import ModelConfig
from lava_ds2ta.models.ma_snn import MASNN
from lava_ds2ta.models.ma_snn import MASNNConfig
from lava_ds2ta.models.registry import create_model
from lava_ds2ta.models.registry import list_models
from lava_ds2ta.models.registry import model_config
from lava_ds2ta.models.registry import register_model
from lava_ds2ta.models.spikformer import SpikingTransformer

__all__ = [
    "PRESETS",
    "VARIANTS",
    "MASNN",
    "MASNNConfig",
    "ModelConfig",
    "SpikingTransformer",
    "create_model",
    "list_models",
    "load_checkpoint",
    "load_model",
    "model_config",
    "register_model",
    "save_checkpoint",
]
