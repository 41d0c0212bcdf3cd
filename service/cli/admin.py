"""Administration on the deployment itself: storage, datasets, users, groups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.config import Settings
from service.db.enums import Role

if TYPE_CHECKING:
    pass
from service.cli.app import app, console, err

storage = typer.Typer(help="Where uploads and executed notebooks are stored.")
app.add_typer(storage, name="storage")


@storage.command("migrate")
def storage_migrate(
    from_dir: Annotated[Path | None, typer.Option(
        help="the local blob folder to copy from (default: DATA_DIR/blobs)")] = None,
) -> None:
    """Copy every stored upload and executed notebook into the configured storage
    (AUTOGRADER_STORAGE=database or s3); safe to run again, checks each blob's hash."""
    from service.db.migrate import migrate
    from service.db.session import make_engine, make_sessionmaker
    from service.storage import make_store
    from service.storage.local import LocalBlobStore
    from service.storage.migrate import migrate_blobs

    settings = Settings()
    if settings.storage == "local":
        raise typer.BadParameter("set AUTOGRADER_STORAGE=database or s3: the target")
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    source = LocalBlobStore(from_dir or settings.data_dir / "blobs",
                            max_bytes=settings.max_blob_bytes)
    result = migrate_blobs(sessions, source, make_store(settings, sessions))
    console.print(f"copied {result.copied} blobs, {result.already_there} already there, "
                  f"{len(result.missing)} missing from the source")
    for sha in result.missing:
        console.print(f"  missing: {sha}")
    if result.missing:
        raise typer.Exit(1)


datasets = typer.Typer(help="Datasets for trained-model questions.")
app.add_typer(datasets, name="datasets")


@datasets.command("make-fixtures")
def make_fixtures_command(
    directory: Path,
    kmnist_train: Annotated[int, typer.Option(help="KMNIST training images")] = 60_000,
) -> None:
    """Write small learnable datasets in torchvision's on-disk formats (DIR/datasets) and
    hidden test sets (DIR/hidden). Point AUTOGRADER_DATASETS_DIR and
    AUTOGRADER_HIDDEN_DIR at them."""
    from service.fixtures import make_fixtures

    make_fixtures(directory, kmnist_train=kmnist_train)
    console.print(f"datasets in {directory / 'datasets'}, hidden test sets in "
                  f"{directory / 'hidden'}")


users = typer.Typer(help="Manage user accounts (works on the database directly).")
app.add_typer(users, name="users")


@users.command("add")
def users_add(
    name: str,
    role: Annotated[Role, typer.Option(help="the account's role")] = Role.STUDENT,
) -> None:
    """Create a user and print their API token (shown once, stored hashed)."""
    from service.db import repository as repo

    parsed = role
    with _database().begin() as session:
        if repo.user_by_name(session, name=name) is not None:
            err.print(f"a user named {name!r} already exists")
            raise typer.Exit(1)
        _, token = repo.create_user(session, name=name, role=parsed)
    typer.echo(token)


groups = typer.Typer(help="Groups of students handing in together (works on the database "
                          "directly).")
app.add_typer(groups, name="groups")


def _database():  # type: ignore[no-untyped-def]
    from service.db.migrate import migrate
    from service.db.session import make_engine, make_sessionmaker

    engine = make_engine(Settings().resolved_database_url)
    migrate(engine)
    return make_sessionmaker(engine)


@groups.command("set")
def groups_set(
    assignment: str,
    name: str,
    members: Annotated[list[str], typer.Argument(help="the students' user names")],
) -> None:
    """Create a group for an assignment, or replace its members."""
    from service.db import repository as repo

    with _database().begin() as session:
        found = []
        for member in dict.fromkeys(members):
            user = repo.user_by_name(session, name=member)
            if user is None or user.role != Role.STUDENT:
                err.print(f"there is no student named {member!r}")
                raise typer.Exit(1)
            found.append(user)
        try:
            repo.set_group(session, assignment_id=assignment, name=name, members=found)
        except repo.GroupConflictError as exc:
            err.print(f"{exc}; remove them from it first")
            raise typer.Exit(1) from None
    typer.echo(f"{assignment}: group {name}: {', '.join(sorted(dict.fromkeys(members)))}")


@groups.command("list")
def groups_list(assignment: str) -> None:
    """The groups of an assignment and their members."""
    from service.db import repository as repo

    with _database().begin() as session:
        for group in repo.list_groups(session, assignment_id=assignment):
            typer.echo(f"{group.name}\t{', '.join(sorted(m.user.name for m in group.members))}")
