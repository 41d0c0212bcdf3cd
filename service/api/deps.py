"""Dependencies: the app's state, a transaction per request, who is calling, and
ownership checks (a student gets a 404 for anything not theirs)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from graders import LoadedAssignment
from service.catalog import LiveCatalog
from service.config import Settings
from service.db import repository as repo
from service.db.models import Role, Submission, User
from service.jobs.base import Dispatcher
from service.lti.runtime import LtiRuntime
from service.readiness import AssignmentReadiness
from service.storage import BlobStore

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    store: BlobStore
    catalog: LiveCatalog
    dispatcher: Dispatcher
    readiness: AssignmentReadiness
    lti: LtiRuntime
    intake: ThreadPoolExecutor  # runs uploads' acceptance (routes/submissions.py)

    @property
    def engine(self) -> Engine:
        return self.sessions.kw["bind"]  # type: ignore[no-any-return]


def notify_after_commit(db: Session, dispatcher: Dispatcher, run_id: str) -> None:
    """Tell the dispatcher about a new run once the transaction that created it has
    committed: a worker told earlier could look for the run before it exists."""
    pending: list[str] = db.info.setdefault("runs_to_notify", [])
    if not pending:
        def flush(session: Session) -> None:
            for queued in session.info.pop("runs_to_notify", []):
                dispatcher.notify(queued)

        event.listen(db, "after_commit", flush, once=True)
    pending.append(run_id)


async def get_state(request: Request) -> AppState:
    # a coroutine, so FastAPI calls it on the event loop: a sync dependency costs a
    # thread-pool hop of its own on every request
    return request.app.state.autograder  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(get_state)]


def get_session(state: State) -> Iterator[Session]:
    """The request's session. FastAPI runs each dependency and the handler in separate
    thread-pool hops: a connection held from one hop to the next can deadlock the pool
    under a burst (every thread waiting for a connection that a queued request holds).
    So each hop ends its own transaction: dependencies commit after their lookups and
    handlers are wrapped in ``unit_of_work``."""
    session = state.sessions()
    try:
        yield session
    finally:
        session.close()


def unit_of_work(handler: Callable[P, R]) -> Callable[P, R]:
    """Commit the handler's transaction in the handler's own thread (rollback on error)."""

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        try:
            result = handler(*args, **kwargs)
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        for session in sessions:
            session.commit()
        return result

    return wrapper


DB = Annotated[Session, Depends(get_session)]


# Declared as the API's security scheme in OpenAPI; the header is parsed here so that a
# missing or malformed one gets our message (auto_error would answer 403 without one).
BEARER = HTTPBearer(auto_error=False, description="an API token from `autograder users add`")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "Send your API token as 'Authorization: Bearer <token>'.",
                            headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials.strip()


def token_not_valid() -> HTTPException:
    return HTTPException(401, "That API token is not valid.",
                         headers={"WWW-Authenticate": "Bearer"})


def current_user(db: DB, credentials: Credentials = None) -> User:
    user = repo.user_by_token(db, token=bearer_token(credentials))
    db.commit()  # see get_session: no connection may outlive this hop
    if user is None:
        raise token_not_valid()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def is_staff(user: User) -> bool:
    return user.role in (Role.INSTRUCTOR, Role.ADMIN)


def require_instructor(user: CurrentUser) -> User:
    if not is_staff(user):
        raise HTTPException(403, "Only instructors can do this.")
    return user


def require_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise HTTPException(403, "Only administrators can do this.")
    return user


Instructor = Annotated[User, Depends(require_instructor)]
Admin = Annotated[User, Depends(require_admin)]


def known_assignment(state: State, assignment_id: Annotated[str, Path()]) -> LoadedAssignment:
    loaded = state.catalog.get(assignment_id)
    if loaded is None:  # published a moment ago, before this process's next look?
        loaded = state.catalog.find(assignment_id)
    if loaded is None:
        raise HTTPException(404, f"There is no assignment {assignment_id!r}.")
    return loaded


AssignmentDep = Annotated[LoadedAssignment, Depends(known_assignment)]


def visible_submission(db: DB, user: CurrentUser,
                       submission_id: Annotated[str, Path()]) -> Submission:
    submission = db.get(Submission, submission_id)
    if submission is None or (not is_staff(user) and not repo.can_see(
            db, submission=submission, user_id=user.id)):
        db.commit()
        raise HTTPException(404, "There is no such submission.")
    db.commit()
    return submission


VisibleSubmission = Annotated[Submission, Depends(visible_submission)]
