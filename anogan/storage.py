"""Files written safely: atomic text, JSON, CSV and Keras saves, hashes, and a path guard.

Every file the package writes goes to a temporary name next to its target
and is renamed onto it, so a process killed at any moment leaves the old
file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from anogan.errors import AnoganError


@contextlib.contextmanager
def atomic_path(target: os.PathLike | str) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    A process killed while writing leaves at most a stray temporary file,
    never a half-written ``target``. The temporary name keeps the target's
    suffix, since Keras chooses the format from it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(target: os.PathLike | str, text: str) -> None:
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")


def write_csv_atomic(target: os.PathLike | str, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Write a small table (history files) in one atomic step; a column a row lacks stays empty."""
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    write_text_atomic(target, "\n".join(lines) + "\n")


def write_json_atomic(target: os.PathLike | str, payload: dict) -> None:
    write_text_atomic(target, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def save_model_atomic(model, target: os.PathLike | str) -> str:
    """Save a Keras model to ``target`` atomically; return the file's SHA-256."""
    with atomic_path(target) as temp:
        model.save(temp)
    return sha256_file(target)


def sha256_file(path: os.PathLike | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("anogan", "tensorflow", "keras", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            with contextlib.suppress(PackageNotFoundError):
                versions[package] = version(f"{package}-cpu")
    return versions


def resolve_under(root: os.PathLike | str, candidate: os.PathLike | str) -> Path:
    """``candidate`` (absolute or relative to ``root``) resolved, refused unless it lies inside ``root``.

    Guards user-chosen paths (dashboard selections, uploads) against ``..``
    and symlinks that lead out of the runs directory.
    """
    root = Path(root).resolve()
    path = Path(candidate)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise AnoganError(f"{candidate}: outside the runs directory {root}")
    return resolved
