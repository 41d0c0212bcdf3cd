"""create_app(settings): the FastAPI application, its lifespan and its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from graders import LoadedAssignment, discover
from service.api import API
from service.api.body_limit import BodyLimit
from service.api.deps import AppState
from service.api.fast_intake import NO_FILE_FIELD, FastIntake
from service.api.routes import (
    account,
    admin,
    assignments,
    extensions,
    grading,
    groups,
    health,
    lti,
    regrades,
    reviews,
    similarity,
    submissions,
    versions,
)
from service.catalog import LiveCatalog
from service.config import Settings
from service.db import repository as repo
from service.db.migrate import migrate
from service.db.session import make_engine, make_sessionmaker
from service.jobs.base import Dispatcher
from service.jobs.local import LocalDispatcher, NoDispatcher
from service.lti.runtime import LtiRuntime
from service.readiness import AssignmentReadiness
from service.storage import make_store
from service.web import mount_dashboard
from service.web.apidocs import mount_api_docs


def make_dispatcher(settings: Settings,
                    catalog: Mapping[str, LoadedAssignment] | None = None) -> Dispatcher:
    if settings.dispatcher == "celery":
        from service.jobs.celery_app import CeleryDispatcher

        return CeleryDispatcher(settings, catalog)
    if settings.workers <= 0:
        return NoDispatcher()
    return LocalDispatcher(settings)


def create_app(settings: Settings, *, dispatcher: Dispatcher | None = None) -> FastAPI:
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    store = make_store(settings, sessions)
    catalog = LiveCatalog(discover(settings.reference_dir), sessions=sessions, store=store,
                          root=settings.assignments_dir)
    state = AppState(
        settings=settings,
        sessions=sessions,
        store=store,
        catalog=catalog,
        dispatcher=dispatcher or make_dispatcher(settings, catalog),
        readiness=AssignmentReadiness(settings, catalog),
        lti=LtiRuntime(settings, sessions, titles=lambda a: _title(catalog, a),
                       assignments=catalog.get),
        intake=ThreadPoolExecutor(settings.intake_threads, thread_name_prefix="intake"),
    )

    with state.sessions.begin() as session:
        for assignment_id in state.catalog:
            repo.get_policy(session, assignment_id=assignment_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.dispatcher.start()
        state.readiness.start()
        state.lti.start()
        try:
            yield
        finally:
            state.lti.stop()
            state.dispatcher.stop()
            engine.dispose()

    app = FastAPI(title="ml-autograder", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    mount_api_docs(app)  # self-contained: Swagger UI would load its scripts from a CDN
    app.state.autograder = state
    if settings.fast_intake:  # inside the body limit and the security headers
        app.add_middleware(FastIntake)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e["loc"][-1] == "file" for e in exc.errors()):
            return JSONResponse({"detail": NO_FILE_FIELD}, 422)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors())
        return JSONResponse({"detail": f"The request is not valid: {problems}."}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette answers from the first route whose path matched; a resource
            # served by several routes (GET and PATCH) must list all of them
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

    app.include_router(health.router)
    app.include_router(lti.pages_router)
    for router in (account.router, submissions.router, assignments.router, groups.router,
                   regrades.router, admin.router, grading.router, extensions.router,
                   reviews.router, similarity.router, versions.router, lti.router):
        app.include_router(router, prefix=API)
    mount_dashboard(app)
    return app


def _title(catalog: LiveCatalog, assignment_id: str) -> str:
    loaded = catalog.get(assignment_id)
    return loaded.spec.title if loaded is not None else assignment_id


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)
