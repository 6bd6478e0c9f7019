"""Zoo downloads against a local HTTP server on 127.0.0.1: resume, verification, clear errors."""
import errno
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from centernet.models import download as dl
from app.cli.main import main
from centernet.models.download import DownloadError, confirmation_url, download, page_reason
from centernet.models.zoo import MANIFEST_NAME, ZOO, ZOO_BY_NAME, cache_dir, read_manifest, zoo_entry
from tests.conftest import LAYOUT, need

QUOTA_PAGE = (b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>"
              b"<p class=\"uc-error-caption\">Sorry, you can't view or download this file at this time.</p>"
              b"<p class=\"uc-error-subcaption\">Too many users have viewed or downloaded this file recently. "
              b"Please try accessing the file again later.</p></body></html>")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-body (disk full, verification failed) is expected here


class FakeDrive:
    """A Drive-like server: serves `payload` for any id, with Range support and scripted misbehaviour."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.mode = "file"      # file | html | confirm | 404
        self.cut_after = []     # per request: close the connection after this many body bytes
        self.requests = []      # (query dict, Range header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/download"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, h):
        query = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        rng = h.headers.get("Range")
        self.requests.append((query, rng))
        if self.mode == "404":
            h.send_error(404, "Not Found")
            return
        if self.mode == "html":
            return self._send(h, 200, QUOTA_PAGE, "text/html; charset=utf-8")
        if self.mode == "confirm" and query.get("confirm") != "t":
            page = (f'<html><body>Google Drive can\'t scan this file for viruses.<form id="download-form" '
                    f'action="{self.base}" method="get"><input type="submit" value="Download anyway"/>'
                    f'<input type="hidden" name="id" value="{query.get("id")}"><input type="hidden" name="export" '
                    f'value="download"><input type="hidden" name="confirm" value="t"><input type="hidden" '
                    f'name="uuid" value="1234-abcd"></form></body></html>').encode()
            return self._send(h, 200, page, "text/html; charset=utf-8")
        start, total = 0, len(self.payload)
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= total:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{total}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        body = self.payload[start:]
        h.send_response(206 if rng else 200)
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Disposition", "attachment; filename=\"model.pth\"")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self.cut_after:
            h.wfile.write(body[: self.cut_after.pop(0)])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(body)

    @staticmethod
    def _send(h, code, body, ctype):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def resdcn18_bytes(seeded_checkpoint):
    return seeded_checkpoint("ctdet", "resdcn_18").read_bytes()


@pytest.fixture
def drive(resdcn18_bytes):
    server = FakeDrive(resdcn18_bytes)
    yield server
    server.close()


def get(drive, folder, name="ctdet_coco_resdcn18", **kw):
    return download(name, folder, base_url=drive.base, backoff=0, **kw)


def test_download_completes_verifies_and_records_sha256_in_the_manifest(drive, tmp_path):
    got = get(drive, tmp_path)
    data = drive.payload
    assert got.path == tmp_path / "ctdet_coco_resdcn18.pth" and got.path.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest() and not got.skipped
    entry = read_manifest(tmp_path)["files"]["ctdet_coco_resdcn18.pth"]
    assert entry["sha256"] == got.sha256 and entry["size"] == len(data) and entry["arch"] == "resdcn_18"
    assert drive.requests[0][0]["id"] == ZOO_BY_NAME["ctdet_coco_resdcn18"].drive_id
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MANIFEST_NAME, "ctdet_coco_resdcn18.pth"])
    # a second run finds it recorded and does not download again
    again = get(drive, tmp_path)
    assert again.skipped and again.sha256 == got.sha256 and len(drive.requests) == 1


def test_connection_cut_midway_resumes_from_the_part_file_with_a_range_request(drive, tmp_path):
    drive.cut_after = [3_000_001]
    got = get(drive, tmp_path, retries=2)
    assert got.path.read_bytes() == drive.payload
    assert [r for _, r in drive.requests] == [None, "bytes=3000001-"]


def test_interrupted_download_keeps_the_part_file_and_the_next_run_resumes_it(drive, tmp_path):
    drive.cut_after = [1_000_000]
    with pytest.raises(DownloadError, match="dropped.*run the command again to resume") as e:
        get(drive, tmp_path, retries=0)
    assert "\n" not in str(e.value)
    part = tmp_path / "ctdet_coco_resdcn18.pth.part"
    assert part.stat().st_size == 1_000_000 and not (tmp_path / "ctdet_coco_resdcn18.pth").exists()
    got = get(drive, tmp_path, retries=0)
    assert drive.requests[-1][1] == "bytes=1000000-"
    assert got.path.read_bytes() == drive.payload and not part.exists()


def test_complete_part_file_from_an_earlier_run_is_finished_without_refetching(drive, tmp_path):
    (tmp_path / "ctdet_coco_resdcn18.pth.part").write_bytes(drive.payload)
    got = get(drive, tmp_path)
    assert got.path.read_bytes() == drive.payload and drive.requests[0][1] == f"bytes={len(drive.payload)}-"


def test_quota_page_served_instead_of_the_file_gives_a_clear_error_and_leaves_no_file(drive, tmp_path):
    drive.mode = "html"
    with pytest.raises(DownloadError) as e:
        get(drive, tmp_path)
    msg = str(e.value)
    assert "web page instead of the file" in msg and "Too many users" in msg and "quota" in msg
    assert "drive.google.com/file/d/" in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def test_html_body_with_a_binary_content_type_is_still_caught(drive, tmp_path):
    drive.payload = QUOTA_PAGE
    with pytest.raises(DownloadError, match="web page instead of the file"):
        get(drive, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_drive_virus_scan_warning_page_is_confirmed_and_the_file_follows(drive, tmp_path):
    drive.mode = "confirm"
    got = get(drive, tmp_path)
    assert got.path.read_bytes() == drive.payload
    first, second = drive.requests[0][0], drive.requests[1][0]
    assert "confirm" not in first and second["confirm"] == "t" and second["uuid"] == "1234-abcd"
    assert second["id"] == first["id"]


def test_wrong_task_file_is_rejected_after_download_and_deleted(seeded_checkpoint, tmp_path):
    server = FakeDrive(seeded_checkpoint("multi_pose", "dla_34").read_bytes())
    try:
        with pytest.raises(DownloadError) as e:
            get(server, tmp_path, name="ctdet_coco_dla_2x")
    finally:
        server.close()
    msg = str(e.value)
    assert "multi_pose dla_34" in msg and "not the ctdet dla_34" in msg and "deleted" in msg
    assert list(tmp_path.iterdir()) == []


def test_dead_link_names_the_http_status(drive, tmp_path):
    drive.mode = "404"
    with pytest.raises(DownloadError, match="dead link.*404"):
        get(drive, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_no_network_says_the_host_cannot_be_reached(tmp_path):
    server = FakeDrive(b"")
    base = server.base
    server.close()  # nothing listens on that port any more
    with pytest.raises(DownloadError, match="cannot reach 127.0.0.1: the connection was refused"):
        download("ctdet_coco_resdcn18", tmp_path, base_url=base)
    assert list(tmp_path.iterdir()) == []


def test_too_little_free_space_is_refused_before_writing(drive, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(DownloadError, match="not enough disk space.*MB more"):
        get(drive, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_disk_filling_up_midway_gives_a_clear_error_and_keeps_the_part_to_resume(drive, tmp_path, monkeypatch):
    real_open = open

    class Full:
        def __init__(self, path, mode):
            self.f, self.written = real_open(path, mode), 0

        def write(self, b):
            if self.written >= 2_000_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(b)
            return self.f.write(b)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(dl, "open", Full, raising=False)
    with pytest.raises(DownloadError, match="disk full while writing .*part.*free some space") as e:
        get(drive, tmp_path)
    assert "\n" not in str(e.value)
    monkeypatch.undo()
    got = get(drive, tmp_path)
    assert got.path.read_bytes() == drive.payload and drive.requests[-1][1] is not None


def test_cli_download_uses_the_url_override_and_the_cache_folder(drive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CENTERNET_DRIVE_URL", drive.base)
    assert cache_dir() == tmp_path / "home"
    assert main(["weights", "download", "ctdet_coco_resdcn18", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "downloaded and verified" in out and hashlib.sha256(drive.payload).hexdigest() in out
    assert (tmp_path / "home" / "ctdet_coco_resdcn18.pth").read_bytes() == drive.payload
    assert main(["weights", "download", "ctdet_coco_resdcnn18"]) == 2
    assert "did you mean ctdet_coco_resdcn18" in capsys.readouterr().err


def test_confirmation_page_parsing_covers_the_old_and_new_drive_pages():
    new = ('<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
           '<input type="hidden" name="id" value="ABC"><input type="hidden" name="export" value="download">'
           '<input type="hidden" name="confirm" value="t"></form>')
    assert confirmation_url(new, "https://drive.google.com/uc") == \
        "https://drive.usercontent.google.com/download?id=ABC&export=download&confirm=t"
    old = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=Xy1z&amp;id=ABC">Download anyway</a>'
    assert confirmation_url(old, "https://docs.google.com/uc?id=ABC") == \
        "https://docs.google.com/uc?export=download&confirm=Xy1z&id=ABC"
    assert confirmation_url(QUOTA_PAGE.decode(), "https://x") is None
    assert page_reason(QUOTA_PAGE.decode()).startswith("Too many users have viewed")


def test_zoo_table_has_every_drive_id_of_the_layout_readme():
    readme = need(LAYOUT / "README.md").read_text()
    table = readme[readme.index("- Zoo (Google Drive"): readme.index("## Heads")]
    ids = set(re.findall(r"\b[0-9A-Za-z_-]{33}\b", table))
    assert len(ids) == 11 and ids <= {e.drive_id for e in ZOO}
    for line in table.splitlines():
        m = re.match(r"\s*\| (\w+) \| (\w+) (\w+) \|.*\| ([0-9A-Za-z_-]{33}) \|$", line)
        if m:
            name, task, arch, drive_id = m.groups()
            entry = zoo_entry(name)
            assert (entry.task, entry.arch, entry.drive_id) == (task, arch, drive_id)
    assert zoo_entry("ctdet_coco_hg").ap == (40.3, 42.2, 45.1) and zoo_entry("ctdet_coco_hg").ms == (71, 129, 674)
    assert {e.task for e in ZOO} == {"ctdet", "multi_pose", "ddd"} and len({e.name for e in ZOO}) == len(ZOO)


def test_manifest_is_written_atomically_as_valid_json(drive, tmp_path):
    get(drive, tmp_path)
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["files"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
