"""Errors meant for people: each message says what is wrong and how to fix it.

`main.py` prints a `CenterNetError` as one line and exits 2; any other exception is a bug and keeps
its traceback.
"""


class CenterNetError(Exception):
    """Base class of every error a user can act on."""


class CheckpointError(CenterNetError):
    """A weights file that cannot be read, is unsafe, or does not fit the model."""


class InputError(CenterNetError):
    """An image, video, folder or path given on the command line that cannot be used."""


class ConfigError(CenterNetError):
    """An unknown arch, task, option value or combination of options."""


class SourceError(CenterNetError):
    """A live source that never gave a frame (unreachable, silent, or not a video)."""
