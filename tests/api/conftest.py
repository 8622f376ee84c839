"""Re-exported for the tests of this folder: see tests/running.py."""

from tests.running import Running, start

__all__ = ["Running", "start"]
