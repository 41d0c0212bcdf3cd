"""Bad uploads: a 4xx with a sentence a student understands, and nothing stored."""

from __future__ import annotations

import io
import json
import socket
import stat
import zipfile

import httpx
import pytest
from sqlalchemy import func, select

from service.db.models import Submission
from service.db.session import make_engine, make_sessionmaker
from tests.conftest import NOTEBOOKS, make_notebook

pytestmark = pytest.mark.sandbox


def zip_of(*members: tuple[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


NOTEBOOK = make_notebook("x = 1")
R_NOTEBOOK = json.dumps({**json.loads(NOTEBOOK), "metadata": {
    "kernelspec": {"name": "ir", "language": "R", "display_name": "R"}}}).encode()

BAD_UPLOADS = [
    ("empty.ipynb", b"", 422, "the file is empty"),
    ("hw.ipynb", b"this is not json", 422, "not valid JSON"),
    ("hw.ipynb", b'{"nbformat": 4}', 422, "no list of cells"),
    ("hw.docx", b"PK\x03\x04", 415, "Upload a Jupyter notebook (.ipynb)"),
    ("big.ipynb", b"{" + b" " * (21 * 1024 * 1024) + b"}", 413, "larger than the 20 MiB"),
    ("bomb.zip", zip_of(("hw.ipynb", NOTEBOOK), ("zeros.bin", b"\0" * (50 * 1024 * 1024))),
     422, "compressed suspiciously well"),
    ("escape.zip", zip_of(("hw.ipynb", NOTEBOOK), ("../../etc/cron.d/x", b"x")), 422,
     "points outside the zip"),
    ("absolute.zip", zip_of(("hw.ipynb", NOTEBOOK), ("/etc/passwd", b"x")), 422,
     "absolute path"),
    ("link.zip", zip_of(("hw.ipynb", NOTEBOOK), symlink="data"), 422, "symbolic link"),
    ("nothing.zip", zip_of(("notes.txt", b"hi")), 422, "holds no notebook"),
    ("broken.zip", b"PK\x03\x04garbage", 422, "damaged or not a zip"),
    ("r.ipynb", R_NOTEBOOK, 422, "only Python notebooks are graded"),
    ("deep.ipynb", (NOTEBOOKS / "ee411_hw3" / "hostile_deeply_nested.ipynb").read_bytes(),
     422, "nested far deeper than any notebook"),
    ("cells.ipynb", make_notebook(*["x = 1"] * 10_005), 422,
     "the notebook has 10,005 cells; at most 2,000 are graded"),
]


def stored_submissions(server) -> int:
    engine = make_engine(server.settings().resolved_database_url)
    with make_sessionmaker(engine).begin() as session:
        count = session.scalar(select(func.count()).select_from(Submission)) or 0
    engine.dispose()
    return count


@pytest.mark.parametrize(("filename", "data", "status", "message"), BAD_UPLOADS,
                         ids=[b[0] for b in BAD_UPLOADS])
def test_bad_uploads_are_rejected_clearly_and_store_nothing(server, users, filename, data,
                                                            status, message):
    before = stored_submissions(server)
    blobs_before = sorted(p.name for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
    response = server.client(users.alice).post(
        "/assignments/ee411-hw3/submissions", files={"file": (filename, data)})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert stored_submissions(server) == before
    assert sorted(p.name for p in (server.data_dir / "blobs").rglob("*")
                  if p.is_file()) == blobs_before


def test_missing_file_field_is_explained(server, users):
    response = server.client(users.alice).post("/assignments/ee411-hw3/submissions",
                                               data={"notebook": "x"})
    assert response.status_code == 422 and "multipart form field 'file'" in \
        response.json()["detail"]


def test_unknown_assignment_is_404(server, users):
    response = server.client(users.alice).post("/assignments/nope/submissions",
                                               files={"file": ("a.ipynb", NOTEBOOK)})
    assert response.status_code == 404 and "no assignment 'nope'" in response.json()["detail"]


def test_a_zip_with_helper_files_is_graded_with_them(server, users):
    from tests.service.conftest import fixture_file, wait_graded

    _, notebook = fixture_file("correct_basic.ipynb")
    nb = json.loads(notebook)
    nb["cells"].insert(1, {"cell_type": "code", "metadata": {}, "outputs": [],
                           "execution_count": None, "id": "helper",
                           "source": "from helpers import scale\nassert scale == 2\n"})
    data = zip_of(("hw3/homework.ipynb", json.dumps(nb).encode()),
                  ("hw3/helpers.py", b"scale = 2\n"))
    client = server.client(users.alice)
    response = client.post("/assignments/ee411-hw3/submissions",
                           files={"file": ("hw3.zip", data)})
    assert response.status_code == 202, response.text
    body = wait_graded(client, response.json()["id"])
    assert body["score"] == 28.0
    assert all(c["status"] == "ok" for c in body["report"]["execution"]["cells"])


@pytest.mark.parametrize(("sent", "stored"), [
    ("..\\\\..\\\\windows\\\\hw3.ipynb", "hw3.ipynb"),
    ("C:\\\\Users\\\\me\\\\hw3.ipynb", "hw3.ipynb"),
    ("hw\x003\x07.ipynb", "hw3.ipynb"),
    ("dir/sub/hw3.ipynb", "hw3.ipynb"),
])
def test_filenames_are_stored_as_the_student_sees_them(sent, stored):
    from service.api.routes.submissions import clean_filename

    assert clean_filename(sent) == stored


def test_an_upload_declared_too_large_is_refused_before_its_body_is_read(server, users):
    # 2 GiB announced, 1 byte sent: the answer comes at once, without waiting for the rest
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/assignments/ee411-hw3/submissions HTTP/1.1\r\n"
            b"Host: x\r\nAuthorization: Bearer " + users.alice.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 2147483648\r\n\r\n-")
        raw = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            raw += chunk
    answer = raw.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "larger than this service accepts (32 MiB)" in answer


def test_a_chunked_upload_is_cut_off_once_it_passes_the_cap(server, users):
    def body():
        yield (b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
               b"filename=\"a.ipynb\"\r\n\r\n")
        for _ in range(48):  # 48 MiB, over the 32 MiB cap, sent without a length
            yield b" " * (1024 * 1024)

    before = stored_submissions(server)
    try:
        response = server.client(users.alice).post(
            "/assignments/ee411-hw3/submissions", content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"})
    except httpx.HTTPError:
        response = None  # the server may close before the client has finished sending
    if response is not None:  # the server answered before closing: it says why
        assert response.status_code == 413, response.text
        assert "larger than this service accepts" in response.json()["detail"]
    assert stored_submissions(server) == before
