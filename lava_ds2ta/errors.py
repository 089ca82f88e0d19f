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


class OutputError(Ds2taError):
    """An output path that would overwrite an input, is a directory or cannot be written."""


class ExportError(Ds2taError):
    """A model that cannot be exported bit-exactly (outside the deployable fixed-point contract)."""


class StateOverflowError(Ds2taError):
    """A neuron state reached Loihi's 24-bit limit, where Lava wraps ``u`` and clips ``v``."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received by a command (a ``KeyboardInterrupt``, so ``except
    KeyboardInterrupt`` and clean-up code treat both signals alike).

    ``signum`` is the signal; ``done`` says, for the one-line report, what had been done and
    cleaned up when it arrived (e.g. ``"during the Lava run, after 120 of 360 samples; ..."``).
    """

    def __init__(self, signum: int, done: str = "") -> None:
        super().__init__(signum, done)
        self.signum = signum
        self.done = done
