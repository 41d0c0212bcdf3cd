"""The evidence of one submission: everything scoring may read about it, in one typed,
versioned, immutable record.

It holds what the kernel reported (candidate definitions, probe answers), what the host
read from the executed notebook (cells, how each ran, the files handed in) and the facts
of the run that change credit (the kernel was tampered with, grader data was missing).
A report is a pure function of (spec, evidence, reference, calibration): grading builds
the record from the run, re-scoring reads it back from the stored report, and both score
it through ``graders.pipeline.grade.score_evidence``.

It is stored inside the report (the flat ``candidates``/``probes``/``cells`` fields and
``execution``), so reports stored before the record existed re-score as they did; the
report's ``evidence_version`` says which shape it holds, and a report from a newer engine
is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from graders.errors import SpecError
from graders.results import (
    EVIDENCE_VERSION,
    Candidate,
    CellRecord,
    CellSummary,
    GradeReport,
    ProbeRecord,
    ReportStatus,
)


def handed_in(files: Mapping[str, str]) -> tuple[str, ...]:
    """The student's own files among those staged beside the notebook (name -> owner)."""
    return tuple(name for name, owner in files.items() if owner == "submission")


class StaleEvidence(SpecError):
    """The stored evidence cannot be scored by this engine (a newer shape, or none)."""


class EvidenceRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = EVIDENCE_VERSION
    seed: int
    inputs_fingerprint: str
    submission_sha256: str | None = None
    candidates: tuple[Candidate, ...] = ()
    probes: tuple[ProbeRecord, ...] = ()
    cells: tuple[CellSummary, ...] = ()  # the executed notebook, as the host read it
    cell_records: tuple[CellRecord, ...] = ()  # how each code cell ran
    handed_in: tuple[str, ...] = ()  # the student's own files beside the notebook
    # the probe did not run as sent: nothing the kernel said about this run is credited
    tampered: bool = False
    # grader data that was missing: the questions needing it were not graded
    missing_data: tuple[str, ...] = ()

    @classmethod
    def of(cls, report: GradeReport) -> EvidenceRecord:
        """The evidence stored in ``report``."""
        if report.status is not ReportStatus.GRADED or report.seed is None:
            raise StaleEvidence("this report holds no evidence: the submission was not run")
        if report.evidence_version > EVIDENCE_VERSION:
            raise StaleEvidence(
                f"this report's evidence has version {report.evidence_version}, newer than "
                f"this engine reads ({EVIDENCE_VERSION}): re-score it with a newer engine")
        execution = report.execution
        return cls(
            seed=report.seed, inputs_fingerprint=report.inputs_fingerprint or "",
            submission_sha256=report.submission_sha256,
            candidates=tuple(report.candidates), probes=tuple(report.probes),
            cells=tuple(report.cells), cell_records=tuple(execution.cells),
            handed_in=handed_in(execution.files),
            tampered=execution.tampered, missing_data=tuple(execution.missing_data))
