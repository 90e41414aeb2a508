"""Every data.source ends as <class>/<images>; downloads and archives are handled safely."""

import dataclasses
import hashlib
import http.server
import io
import os
import ssl
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data import save_image
from starrec.data.archives import UnsafeArchiveError, extract_archive
from starrec.data.download import SourceError, download_source, write_renamed
from starrec.data.fetch import DownloadError, fetch_url
from starrec.params import DataParams


def test_digits_are_written_offline(tmp_path):
    download_source(DataParams(source="digits"), 0, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(d) for d in range(10)]
    assert sum(1 for _ in tmp_path.rglob("*.png")) == 1797


def test_synthetic_is_deterministic_from_the_seed(tmp_path):
    data = DataParams(source="synthetic", synthetic_classes=3, synthetic_per_class=2)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        download_source(data, seed, tmp_path / name)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 6
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert any((tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes() for f in files)


def test_folder_is_copied_and_links_out_are_not_followed(tmp_path):
    source, outside = tmp_path / "photos", tmp_path / "secret"
    save_image(source / "ann" / "sub" / "1.png", np.zeros((4, 4, 3), np.uint8))
    save_image(outside / "s.png", np.zeros((4, 4, 3), np.uint8))
    (source / "ann" / "link.png").symlink_to(outside / "s.png")
    (source / "ann" / "dirlink").symlink_to(outside)
    (source / "ann" / "inside.png").symlink_to(source / "ann" / "sub" / "1.png")
    skipped = download_source(DataParams(source=str(source)), 0, tmp_path / "raw").skipped
    copied = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert copied == ["ann/inside.png", "ann/sub/1.png"]
    assert sorted(Path(p).name for p in skipped) == ["dirlink", "link.png"]
    assert (source / "ann" / "sub" / "1.png").exists()
    with pytest.raises(SourceError, match="does not exist"):
        download_source(DataParams(source=str(tmp_path / "nope")), 0, tmp_path / "raw2")


def test_two_class_folders_stored_under_one_name_are_refused_naming_both(tmp_path):
    """``<x`` is stored as ``%3Cx`` (HTML-safe): a folder already named ``%3Cx`` would merge two people."""
    source = tmp_path / "photos"
    for name in ("<x", "%3Cx", "ann"):
        save_image(source / name / "1.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(SourceError, match=r"'(<x|%3Cx)' and '(<x|%3Cx)' would both be stored as '%3Cx'; rename one"):
        download_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    assert not [path for path in (tmp_path / "raw").rglob("*") if path.is_file()]  # nothing copied
    archive = tmp_path / "photos.zip"
    archive.write_bytes(zip_bytes({"<x/1.png": b"a", "%3Cx/2.png": b"b", "ann/1.png": b"c"}))
    with pytest.raises(UnsafeArchiveError, match="'<x' and '%3Cx' would both be stored as '%3Cx'"):
        extract_archive(archive, tmp_path / "target", DataParams())
    assert list((tmp_path / "target").rglob("*")) == []


def test_a_class_name_too_long_once_stored_is_refused_in_one_line(tmp_path):
    """90 ``<`` are 270 bytes once percent-encoded: over a file name's 255, which the disk would refuse."""
    source = tmp_path / "photos"
    save_image(source / ("<" * 90) / "1.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(SourceError, match=r"would be stored in 270 bytes, over 255; shorten it"):
        download_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    (tmp_path / "photos.zip").write_bytes(zip_bytes({f"{'<' * 90}/1.png": b"a", "ann/1.png": b"b"}))
    with pytest.raises(UnsafeArchiveError, match=r"would be stored in 270 bytes, over 255"):
        extract_archive(tmp_path / "photos.zip", tmp_path / "target", DataParams())


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), content)  # the same bytes every time
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            bundle.addfile(info, io.BytesIO(content))
        for name, (kind, target) in dict(links).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            bundle.addfile(info)
    return buffer.getvalue()


def png_bytes(tmp_path) -> bytes:
    return save_image(tmp_path / "p.png", np.full((4, 4, 3), 7, np.uint8)).read_bytes()


def serve(files: dict, drop_once: set, requests: list, tls_context=None):
    """An HTTP(S) server on 127.0.0.1 in a thread: ``files`` maps a path to bytes, or to
    ``Redirect(url)``; a name in ``drop_once`` closes the connection the first time; every
    requested path is appended to ``requests``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            requests.append(name)
            if name not in files:
                self.send_error(404)
                return
            body = files[name]
            if isinstance(body, Redirect):
                self.send_response(302)
                self.send_header("Location", body.url)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in drop_once:
                drop_once.discard(name)
                self.wfile.write(body[: len(body) // 2])
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls_context is not None:
        httpd.socket = tls_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    scheme = "https" if tls_context else "http"
    return f"{scheme}://127.0.0.1:{httpd.server_address[1]}", httpd


@dataclasses.dataclass
class Redirect:
    url: str


@pytest.fixture
def server():
    files, drop_once, requests = {}, set(), []
    url, httpd = serve(files, drop_once, requests)
    yield url, files, drop_once
    httpd.shutdown()


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_archive_url_with_checksum_and_a_wrapper_folder(tmp_path, server, kind):
    url, files, drop_once = server
    image = png_bytes(tmp_path)
    members = {"stars/ann/1.png": image, "stars/ann/2.png": image, "stars/bob/x y.png": image}
    files["a"] = zip_bytes(members) if kind == "zip" else tar_bytes(members)
    drop_once.add("a")
    sha = hashlib.sha256(files["a"]).hexdigest()
    download_source(DataParams(source=f"{url}/a", sha256=sha), 0, tmp_path / "raw")
    assert sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*.png")) == [
        "ann/1.png",
        "ann/2.png",
        "bob/x y.png",
    ]


def test_checksum_mismatch_deletes_the_download(tmp_path, server):
    url, files, _ = server
    files["a"] = zip_bytes({"ann/1.png": b"x"})
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch_url(f"{url}/a", tmp_path / "a.zip", sha256="0" * 64, backoff_seconds=0)
    assert list(tmp_path.iterdir()) == []


def test_missing_url_fails_clearly_without_a_partial_file(tmp_path, server):
    url, _, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_url(f"{url}/missing", tmp_path / "a.zip", backoff_seconds=0)
    assert list(tmp_path.iterdir()) == []


def test_file_url_works(tmp_path):
    (tmp_path / "a.zip").write_bytes(zip_bytes({"ann/1.png": png_bytes(tmp_path), "bob/1.png": png_bytes(tmp_path)}))
    download_source(DataParams(source=(tmp_path / "a.zip").as_uri()), 0, tmp_path / "raw")
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["ann", "bob"]


@pytest.mark.parametrize(
    "archive, message",
    [
        (zip_bytes({"../evil.png": b"x"}), "outside the target"),
        (zip_bytes({"/abs/evil.png": b"x"}), "outside the target"),
        (tar_bytes({"ok/a.png": b"x", "ok/../../evil.png": b"x"}), "outside the target"),
        (tar_bytes({"ok/a.png": b"x"}, {"ok/link": (tarfile.SYMTYPE, "/etc/passwd")}), "is a link"),
        (tar_bytes({"ok/a.png": b"x"}, {"ok/hard": (tarfile.LNKTYPE, "../../outside")}), "is a link"),
        (b"this is not an archive", "not a valid"),
        (zip_bytes({"a/b.png": b"x"})[:40], "not a valid"),
    ],
    ids=["zip-parent", "zip-absolute", "tar-parent", "tar-symlink", "tar-hardlink", "no-archive", "zip-truncated"],
)  # named: an id made of the archive's bytes would hold its time, and two test workers must collect the same ids
def test_hostile_or_invalid_archives_are_refused_and_write_nothing(tmp_path, archive, message):
    (tmp_path / "bad").write_bytes(archive)
    target = tmp_path / "deep" / "target"
    with pytest.raises(UnsafeArchiveError, match=message):
        extract_archive(tmp_path / "bad", target, DataParams())
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "deep" / "evil.png").exists()
    assert list(target.rglob("*")) == []


def test_zip_symlink_member_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        info = zipfile.ZipInfo("ann/link")
        info.external_attr = 0o120777 << 16
        bundle.writestr(info, "/etc/passwd")
    (tmp_path / "a.zip").write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        extract_archive(tmp_path / "a.zip", tmp_path / "t", DataParams())


def make_fake_lfw(home: Path):
    lfw = home / "lfw_home"
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"):
        (lfw / name).parent.mkdir(parents=True, exist_ok=True)
        (lfw / name).write_text("")
    rng = np.random.default_rng(0)
    for person, count in (("Ann_Lee", 4), ("Bob_Ray", 3), ("Cy_Few", 1)):
        for number in range(1, count + 1):
            save_image(
                lfw / "lfw_funneled" / person / f"{person}_{number:04d}.jpg",
                rng.integers(0, 255, (250, 250, 3), np.uint8),
            )


def test_lfw_from_its_expected_layout(tmp_path):
    make_fake_lfw(tmp_path / "sk")
    download_source(
        DataParams(source="lfw", lfw_home=str(tmp_path / "sk"), min_images_per_class=2), 0, tmp_path / "raw"
    )
    counts = {p.name: len(list(p.iterdir())) for p in (tmp_path / "raw").iterdir()}
    assert counts == {"Ann_Lee": 4, "Bob_Ray": 3}


def test_lfw_missing_offline_says_where_it_is_expected(tmp_path, monkeypatch):
    monkeypatch.setattr("sklearn.datasets._lfw._fetch_remote", _no_network)
    with pytest.raises(SourceError, match=f"{tmp_path}/lfw_home/lfw_funneled"):
        download_source(DataParams(source="lfw", lfw_home=str(tmp_path)), 0, tmp_path / "raw")


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")


def test_folder_litter_is_not_copied_and_unsafe_names_are_renamed(tmp_path):
    source, pixels = tmp_path / "photos", np.zeros((4, 4, 3), np.uint8)
    for litter in (
        "__MACOSX/ann/._1.png",
        "ann/._1.png",
        "ann/@eaDir/1.png/SYNOPHOTO_THUMB_M.png",
        "ann/.AppleDouble/1.png",
        "$RECYCLE.BIN/old.png",
        "System Volume Information/x.png",
        "ann/Thumbs.db",
        "ann/desktop.ini",
        "ann/.DS_Store",
        "lost+found/1.png",
    ):
        (source / litter).parent.mkdir(parents=True, exist_ok=True)
        (source / litter).write_bytes(b"\0\1")
    save_image(source / "ann" / "1.png", pixels)
    latin1 = os.fsdecode(b"Jos\xe9")  # a name written on a latin-1 system
    save_image(source / latin1 / f"{latin1}.png", pixels)
    fetched = download_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    copied = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert copied == ["Jos%E9/Jos%E9.png", "ann/1.png"]
    assert fetched.renamed == {"Jos%E9/Jos%E9.png": ("Jos\\xe9/Jos\\xe9.png", "name not valid UTF-8")}
    assert fetched.notes() == ["renamed (name not valid UTF-8): Jos\\xe9/Jos\\xe9.png -> Jos%E9/Jos%E9.png"]
    write_renamed(fetched, tmp_path / "raw")
    assert (
        tmp_path / "raw" / "renamed.csv"
    ).read_text() == "stored,original,reason\nJos%E9/Jos%E9.png,Jos\\xe9/Jos\\xe9.png,name not valid UTF-8\n"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("<!--<script>", "%3C!--%3Cscript%3E"),
        ("$\\foo_{$", "%24%5Cfoo_%7B%24"),
        ("=HYPERLINK(1)", "%3DHYPERLINK(1)"),
        ("@SUM(A1)", "%40SUM(A1)"),
        ('a"b&c', "a%22b%26c"),
        ("tab\there", "tab%09here"),
        ("al\u200bice", "al%E2%80%8Bice"),  # zero-width space: would show as "alice"
        ("\u202eevil", "%E2%80%AEevil"),  # right-to-left override: would show reversed
    ],
)
def test_class_names_unsafe_in_html_csv_or_plots_are_encoded_with_the_reason(tmp_path, name, stored):
    source, pixels = tmp_path / "photos", np.zeros((4, 4, 3), np.uint8)
    save_image(source / name / "1.png", pixels)
    save_image(source / "Jean-Luc O'Neill" / "1.png", pixels)  # safe as it is: kept
    fetched = download_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted([stored, "Jean-Luc O'Neill"])
    reason = "name has characters unsafe in HTML, CSV or plot labels, or invisible ones"
    assert fetched.renamed == {f"{stored}/1.png": (f"{name}/1.png", reason)}
    write_renamed(fetched, tmp_path / "raw")
    rows = pd.read_csv(tmp_path / "raw" / "renamed.csv", keep_default_na=False)
    original = rows["original"][0]
    assert original.lstrip("'") == f"{name}/1.png" and not original.startswith(("=", "@"))  # no formula
    assert rows["reason"][0] == reason


def test_an_empty_class_folder_is_named(tmp_path):
    source, pixels = tmp_path / "photos", np.zeros((4, 4, 3), np.uint8)
    save_image(source / "ann" / "1.png", pixels)
    (source / "bob").mkdir()
    (source / "cy" / "sub").mkdir(parents=True)
    (source / "cy" / ".DS_Store").write_bytes(b"x")
    fetched = download_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    assert "skipped (empty class folder): bob" in fetched.notes()
    assert "skipped (empty class folder): cy" in fetched.notes()


def test_archive_litter_is_skipped_and_unsafe_tar_names_are_renamed(tmp_path):
    image = png_bytes(tmp_path)
    members = {
        "wrap/__MACOSX/ann/._1.png": b"x",
        "wrap/ann/1.png": image,
        "wrap/ann/._1.png": b"x",
        "wrap/bob/Thumbs.db": b"x",
        "wrap/README.txt": b"x",
        os.fsdecode(b"wrap/bob/\xe9.png"): image,
    }
    (tmp_path / "a.tgz").write_bytes(tar_bytes(members))
    renamed = extract_archive(tmp_path / "a.tgz", tmp_path / "raw", DataParams())
    extracted = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert extracted == ["ann/1.png", "bob/%E9.png"]
    assert renamed == {"bob/%E9.png": ("wrap/bob/\\xe9.png", "name not valid UTF-8")}


def test_unpinned_archive_prints_its_checksum_and_can_be_refused(tmp_path, server):
    url, files, _ = server
    files["a.zip"] = zip_bytes({"ann/1.png": png_bytes(tmp_path), "bob/1.png": png_bytes(tmp_path)})
    fetched = download_source(DataParams(source=f"{url}/a.zip"), 0, tmp_path / "raw")
    sha = hashlib.sha256(files["a.zip"]).hexdigest()
    assert fetched.unpinned_sha256 == sha and fetched.notes()[-1].endswith(f"under data:\n  sha256: {sha}")
    assert not download_source(DataParams(source=f"{url}/a.zip", sha256=sha), 0, tmp_path / "raw2").notes()
    with pytest.raises(SourceError, match="data.require_sha256 is true but data.sha256 is null"):
        download_source(DataParams(source=f"{url}/a.zip", require_sha256=True), 0, tmp_path / "raw3")
    assert not (tmp_path / "raw3").exists() or not any((tmp_path / "raw3").iterdir())


@pytest.fixture
def tls_context(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted by this process's default SSL context."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_a_redirect_from_https_to_http_is_refused(tmp_path, server, tls_context):
    plain_url, plain_files, _ = server
    plain_files["a.zip"] = zip_bytes({"ann/1.png": b"x"})
    files, requests = {"safe.zip": plain_files["a.zip"]}, []
    secure_url, httpd = serve(files, set(), requests, tls_context)
    try:
        files["moved.zip"] = Redirect(f"{secure_url}/safe.zip")
        fetch_url(f"{secure_url}/moved.zip", tmp_path / "ok.zip", backoff_seconds=0)
        assert (tmp_path / "ok.zip").read_bytes() == plain_files["a.zip"]  # https -> https is followed
        files["down.zip"] = Redirect(f"{plain_url}/a.zip")
        with pytest.raises(DownloadError, match="redirected to http://.* leaving https is refused"):
            fetch_url(f"{secure_url}/down.zip", tmp_path / "down.zip", backoff_seconds=0)
        assert requests == ["moved.zip", "safe.zip", "down.zip"] and not (tmp_path / "down.zip").exists()
    finally:
        httpd.shutdown()


def test_a_local_write_error_is_not_retried_and_names_the_path(tmp_path):
    files, requests = {"big.zip": bytes(1_000_000)}, []
    url, httpd = serve(files, set(), requests)
    script = (
        "import resource, sys\n"
        "from starrec.data.fetch import fetch_url\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))\n"
        f"fetch_url('{url}/big.zip', 'out/big.zip', backoff_seconds=0)\n"
    )
    try:
        result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    finally:
        httpd.shutdown()
    assert "LocalWriteError" in result.stderr and "big.zip: File too large" in result.stderr
    assert requests == ["big.zip"]  # once: not retried
    assert os.listdir(tmp_path / "out") == []


def bomb_zip(path, megabytes):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for number in range(megabytes):
            bundle.writestr(f"ann/{number}.png", bytes(1 << 20))
    return path


@pytest.mark.parametrize(
    "limits, message",
    [
        (DataParams(), "more than data.archive_max_ratio = 200 times its size"),
        (DataParams(archive_max_ratio=10_000, archive_max_bytes=5 << 20), "more than data.archive_max_bytes = 5242880"),
        (DataParams(archive_max_members=10), "has 40 files, more than data.archive_max_members = 10"),
    ],
)
def test_archive_limits_are_enforced_while_extracting(tmp_path, limits, message):
    archive = bomb_zip(tmp_path / "bomb.zip", 40)
    assert archive.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match=message):
        extract_archive(archive, tmp_path / "raw", limits)
    assert not (tmp_path / "raw").exists()


def test_a_gzip_bomb_in_a_tar_is_stopped_while_extracting(tmp_path):
    """A .tar.gz compresses 40 MB of zeros to about 40 KB: refused after the first ratio x size bytes."""
    (tmp_path / "bomb.tgz").write_bytes(tar_bytes({"ann/zeros.png": bytes(40 << 20), "bob/1.png": b"x"}))
    assert (tmp_path / "bomb.tgz").stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="more than data.archive_max_ratio = 200 times its size"):
        extract_archive(tmp_path / "bomb.tgz", tmp_path / "raw", DataParams())
    assert not (tmp_path / "raw").exists()


def test_lfw_data_home_defaults_to_this_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sklearn.datasets._lfw._fetch_remote", _no_network)
    with pytest.raises(
        SourceError, match=r"place the data where scikit-learn expects it: \.cache/scikit_learn_data/lfw"
    ):
        download_source(DataParams(source="lfw"), 0, tmp_path / "raw")
    assert (tmp_path / ".cache" / "scikit_learn_data").is_dir()
