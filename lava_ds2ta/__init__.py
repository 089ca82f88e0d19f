"""lava_ds2ta: DS2TA and Spikformer spiking transformers from lava-dl training to Lava / Loihi 2.

``create_model(name, preset=..., **overrides)`` builds a model, ``load_model(path)`` loads a
checkpoint; see :mod:`lava_ds2ta.models` and docs/architecture.md.
"""

import contextlib
import io

__version__ = "0.1.0"

# lava-dl prints a Prophesee-toolbox warning and torch's cpp_extension a CUDA_HOME note at
# import; neither concerns us. Import errors still propagate.
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    import lava.lib.dl.slayer  # noqa: F401

# Lava sets multiprocessing's start method to 'fork' when its runtime is first imported, and that
# fails once anything else (tqdm's lock, a DataLoader) has fixed the start method: import it first,
# so that training and a Lava run can share one Python process (a notebook, a test session).
import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: E402, F401

from lava_ds2ta.models import create_model  # noqa: E402
from lava_ds2ta.models import list_models  # noqa: E402
from lava_ds2ta.models import load_model  # noqa: E402

__all__ = ["create_model", "list_models", "load_model", "__version__"]
