"""Stream a URL to a local file: progress bar, retries, sha256 check, atomic rename."""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from starrec.atomic import atomic_path
from starrec.errors import StarrecError

CHUNK_BYTES = 1 << 20


class DownloadError(StarrecError, RuntimeError):
    """The URL could not be fetched, or its content failed the checksum."""


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _stream(url: str, destination: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
        total = response.headers.get("Content-Length")
        with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc="download") as bar:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                out.write(chunk)
                bar.update(len(chunk))
        if total is not None and out.tell() != int(total):
            raise urllib.error.ContentTooShortError(f"got {out.tell()} of {total} bytes", None)


def download(
    url: str,
    destination: str | Path,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff_seconds: float = 1.0,
) -> Path:
    """Fetch ``url`` to ``destination``; never leave a partial file under that name.

    A dropped connection is retried ``retries`` times with a growing pause.
    When ``sha256`` is given, a mismatch removes the download and raises
    :class:`DownloadError` before anything uses it.
    """
    destination = Path(destination)
    with atomic_path(destination) as temporary:
        for attempt in range(1, retries + 2):
            try:
                _stream(url, temporary, timeout)
                break
            except (OSError, http.client.HTTPException) as error:
                if isinstance(error, urllib.error.HTTPError) and error.code < 500:
                    raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
                if attempt > retries:
                    raise DownloadError(f"{url}: failed after {attempt} attempts: {error}") from None
                time.sleep(backoff_seconds * attempt)
        if sha256 is not None:
            actual = sha256_of(temporary)
            if actual.lower() != sha256.lower():
                raise DownloadError(
                    f"{url}: sha256 mismatch (data.sha256 expects {sha256.lower()}, got {actual}); "
                    "the download was deleted"
                )
    return destination
