"""Pure scoring: (spec, planned calls, probe records, reference) -> per-check results.
Never imports the runner or the sandbox, so stored records can always be re-scored."""
