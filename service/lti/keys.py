"""The tool's own RSA key: it signs deep-linking responses and service-token requests,
and platforms verify them against ``/lti/jwks``. Made once per data folder, kept
readable only by the service."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.registration import Registration

_LOCK = threading.Lock()


@dataclass(frozen=True)
class ToolKey:
    private_pem: str
    public_pem: str

    @cached_property
    def jwk(self) -> dict[str, Any]:
        # PyLTI1p3's own JWK: its ``kid`` is what the library puts in the JWT headers
        return dict(Registration.get_jwk(self.public_pem))


def load_or_create(data_dir: Path) -> ToolKey:
    path = data_dir / "lti" / "tool-key.pem"
    with _LOCK:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            partial = path.with_suffix(f".{os.getpid()}.partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            try:
                os.link(partial, path)  # two processes starting at once keep the first key
            except FileExistsError:
                pass
            finally:
                partial.unlink()
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return ToolKey(private_pem=path.read_text(), public_pem=public.decode())
