"""fetch against a loopback HTTP server: success, resume after a cut, md5, unsafe tar, offline."""

from __future__ import annotations

import hashlib
import io

import pytest
from conftest import assert_clean_error
from loopback_files import Files, serving, tgz
from PIL import Image

from flower_edge.data.fetch import fetch
from flower_edge.data.sources import load_data
from flower_edge.errors import DataError


@pytest.fixture()
def server():
    with serving(Files()) as files:
        yield files


def _jpeg(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(buf, "JPEG")
    return buf.getvalue()


def _flower_photos(extra: dict[str, bytes] | None = None) -> bytes:
    members = {"flower_photos/LICENSE.txt": b"CC-BY"}
    for i, cls in enumerate(("daisy", "dandelion", "roses", "sunflowers", "tulips")):
        for j in range(3):
            members[f"flower_photos/{cls}/{j}.jpg"] = _jpeg((40 * i, 20 * j, 100))
    members.update(extra or {})
    return tgz(members)


def test_tf_flowers_fetch_then_load(server, tmp_path):
    server.data["flower_photos.tgz"] = _flower_photos()
    dest = fetch("tf_flowers", tmp_path / "flowers", base_url=server.url)
    d = load_data(dest)
    assert d.classes == ("daisy", "dandelion", "roses", "sunflowers", "tulips")
    assert sum(d.counts().values()) == 15
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowers"]  # no cache or temp left


def test_cut_download_resumes_with_range(server, tmp_path, monkeypatch):
    server.data["flower_photos.tgz"] = payload = _flower_photos()
    server.cut.add("flower_photos.tgz")
    monkeypatch.setenv("FLOWER_EDGE_FETCH_URL", server.url)  # the env override
    with pytest.raises(DataError, match="was cut at .* run the same command again to resume"):
        fetch("tf_flowers", tmp_path / "flowers")
    assert not (tmp_path / "flowers").exists()
    part = tmp_path / ".flowers.download" / "flower_photos.tgz.part"
    assert 0 < part.stat().st_size < len(payload)
    fetch("tf_flowers", tmp_path / "flowers")
    assert server.ranges == [("flower_photos.tgz", f"bytes={len(payload) // 2}-")]
    assert sum(load_data(tmp_path / "flowers").counts().values()) == 15


def test_oxford102_fetch_checks_md5(server, tmp_path, oxford102_meta):
    archive = tgz({f"jpg/image_{i:05d}.jpg": _jpeg() for i in (1, 2)})
    server.data["102flowers.tgz"] = archive
    for name in ("imagelabels.mat", "setid.mat"):  # the real files match the official md5s
        server.data[name] = (oxford102_meta / name).read_bytes()
    dest = fetch("oxford102", tmp_path / "ox", base_url=server.url,
                 checksums={"102flowers.tgz": hashlib.md5(archive).hexdigest()})
    assert (dest / "jpg" / "image_00002.jpg").is_file() and (dest / "setid.mat").is_file()


def test_cli_wrong_md5_leaves_nothing(invoke, server, tmp_path):
    server.data["102flowers.tgz"] = tgz({"jpg/image_00001.jpg": _jpeg()})
    line = assert_clean_error(invoke("data", "fetch", "oxford102", "--out", tmp_path / "ox",
                                     "--base-url", server.url), contains="checksum mismatch")
    assert "52808999861908f626f3c1f4e79d11fa" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_tar_with_dotdot_member(invoke, server, tmp_path):
    server.data["flower_photos.tgz"] = _flower_photos({"flower_photos/../../evil.txt": b"x"})
    assert_clean_error(invoke("data", "fetch", "tf_flowers", "--out", tmp_path / "f", "--base-url",
                              server.url), contains="member 'flower_photos/../../evil.txt'")
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "evil.txt").exists()


def test_symlink_out_of_dest_is_rejected(server, tmp_path):
    buf = tgz({"flower_photos/daisy/1.jpg": _jpeg()}, links={"flower_photos/daisy/x.jpg": "../../../etc/passwd"})
    server.data["flower_photos.tgz"] = buf
    with pytest.raises(DataError, match="links outside the destination"):
        fetch("tf_flowers", tmp_path / "f", base_url=server.url)
    assert list(tmp_path.iterdir()) == []


def test_tf_flowers_wrong_structure(server, tmp_path):
    server.data["flower_photos.tgz"] = tgz({"photos/daisy/1.jpg": _jpeg()})
    with pytest.raises(DataError, match="unexpected layout"):
        fetch("tf_flowers", tmp_path / "f", base_url=server.url)
    assert list(tmp_path.iterdir()) == []


def test_cli_offline(invoke, tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    line = assert_clean_error(invoke("data", "fetch", "tf_flowers", "--out", tmp_path / "f"),
                              contains="check your internet connection")
    assert "storage.googleapis.com" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_non_empty_dest(invoke, tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "mine.txt").write_text("keep me")
    assert_clean_error(invoke("data", "fetch", "tf_flowers", "--out", tmp_path / "f"), code=2,
                       contains="not empty")
    assert (tmp_path / "f" / "mine.txt").read_text() == "keep me"


def test_cli_needs_an_out_and_never_writes_inside_photos(invoke, tmp_path):
    assert_clean_error(invoke("data", "fetch", "tf_flowers"), code=2, contains="--out DIR")
    photos = tmp_path / "flowers"
    for cls in ("rose", "tulip"):
        (photos / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(photos / cls / "a.png")
    assert_clean_error(invoke("data", "fetch", "tf_flowers", "--out", photos / "more"), code=2,
                       contains="labelled photos")
    assert sorted(p.name for p in photos.iterdir()) == ["rose", "tulip"]  # no download cache either
