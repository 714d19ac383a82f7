"""User-facing errors. Their message says what went wrong and what to do; the CLI and the
viewer show it as is (no traceback)."""
from __future__ import annotations


class UserInputError(ValueError):
    """Bad input from the user (file, image, audio, option)."""


class PortraitError(UserInputError):
    """The portrait cannot be used (not an image, no face, face too small, ...)."""
