"""LTI 1.3 Advantage: the service as a tool an LMS launches (OIDC login and launch, the
tool's keys), deep linking, grade passback (AGS) and rosters (NRPS).

PyLTI1p3 does the protocol: JWT validation against the platform's keys, the OIDC
exchange, service tokens. This package is the small FastAPI adapter it asks for
(``tool``), what a launch means here (``launch``), and the two services (``passback``,
``roster``).
"""
