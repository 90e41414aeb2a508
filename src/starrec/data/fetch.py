"""Stream a URL to a local file: progress bar, retries, sha256 check, atomic rename.

Only network errors are retried. A redirect from https to anything else is
refused; a local error (disk full, file too large, permission denied) stops
at once with the path and the cause.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import time
import urllib.error
import urllib.parse
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


class _RefuseDowngrade(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, request, fp, code, message, headers, new_url):
        if urllib.parse.urlsplit(request.full_url).scheme == "https" and not new_url.startswith("https://"):
            raise DownloadError(f"{request.full_url}: redirected to {new_url}; leaving https is refused")
        return super().redirect_request(request, fp, code, message, headers, new_url)


_OPENER = urllib.request.build_opener(_RefuseDowngrade)


class LocalWriteError(DownloadError):
    """The download could not be written locally; retrying would not help."""


@contextlib.contextmanager
def _local_io(destination: Path):
    """Turn an OSError of writing ``destination`` into :class:`LocalWriteError` (never retried)."""
    try:
        yield
    except OSError as error:
        raise LocalWriteError(f"{destination}: {error.strerror or error}") from None


def _stream(url: str, destination: Path, timeout: float) -> None:
    with _OPENER.open(url, timeout=timeout) as response:
        with _local_io(destination):
            out = open(destination, "wb")  # noqa: SIM115 - closed below, where its errors are local too
        try:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc="download") as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    with _local_io(destination):
                        out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != int(total):
                message = f"got {out.tell()} of {total} bytes"
                raise urllib.error.ContentTooShortError(message, None)  # type: ignore[arg-type]  # no content to hand on
        finally:
            with _local_io(destination):
                out.close()


def fetch_url(
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
