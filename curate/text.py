"""Text for people: what curate prints of logged content.

Logged content is untrusted: a terminal escape sequence in a model output (`\\x1b]0;...\\x07`
retitles the window, `\\x1b[2J` clears the screen, OSC 8 hides a link) must never reach the
terminal raw. Every human-readable output goes through `printable`.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that make
# text read differently from how it is stored ("Trojan source")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe to print."""
    return _CONTROL.sub(_visible, str(text))
