"""Extract .zip and .tar(.gz) archives safely, straight into the target folder.

Every member is checked before anything is written: an absolute path, a
``..`` component, a symlink, a hard link or a device file refuses the whole
archive with :class:`UnsafeArchiveError`. While extracting, the bytes
actually written (not what the headers claim) are held to
``data.archive_max_bytes`` and ``data.archive_max_ratio`` times the
archive's size; the number of files to ``data.archive_max_members``.

Members with an ignored name (:mod:`starrec.data.filenames`) are skipped; lone
wrapper folders around the class folders are dropped, so ``photos/ann/1.jpg``
lands as ``ann/1.jpg``; files outside any class folder are skipped.
"""

from __future__ import annotations

import functools
import gzip
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from starrec.data.filenames import (
    has_ignored_part,
    readable,
    rename_reason,
    safe_path,
    stored_name_problem,
)
from starrec.errors import StarrecError
from starrec.params import DataParams

CHUNK_BYTES = 1 << 20


class UnsafeArchiveError(StarrecError, ValueError):
    """The archive is not valid, too large, or a member would escape the target folder."""


@dataclass(frozen=True)
class Member:
    """A regular file of the archive: its path inside it and how to read its content."""

    name: PurePosixPath
    open: Callable[[], IO[bytes]]


def _member_path(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target folder")
    return path


def _zip_members(archive: Path, bundle: zipfile.ZipFile) -> list[Member]:
    members = []
    for info in bundle.infolist():
        path = _member_path(archive, info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link")
        if not info.is_dir():
            members.append(Member(path, functools.partial(bundle.open, info)))
    return members


def _tar_members(archive: Path, bundle: tarfile.TarFile) -> list[Member]:
    members = []
    for info in bundle.getmembers():
        path = _member_path(archive, info.name)
        if info.issym() or info.islnk():
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is a link")
        if not (info.isreg() or info.isdir()):
            raise UnsafeArchiveError(f"{archive}: member {info.name!r} is not a regular file or folder")
        if info.isreg():
            members.append(Member(path, functools.partial(_tar_file, bundle, info)))
    return members


def _tar_file(bundle: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    """A regular member's content (``extractfile`` gives None only for other kinds, refused before)."""
    content = bundle.extractfile(info)
    assert content is not None
    return content


def _class_layout(members: list[Member]) -> dict[PurePosixPath, Member]:
    """Where each kept member goes: ignored names out, lone wrapper folders stripped."""
    kept = [member for member in members if not has_ignored_part(member.name)]
    depth = 0
    while (
        len({m.name.parts[depth] for m in kept}) == 1  # one entry ...
        and all(len(m.name.parts) > depth + 1 for m in kept)  # ... a folder ...
        and any(len(m.name.parts) > depth + 2 for m in kept)  # ... with folders inside
    ):
        depth += 1
    return {
        PurePosixPath(safe_path(PurePosixPath(*member.name.parts[depth:]))): member
        for member in kept
        if len(member.name.parts) > depth + 1
    }


def _extract(archive: Path, members: list[Member], target: Path, limits: DataParams) -> dict[str, tuple[str, str]]:
    if len(members) > limits.archive_max_members:
        raise UnsafeArchiveError(
            f"{archive}: has {len(members)} files, more than data.archive_max_members = {limits.archive_max_members}"
        )
    if problem := stored_name_problem(member.name for member in members if not has_ignored_part(member.name)):
        raise UnsafeArchiveError(f"{archive}: {problem}")
    budget = min(limits.archive_max_bytes, limits.archive_max_ratio * archive.stat().st_size)
    written, renamed = 0, {}
    for name, member in _class_layout(members).items():
        if safe_path(member.name) != member.name:
            renamed[name.as_posix()] = (readable(member.name.as_posix()), rename_reason(str(member.name)))
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as source, open(destination, "wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                written += len(chunk)
                if written > budget:
                    raise UnsafeArchiveError(_too_large(archive, written, limits))
                out.write(chunk)
    return renamed


def _too_large(archive: Path, written: int, limits: DataParams) -> str:
    size = archive.stat().st_size
    if written > limits.archive_max_bytes:
        return f"{archive}: extracts to more than data.archive_max_bytes = {limits.archive_max_bytes} bytes"
    return (
        f"{archive}: extracts to more than data.archive_max_ratio = {limits.archive_max_ratio:g} times "
        f"its size ({written} bytes so far from {size}); a compression bomb, or raise the param"
    )


def extract_archive(archive: str | Path, target: str | Path, limits: DataParams) -> dict[str, tuple[str, str]]:
    """Extract ``archive`` (zip, tar, tar.gz, tgz; detected from content) into ``target``.

    Returns ``{stored path: (original member name, reason)}`` for the members stored
    under a :func:`~starrec.data.filenames.safe_name`. On any error ``target`` is
    removed, so nothing half-extracted remains.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                return _extract(archive, _zip_members(archive, bundle), target, limits)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as bundle:
                return _extract(archive, _tar_members(archive, bundle), target, limits)
        else:
            raise UnsafeArchiveError(f"{archive}: not a valid .zip, .tar.gz, .tgz or .tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as error:
        shutil.rmtree(target)
        raise UnsafeArchiveError(f"{archive}: not a valid archive: {error}") from None
    except BaseException:
        shutil.rmtree(target)
        raise
