"""Extract .zip and .tar(.gz) archives safely.

Every member is checked before anything is written: an absolute path, a
``..`` component, a symlink or hard link pointing outside the target, or a
device file refuses the whole archive with :class:`UnsafeArchiveError`.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from starrec.errors import StarrecError


class UnsafeArchiveError(StarrecError, ValueError):
    """The archive is not valid, or a member would escape the target folder."""


def _check_member_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target folder")


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        for member in members:
            _check_member_name(archive, member.filename)
            if stat.S_ISLNK(member.external_attr >> 16):
                raise UnsafeArchiveError(f"{archive}: member {member.filename!r} is a symbolic link")
        bundle.extractall(target)


def _extract_tar(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        for member in members:
            _check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a link")
            try:
                tarfile.data_filter(member, str(target))
            except tarfile.FilterError as error:
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} refused: {error}") from None
        bundle.extractall(target, members=members, filter="data")


def extract_archive(archive: str | Path, target: str | Path) -> None:
    """Extract ``archive`` (zip, tar, tar.gz, tgz; detected from content) into ``target``."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, target)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, target)
        else:
            raise UnsafeArchiveError(f"{archive}: not a valid .zip, .tar.gz, .tgz or .tar archive")
    except (zipfile.BadZipFile, tarfile.ReadError, EOFError) as error:
        raise UnsafeArchiveError(f"{archive}: not a valid archive: {error}") from None
