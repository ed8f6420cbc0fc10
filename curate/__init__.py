"""curate: train on what broke.

Mine the failures of prompted LLMs out of production logs and turn them into fine-tuning data.
"""

from __future__ import annotations

__version__ = "0.1.0"
