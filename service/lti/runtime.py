"""The LTI tool as the API process holds it: its key (made on first use) and the
passback sender, started and stopped with the app."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field, HttpUrl, TypeAdapter, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from graders import LoadedAssignment
from service.config import Settings
from service.db.models import LtiPlatform
from service.lti.keys import ToolKey, load_or_create
from service.lti.passback import PassbackSender
from service.schemas import _plain_text

ORIGINS_CACHE_S = 5.0
# an origin put into a CSP header: host and port characters only
_ORIGIN_SAFE = re.compile(r"[A-Za-z0-9.-]+(:[0-9]+)?")


class PlatformRegistration(BaseModel):
    """An LMS the tool trusts: what the LMS shows its admin when they add the tool."""

    issuer: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=255)
    deployment_ids: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=100)
    auth_login_url: HttpUrl
    auth_token_url: HttpUrl
    key_set_url: HttpUrl
    # the LMS courses (context ids) whose instructors and teaching assistants are staff
    # here, "*" for every course of this LMS; roles are not per course in this service,
    # so an instructor of any other course launches as a student
    staff_contexts: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default=[], max_length=1000)
    # where the LMS shows the tool in a frame, when that is not its issuer's or login
    # URL's origin (a Canvas school's own domain): https://school.instructure.com
    frame_origins: list[Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$",
                                             max_length=300)]] = Field(default=[],
                                                                       max_length=20)

    @field_validator("auth_login_url", "auth_token_url", "key_set_url")
    @classmethod
    def _stored(cls, value: HttpUrl) -> HttpUrl:
        if len(str(value)) > 1000:  # as normalised (percent-encoded), it is what is kept
            raise ValueError("must be at most 1000 characters")
        return value

    @field_validator("issuer", "client_id", "deployment_ids", "staff_contexts",
                     mode="before")
    @classmethod
    def _plain(cls, value: object) -> object:
        # stored as text: a lone surrogate or a NUL is no id
        for item in value if isinstance(value, list) else [value]:
            _plain_text(item)
        return value


class LtiRuntime:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 titles: Callable[[str], str],
                 assignments: Callable[[str], LoadedAssignment | None]) -> None:
        self.settings, self._sessions = settings, sessions
        self._key: ToolKey | None = None
        self._lock = threading.Lock()
        self._origins: list[str] = []
        self._origins_read = float("-inf")
        self.sender = PassbackSender(sessions, lambda: self.key, titles,
                                     interval_s=settings.lti_passback_interval_s,
                                     assignments=assignments,
                                     refresh_s=settings.lti_refresh_s)

    @property
    def key(self) -> ToolKey:
        with self._lock:
            if self._key is None:
                self._key = load_or_create(self.settings.data_dir)
            return self._key

    def frame_origins(self) -> list[str]:
        """The registered LMSs' origins, which may show the tool's pages in a frame
        (read from the database at most every few seconds)."""
        now = time.monotonic()
        with self._lock:
            if now - self._origins_read < ORIGINS_CACHE_S:
                return self._origins
        found: set[str] = set()
        with self._sessions.begin() as db:
            for p in db.scalars(select(LtiPlatform)):
                for url in (p.issuer, p.auth_login_url, *(p.frame_origins or [])):
                    parts = urlparse(url)
                    if parts.scheme in ("http", "https") and parts.netloc \
                            and _ORIGIN_SAFE.fullmatch(parts.netloc):
                        found.add(f"{parts.scheme}://{parts.netloc}")
        with self._lock:
            self._origins, self._origins_read = sorted(found), now
            return self._origins

    def start(self) -> None:
        if self.settings.lti_platforms_file is not None:
            data: Any = json.loads(self.settings.lti_platforms_file.read_text())
            for registration in TypeAdapter(list[PlatformRegistration]).validate_python(data):
                with self._sessions.begin() as db:
                    register(db, registration)
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()


def register(db: Session, registration: PlatformRegistration) -> tuple[LtiPlatform, bool]:
    """Add the platform, or update the one with its issuer and client id. Returns it and
    whether it was new."""
    found = db.scalar(select(LtiPlatform).where(
        LtiPlatform.issuer == registration.issuer,
        LtiPlatform.client_id == registration.client_id))
    values = {"deployment_ids": list(dict.fromkeys(registration.deployment_ids)),
              "staff_contexts": list(dict.fromkeys(registration.staff_contexts)),
              "frame_origins": list(dict.fromkeys(registration.frame_origins)),
              "auth_login_url": str(registration.auth_login_url),
              "auth_token_url": str(registration.auth_token_url),
              "key_set_url": str(registration.key_set_url)}
    if found is None:
        found = LtiPlatform(issuer=registration.issuer, client_id=registration.client_id,
                            **values)
        db.add(found)
        db.flush()
        return found, True
    for key, value in values.items():
        setattr(found, key, value)
    db.flush()
    return found, False
