"""Plaza: open-source omni-channel social commerce platform."""

__version__ = "0.1.0"
