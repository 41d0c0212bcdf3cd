"""A course library's edited files, put where the library is: students hand in their
fork's ``vugrad/ops.py`` inside a zip of the whole repository, a zip of the edited files
alone, or the single ``ops.py``; each lands over the shipped package's file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath

from graders.pipeline.intake import Submission, library_notebook
from graders.spec import PackageOverlay


def overlay_package(submission: Submission, filename: str, data: bytes,
                    overlay: PackageOverlay | None) -> Submission:
    if overlay is None:
        return submission
    base = PurePosixPath(filename.replace("\\", "/")).name
    if submission.kind == "py" and base in overlay.files:
        # the library file itself, not a script to run
        target = f"{overlay.package}/{base}"
        return replace(submission, notebook=library_notebook([target]),
                       attachments={target: data})
    placed: dict[str, bytes] = {}
    for path, content in submission.attachments.items():
        parts = PurePosixPath(path).parts
        if overlay.package in parts[:-1]:
            # <fork>/vugrad/ops.py: the package folder wherever the zip had it
            at = len(parts) - 1 - parts[::-1].index(overlay.package)
            placed["/".join(parts[at:])] = content
        elif len(parts) == 1 and parts[0] in overlay.files:
            placed[f"{overlay.package}/{parts[0]}"] = content
        else:
            placed[path] = content
    return replace(submission, attachments=placed)
