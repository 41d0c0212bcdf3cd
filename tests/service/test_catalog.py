"""The live catalog: a version made live is seen at the next request that asks for it,
however recently the catalog last looked (the race a fresh-clone CI once lost)."""

from __future__ import annotations

from pathlib import Path

from service.catalog import LiveCatalog
from service.db import repository as repo
from service.db.migrate import migrate
from service.db.models import Role, VersionStatus
from service.db.session import make_engine, make_sessionmaker
from service.publish.bundle import zip_folder
from service.storage.local import LocalBlobStore
from tests.conftest import ROOT

V1 = ROOT / "tests" / "fixtures" / "assignments" / "linear_demo"


def test_a_version_live_since_the_last_look_is_found_at_once_and_an_unknown_id_is_not(
        tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    store = LocalBlobStore(tmp_path / "blobs", max_bytes=64 * 1024**2)
    catalog = LiveCatalog({}, sessions=sessions, store=store, root=tmp_path / "versions",
                          refresh_s=3600.0)
    catalog.refresh()  # looked just now: the periodic look will not come for an hour
    assert catalog.find("linear-demo") is None

    bundle = zip_folder(V1)
    sha = store.put(bundle)
    with sessions.begin() as db:
        repo.ensure_blob(db, sha256=sha, size=len(bundle))
        staff, _ = repo.create_user(db, name="staff", role=Role.ADMIN)
        version = repo.add_version(db, assignment_id="linear-demo", sha256=sha, user=staff)
        version.status = VersionStatus.AVAILABLE
        repo.make_live(db, assignment_id="linear-demo", version=version)

    assert "linear-demo" not in catalog  # the periodic look has not come
    found = catalog.find("linear-demo")
    assert found is not None and found.spec.title == "Linear regression warm-up"
    assert catalog.find("no-such-assignment") is None
