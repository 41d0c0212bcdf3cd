"""The FastAPI adapter PyLTI1p3 asks for (it ships Flask and Django ones): the request,
its cookies, redirects, where a login's nonce and state wait for the launch, and the
tool's registrations read from the database.

A nonce is taken, not read: the first launch that presents it uses it up, so the same
id_token posted again (a replay) is refused even while its state cookie lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests
from fastapi.responses import RedirectResponse, Response
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from pylti1p3.tool_config import ToolConfDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import LtiPlatform, LtiState
from service.lti.keys import ToolKey

DEFAULT_LIFETIME_S = 86400
REQUEST_TIMEOUT_S = 20.0
KEY_SET_CACHE_S = 300  # a platform's rotated key is picked up within five minutes


class TimedSession(requests.Session):
    """PyLTI1p3 calls platforms without a timeout: one that never answers must hold
    neither a launch nor the score sender forever."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return super().request(*args, **kwargs)


class LaunchRequest(Request):
    """A login or launch request's parameters (query or form) and cookies."""

    def __init__(self, params: Mapping[str, str], cookies: Mapping[str, str],
                 secure: bool) -> None:
        self._params, self._cookies, self._secure = dict(params), dict(cookies), secure

    @property
    def session(self) -> dict[str, Any]:
        return {}  # unused: the launch's data lives in DatabaseStorage

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str:
        return self._params.get(key)  # type: ignore[return-value]

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)


class Cookies(CookieService):
    """Cookies read from the request, and those to set on the response."""

    def __init__(self, request: LaunchRequest) -> None:
        self._request = request
        self._to_set: dict[str, tuple[str, int | None]] = {}

    def _key(self, name: str) -> str:
        return f"{self._cookie_prefix}-{name}"

    def get_cookie(self, name: str) -> str | None:
        return self._request.get_cookie(self._key(name))

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self._to_set[self._key(name)] = (str(value), exp)

    def apply(self, response: Response) -> Response:
        secure = self._request.is_secure()
        for key, (value, exp) in self._to_set.items():
            # inside an LMS's iframe the launch's POST is cross-site: over HTTPS the state
            # cookie must be SameSite=None to come back with it
            response.set_cookie(key, value, max_age=exp, path="/lti/", httponly=True,
                                secure=secure, samesite="none" if secure else "lax")
        return response


class _Redirect(Redirect[Response]):
    def __init__(self, location: str, cookies: Cookies) -> None:
        self._location, self._cookies = location, cookies

    def do_redirect(self) -> Response:
        return self._cookies.apply(RedirectResponse(self._location, status_code=302))

    def do_js_redirect(self) -> Response:
        return self.do_redirect()  # no inline script: the pages' CSP forbids it

    def set_redirect_url(self, location: str) -> None:
        self._location = location

    def get_redirect_url(self) -> str:
        return self._location


