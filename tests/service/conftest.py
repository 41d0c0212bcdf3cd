"""A real service for the tests: uvicorn in its own process on a free port, real worker
processes, a fresh SQLite database and storage per server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.db import repository as repo
from service.db.migrate import migrate
from service.db.models import Role
from service.db.session import make_engine, make_sessionmaker
from tests.conftest import NOTEBOOKS, ROOT, free_port


@pytest.fixture(scope="session", autouse=True)
def course_datasets() -> Iterator[Path]:
    """The service refuses submissions to an assignment whose datasets are missing, so
    every server here has small course datasets (readable by the sandbox user)."""
    import shutil
    import tempfile

    from service.fixtures import make_fixtures

    root = Path(tempfile.mkdtemp(prefix="ag-service-data-"))
    make_fixtures(root, kmnist_train=2000)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AUTOGRADER_DATASETS_DIR", str(root / "datasets"))
        yield root / "datasets"
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class LiveServer:
    data_dir: Path
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AUTOGRADER_DATA_DIR": str(self.data_dir),
            "AUTOGRADER_JOBS_DIR": str(self.data_dir / "jobs"),
            "AUTOGRADER_PORT": str(self.port),
            "AUTOGRADER_WORKERS": str(self.workers),
            "AUTOGRADER_CELL_TIMEOUT_S": "20",
            "AUTOGRADER_CALL_TIMEOUT_S": "5",
            "AUTOGRADER_POLL_INTERVAL_S": "0.1",
            **self.extra_env,
        }

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir,
                        database_url=self.extra_env.get("AUTOGRADER_DATABASE_URL"))

    def start(self) -> LiveServer:
        log = open(self.data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted(self.data_dir.glob("server-*.log"))
        return logs[-1].read_text()[-3000:] if logs else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def add_user(self, name: str, role: Role) -> str:
        engine = make_engine(self.settings().resolved_database_url)
        migrate(engine)
        with make_sessionmaker(engine).begin() as session:
            _, token = repo.create_user(session, name=name, role=role)
        engine.dispose()
        return token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # one per module, not per session: a server left running keeps warm kernels (which
    # the tests that count sandbox processes would see) and calibrates in the background
    # (which slowed the whole suite from 500 s to 800 s when tried)
    live = LiveServer(tmp_path_factory.mktemp("service")).start()
    yield live
    live.stop()


@dataclass
class Users:
    alice: str
    bob: str
    prof: str
    admin: str


@pytest.fixture(scope="module")
def users(server: LiveServer) -> Users:
    return Users(
        alice=server.add_user("alice", Role.STUDENT),
        bob=server.add_user("bob", Role.STUDENT),
        prof=server.add_user("prof", Role.INSTRUCTOR),
        admin=server.add_user("root", Role.ADMIN),
    )


def fixture_file(name: str) -> tuple[str, bytes]:
    path = NOTEBOOKS / "ee411_hw3" / name
    return path.name, path.read_bytes()


def submit(client: httpx.Client, name: str, assignment: str = "ee411-hw3",
           **headers: str) -> httpx.Response:
    filename, data = fixture_file(name)
    return client.post(f"/assignments/{assignment}/submissions",
                       files={"file": (filename, data)}, headers=headers)


def wait_graded(client: httpx.Client, submission_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/submissions/{submission_id}").json()
        if body["status"] in ("graded", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"submission {submission_id} not graded in {timeout} s: {body}")


# ----------------------------------------------------------------- the browser tests
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    found = os.environ.get("AUTOGRADER_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        pytest.fail("the dashboard tests need Debian's chromium: apt-get install chromium "
                    "chromium-driver (.ci/run installs them)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(),
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


def sign_in(page, token: str) -> None:
    page.goto("/")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signout")


@contextmanager
def own_page(browser, server: LiveServer, screenshot: str) -> Iterator[object]:
    """A tab on ``server`` (the module's, for ``page``, or a test's own): a full-page
    screenshot at the end, and no error the page raised."""
    context = browser.new_context(base_url=server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors  # type: ignore[attr-defined]
    try:
        yield tab
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"
