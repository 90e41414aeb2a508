"""Every data.source ends as <class>/<images>; downloads and archives are handled safely."""

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import save_image
from starrec.archives import UnsafeArchiveError, extract_archive
from starrec.downloads import DownloadError, download
from starrec.params import DataParams
from starrec.sources import SourceError, fetch_source


def test_digits_are_written_offline(tmp_path):
    fetch_source(DataParams(source="digits"), 0, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(d) for d in range(10)]
    assert sum(1 for _ in tmp_path.rglob("*.png")) == 1797


def test_synthetic_is_deterministic_from_the_seed(tmp_path):
    data = DataParams(source="synthetic", synthetic_classes=3, synthetic_per_class=2)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        fetch_source(data, seed, tmp_path / name)
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
    skipped = fetch_source(DataParams(source=str(source)), 0, tmp_path / "raw")
    copied = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert copied == ["ann/inside.png", "ann/sub/1.png"]
    assert sorted(Path(p).name for p in skipped) == ["dirlink", "link.png"]
    assert (source / "ann" / "sub" / "1.png").exists()
    with pytest.raises(SourceError, match="does not exist"):
        fetch_source(DataParams(source=str(tmp_path / "nope")), 0, tmp_path / "raw2")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
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


@pytest.fixture
def server(tmp_path):
    """Serves ``files`` on 127.0.0.1; a name in ``drop_once`` closes the connection the first time."""
    files, drop_once = {}, set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            if name not in files:
                self.send_error(404)
                return
            body = files[name]
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
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files, drop_once
    httpd.shutdown()


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_archive_url_with_checksum_and_a_wrapper_folder(tmp_path, server, kind):
    url, files, drop_once = server
    image = png_bytes(tmp_path)
    members = {"stars/ann/1.png": image, "stars/ann/2.png": image, "stars/bob/x y.png": image}
    files["a"] = zip_bytes(members) if kind == "zip" else tar_bytes(members)
    drop_once.add("a")
    sha = hashlib.sha256(files["a"]).hexdigest()
    fetch_source(DataParams(source=f"{url}/a", sha256=sha), 0, tmp_path / "raw")
    assert sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*.png")) == [
        "ann/1.png",
        "ann/2.png",
        "bob/x y.png",
    ]


def test_checksum_mismatch_deletes_the_download(tmp_path, server):
    url, files, _ = server
    files["a"] = zip_bytes({"ann/1.png": b"x"})
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download(f"{url}/a", tmp_path / "a.zip", sha256="0" * 64, backoff_seconds=0)
    assert list(tmp_path.iterdir()) == []


def test_missing_url_fails_clearly_without_a_partial_file(tmp_path, server):
    url, _, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{url}/missing", tmp_path / "a.zip", backoff_seconds=0)
    assert list(tmp_path.iterdir()) == []


def test_file_url_works(tmp_path):
    (tmp_path / "a.zip").write_bytes(zip_bytes({"ann/1.png": png_bytes(tmp_path), "bob/1.png": png_bytes(tmp_path)}))
    fetch_source(DataParams(source=(tmp_path / "a.zip").as_uri()), 0, tmp_path / "raw")
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
)
def test_hostile_or_invalid_archives_are_refused_and_write_nothing(tmp_path, archive, message):
    (tmp_path / "bad").write_bytes(archive)
    target = tmp_path / "deep" / "target"
    with pytest.raises(UnsafeArchiveError, match=message):
        extract_archive(tmp_path / "bad", target)
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
        extract_archive(tmp_path / "a.zip", tmp_path / "t")


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
    fetch_source(DataParams(source="lfw", lfw_home=str(tmp_path / "sk"), min_images_per_class=2), 0, tmp_path / "raw")
    counts = {p.name: len(list(p.iterdir())) for p in (tmp_path / "raw").iterdir()}
    assert counts == {"Ann_Lee": 4, "Bob_Ray": 3}


def test_lfw_missing_offline_says_where_it_is_expected(tmp_path, monkeypatch):
    monkeypatch.setattr("sklearn.datasets._lfw._fetch_remote", _no_network)
    with pytest.raises(SourceError, match=f"{tmp_path}/lfw_home/lfw_funneled"):
        fetch_source(DataParams(source="lfw", lfw_home=str(tmp_path)), 0, tmp_path / "raw")


def _no_network(*args, **kwargs):
    raise OSError("network unreachable")