class DatabaseStorage(LaunchDataStorage[Any]):
    """Nonces, states and launch data in ``lti_state``, each write its own transaction
    (a login and its launch may reach different processes)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__()
        self._sessions = sessions

    def get_session_cookie_name(self) -> str | None:
        return None  # keys are random per login: no browser session id is needed

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        with self._sessions.begin() as db:
            row = db.scalar(select(LtiState).where(LtiState.key == self._prepare_key(key),
                                                   LtiState.expires_at > utcnow()))
            return None if row is None else row.value.get("v")

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        now = utcnow()
        with self._sessions.begin() as db:
            db.execute(delete(LtiState).where(LtiState.expires_at <= now))
            db.merge(LtiState(key=self._prepare_key(key), value={"v": value},
                              expires_at=now + timedelta(seconds=exp or DEFAULT_LIFETIME_S)))

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def take(self, key: str) -> bool:
        """Remove the key; True when it was there and alive (only one caller gets True)."""
        with self._sessions.begin() as db:
            gone = db.execute(delete(LtiState).where(LtiState.key == self._prepare_key(key),
                                                     LtiState.expires_at > utcnow()))
            return bool(getattr(gone, "rowcount", 0))


class OnceSessions(SessionService):
    def __init__(self, request: LaunchRequest, storage: DatabaseStorage) -> None:
        super().__init__(request)
        self.data_storage = storage
        self._storage = storage

    def check_nonce(self, nonce: str) -> bool:
        return self._storage.take(self._get_key("nonce", nonce))


class Registrations(ToolConfDict):
    """PyLTI1p3's dictionary of registrations, whose misses are LTI errors (a launch
    from an unknown issuer or client is refused, not a crash)."""

    def get_iss_config(self, iss: str, client_id: str | None = None) -> Any:
        try:
            return super().get_iss_config(iss, client_id)
        except Exception as exc:
            raise LtiException(f"no registered LMS has issuer {iss!r} and client id "
                               f"{client_id!r}") from exc


class ToolLogin(OIDCLogin[LaunchRequest, Registrations, OnceSessions, Cookies, Response]):
    def get_redirect(self, url: str) -> Redirect[Response]:
        return _Redirect(url, self._cookie_service)

    def _generate_nonce(self) -> str:
        # kept under the login's state too: the launch must answer this login's nonce
        nonce = super()._generate_nonce()
        self._state_params = {"nonce": nonce}
        return nonce


class ToolLaunch(MessageLaunch[LaunchRequest, Registrations, OnceSessions, Cookies]):
    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def validate(self) -> ToolLaunch:
        """PyLTI1p3's checks in a safer order: the signature before the nonce is used
        up (a forged token must not burn a real login's nonce), and the nonce must be
        the one this login (its state) was given."""
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self.validate_state().validate_jwt_format()
            body = self._jwt.get("body")
            if not isinstance(body, dict) or not isinstance(body.get("nonce"), str):
                raise LtiException("the id_token is not a launch message")
            aud = body.get("aud")
            if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != aud[0]:
                raise LtiException("the id_token has several audiences and no azp for "
                                   "this tool")
            self.validate_registration().validate_jwt_signature()
            login = self._session_service.get_state_params(self._get_request_param("state"))
            if not isinstance(login, dict) or login.get("nonce") != body["nonce"]:
                raise LtiException("Invalid Nonce: not the one this login was given")
            self.validate_nonce().validate_deployment().validate_message().save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self


def tool_conf(db: Session, key: ToolKey) -> Registrations:
    """Every registered platform, each issuer possibly with several client ids."""
    platforms = list(db.scalars(select(LtiPlatform)))
    config: dict[str, list[dict[str, Any]]] = {}
    for p in platforms:
        config.setdefault(p.issuer, []).append({
            "default": False, "client_id": p.client_id, "auth_login_url": p.auth_login_url,
            "auth_token_url": p.auth_token_url, "key_set_url": p.key_set_url,
            "key_set": None, "deployment_ids": list(p.deployment_ids)})
    conf = Registrations(config)  # type: ignore[arg-type]
    for p in platforms:
        conf.set_private_key(p.issuer, key.private_pem, client_id=p.client_id)
        conf.set_public_key(p.issuer, key.public_pem, client_id=p.client_id)
    return conf


def login(request: LaunchRequest, conf: Registrations,
          sessions: sessionmaker[Session]) -> ToolLogin:
    storage = DatabaseStorage(sessions)
    return ToolLogin(request, conf, OnceSessions(request, storage), Cookies(request))


def launch(request: LaunchRequest, conf: Registrations,
           sessions: sessionmaker[Session]) -> ToolLaunch:
    storage = DatabaseStorage(sessions)
    message = ToolLaunch(request, conf, OnceSessions(request, storage), Cookies(request),
                         requests_session=TimedSession())
    # a token without an expiry is refused; the audience is checked against the
    # registrations (PyLTI1p3 finds the registration by issuer and client id)
    message.set_jwt_verify_options(
        {"verify_aud": False, "require": ["exp", "iat"]})  # type: ignore[dict-item]
    message.set_public_key_caching(storage, KEY_SET_CACHE_S)
    return message
