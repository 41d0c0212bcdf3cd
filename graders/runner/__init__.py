"""The host side of execution and the only importer of nbclient: kernel sessions, the
job directory, cells through nbclient, the probe phase, and the ``Executor`` protocol."""
