"""The grading service: HTTP API, persistence, job dispatch and the command line."""
