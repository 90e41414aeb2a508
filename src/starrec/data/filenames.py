"""Which files in a photo folder or archive are data, and the name each one is stored under.

Ignored, at any depth: hidden entries (a leading dot: ``.DS_Store``,
``.AppleDouble``, ``._photo.jpg`` resource forks, ``.Trashes``), and the
system litter in :data:`IGNORED_NAMES` (any case).

A name that is not valid UTF-8 (read from disk or a tar archive as
surrogate escapes) is stored under :func:`safe_name`, its invalid bytes
written as ``%XX``, because DVC cannot hash such a path; so is a name with
characters that HTML, a spreadsheet or a plot label would run as code: class
names and example ids reach the report, predictions.csv, ``dvc plots show``'s
page (which starrec cannot escape) and matplotlib's labels.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from pathlib import PurePath

from starrec.atomic import FORMULA_STARTS  # a spreadsheet formula's first characters: encoded in a name

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


UNSAFE_CHARACTERS = frozenset('<>&"`$\\{}')
"""Syntax to HTML (``<>&"``), matplotlib's mathtext (``$\\{}``) or a shell (`````): percent-encoded in names."""


INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})
"""Unicode's control and format characters: they change how a name looks without showing themselves."""


def _percent(character: str) -> str:
    return "".join(f"%{byte:02X}" for byte in character.encode("utf-8"))


def safe_name(name: str) -> str:
    """``name`` with each byte that is not valid UTF-8, each control, invisible format (zero-width, bidi
    override: ``al\u200bice`` would show as ``alice``, ``\u202eevil`` reversed) or :data:`UNSAFE_CHARACTERS`
    character, and a leading :data:`starrec.atomic.FORMULA_STARTS` character written as ``%XX``; a safe
    name is unchanged."""
    text = os.fsencode(name).decode("utf-8", "surrogateescape")
    parts = []
    for position, character in enumerate(text):
        if 0xDC80 <= ord(character) <= 0xDCFF:  # an invalid byte, as Python's surrogate escape
            parts.append(f"%{ord(character) - 0xDC00:02X}")
        elif (
            character in UNSAFE_CHARACTERS
            or unicodedata.category(character) in INVISIBLE_CATEGORIES
            or (position == 0 and character in FORMULA_STARTS)
        ):
            parts.append(_percent(character))
        else:
            parts.append(character)
    return "".join(parts)


def rename_reason(name: str) -> str:
    """Why :func:`safe_name` changes ``name`` (for renamed.csv and rejections)."""
    try:
        os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        return "name not valid UTF-8"
    return "name has characters unsafe in HTML, CSV or plot labels, or invisible ones"


def safe_path(path: PurePath) -> PurePath:
    """``path`` with :func:`safe_name` applied to each component."""
    return type(path)(*(safe_name(part) for part in path.parts))


def first_collision(paths: Iterable[PurePath]) -> tuple[str, str, str] | None:
    """Two different paths, or folders on their way, that :func:`safe_path` stores under one name (``<x`` and
    ``%3Cx``: two people would become one class): (first, second, stored) as :func:`readable` text, else None."""
    seen: dict[PurePath, PurePath] = {}
    for path in paths:
        for depth in range(1, len(path.parts) + 1):
            original = type(path)(*path.parts[:depth])
            stored = safe_path(original)
            other = seen.setdefault(stored, original)
            if other != original:
                return readable(str(other)), readable(str(original)), str(stored)
    return None


NAME_MAX = 255
"""Bytes of one file or folder name on Linux's file systems (ext4, xfs, btrfs; os.pathconf "PC_NAME_MAX")."""


def stored_name_problem(paths: Iterable[PurePath]) -> str | None:
    """Why ``paths`` cannot be stored as they are named: a name too long once made safe, or two names made
    one (:func:`first_too_long`, :func:`first_collision`); None when they can."""
    paths = list(paths)
    if long_name := first_too_long(paths):
        return f"'{long_name[0]}' would be stored in {long_name[1]} bytes, over {NAME_MAX}; shorten it"
    if clash := first_collision(paths):
        return f"'{clash[0]}' and '{clash[1]}' would both be stored as '{clash[2]}'; rename one"
    return None


def first_too_long(paths: Iterable[PurePath]) -> tuple[str, int] | None:
    """The first name whose :func:`safe_name` is longer than :data:`NAME_MAX` bytes (percent-encoding can triple
    a name): (the name as :func:`readable` text, its stored length), else None."""
    for path in paths:
        for part in path.parts:
            stored = len(os.fsencode(safe_name(part)))
            if stored > NAME_MAX:
                return readable(part), stored
    return None


def readable(name: str) -> str:
    """``name`` for a log or CSV: invalid UTF-8 bytes shown as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
