"""Confinement only: the bubblewrap command line, the launcher, seccomp, cgroups and
limits. Nothing here knows what grading is."""
