"""Which files in a photo folder or archive are data, and the name each one is stored under.

Ignored, at any depth: hidden entries (a leading dot: ``.DS_Store``,
``.AppleDouble``, ``._photo.jpg`` resource forks, ``.Trashes``), and the
system litter in :data:`IGNORED_NAMES` (any case).

A name that is not valid UTF-8 (read from disk or a tar archive as
surrogate escapes) is stored under :func:`safe_name`, its invalid bytes
written as ``%XX``, because DVC cannot hash such a path.
"""

from __future__ import annotations

import os
from pathlib import PurePath

IGNORED_NAMES = frozenset(
    {
        "__macosx",  # macOS archive metadata
        "@eadir",  # Synology thumbnails
        "#recycle",  # Synology recycle bin
        "$recycle.bin",  # Windows recycle bin
        "system volume information",  # Windows
        "lost+found",  # ext file systems
        "thumbs.db",  # Windows thumbnails
        "ehthumbs.db",  # Windows media center thumbnails
        "desktop.ini",  # Windows folder settings
        "icon\r",  # macOS custom folder icon
    }
)


def is_ignored(name: str) -> bool:
    """True for a hidden name or one of :data:`IGNORED_NAMES`."""
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def has_ignored_part(path: PurePath) -> bool:
    """True when any component of ``path`` is ignored."""
    return any(is_ignored(part) for part in path.parts)


def safe_name(name: str) -> str:
    """``name`` itself when it is valid UTF-8; else its bytes with each invalid byte as ``%XX``."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogateescape")
        return "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


def safe_path(path: PurePath) -> PurePath:
    """``path`` with :func:`safe_name` applied to each component."""
    return type(path)(*(safe_name(part) for part in path.parts))


def readable(name: str) -> str:
    """``name`` for a log or CSV: invalid UTF-8 bytes shown as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
