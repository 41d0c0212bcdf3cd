"""An assignment as staff upload it: a zip of its folder (``spec.py``, ``solution.py``,
the reference notebook, ``support/`` and ``handout/``), checked before anything of it is
imported, and unpacked once per content hash."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MAX_BUNDLE_BYTES = 50 * 1024 * 1024  # compressed and uncompressed: weights belong in data
MAX_MEMBERS = 500
REQUIRED = ("spec.py", "solution.py")
ASSIGNMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
# what a course folder carries that is not the assignment
SKIPPED_PARTS = {"__pycache__", ".git", ".ipynb_checkpoints", ".calibration"}


class BundleError(ValueError):
    """The upload is not an assignment folder we can take; the message says why."""


def read_bundle(data: bytes) -> dict[str, bytes]:
    """The files of an uploaded assignment zip by relative path (one enclosing folder,
    as a zipped course folder has, is taken off)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the zip is {len(data) / 2**20:.1f} MiB; an assignment folder "
                          f"may be {MAX_BUNDLE_BYTES // 2**20} MiB at most (datasets and "
                          "weights go in the data directory, not the assignment)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BundleError(f"this is not a zip file ({exc})") from None
    if len(entries) > MAX_MEMBERS:
        raise BundleError(f"the zip holds {len(entries)} entries; {MAX_MEMBERS} at most")
    # macOS Finder adds __MACOSX/ (resource forks) beside the folder it zips
    members = [m for m in entries if not m.is_dir()
               and not m.filename.replace("\\", "/").startswith("__MACOSX/")]
    if sum(m.file_size for m in members) > MAX_BUNDLE_BYTES:
        raise BundleError("the zip unpacks to more than "
                          f"{MAX_BUNDLE_BYTES // 2**20} MiB")
    paths = []
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise BundleError(f"{member.filename!r} points outside the assignment folder")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise BundleError(f"{member.filename!r} is a symbolic link; send the file")
        paths.append(path)
    tops = {p.parts[0] for p in paths}
    strip = len(tops) == 1 and all(len(p.parts) > 1 for p in paths)
    files: dict[str, bytes] = {}
    for member, path in zip(members, paths, strict=True):
        relative = PurePosixPath(*path.parts[1:]) if strip else path
        if SKIPPED_PARTS & set(relative.parts) or relative.name == ".DS_Store":
            continue
        try:
            files[str(relative)] = archive.read(member)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError,
                zlib.error) as exc:
            raise BundleError(f"{member.filename!r} cannot be read: {exc}") from None
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents}
    clash = sorted(folders & set(files))
    if clash:
        raise BundleError(f"{clash[0]!r} is both a file and a folder in the zip")
    missing = [name for name in REQUIRED if name not in files]
    if missing:
        found = ", ".join(sorted(files)[:8]) or "nothing"
        raise BundleError(f"the zip has no {' and no '.join(missing)} at its top (found: "
                          f"{found}); zip the assignment's folder itself")
    return files


def zip_folder(folder: Path) -> bytes:
    """A course folder as the zip ``read_bundle`` takes (the command line's upload)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not SKIPPED_PARTS & set(relative.parts):
                archive.write(path, str(relative))
    return buffer.getvalue()


def materialize(root: Path, sha256: str, files: dict[str, bytes]) -> Path:
    """The bundle unpacked under ``root``, named by its hash (so each version imports
    under module names of its own); made once, atomically."""
    target = root / f"v{sha256[:16]}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpacking-"))
    try:
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        # support/ is mounted into sandboxes, which run as another user
        for directory, _, names in os.walk(staging):
            os.chmod(directory, 0o755)
            for name in names:
                os.chmod(os.path.join(directory, name), 0o644)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
