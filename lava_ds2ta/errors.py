"""Error types whose messages are shown to users as one line."""


class Ds2taError(Exception):
    """Base class: the message names the problem and the fix, on one line."""


class ConfigError(Ds2taError, ValueError):
    """An unknown preset, an unknown key or an invalid value in a model or training config."""


class DataError(Ds2taError):
    """A missing, incomplete or malformed data set."""


class InputError(Ds2taError, ValueError):
    """A model input of the wrong shape, or with NaN or infinite values."""


class FormatError(Ds2taError):
    """A network file that is missing, corrupt, not ours, too new or inconsistent."""


class CheckpointError(Ds2taError):
    """A missing, corrupt, truncated or incompatible checkpoint file."""


class ExportError(Ds2taError):
    """A model that cannot be exported bit-exactly (outside the deployable fixed-point contract)."""


class StateOverflowError(Ds2taError):
    """A neuron state reached Loihi's 24-bit limit, where Lava wraps ``u`` and clips ``v``."""
