"""Grading a submission end to end: intake, planning (inputs, model requests), notebook
sections, execution through an executor, scoring, the report; and re-scoring."""
