"""Error types whose messages are shown to users as one line."""


class Ds2taError(Exception):
    """Base class: the message names the problem and the fix, on one line."""


class ConfigError(Ds2taError, ValueError):
    """An unknown preset, an unknown key or an invalid value in a model or training config."""


class DataError(Ds2taError):
    """A missing, incomplete or malformed data set."""


class InputError(Ds2taError, ValueError):
    """A model input of the wrong shape, or with NaN or infinite values."""
