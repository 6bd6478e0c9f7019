"""Resumable, verified downloads of the original model-zoo files.

A file is written to `NAME.pth.part`; an interrupted transfer resumes from there with an HTTP Range
request; the `.part` file becomes `NAME.pth` only once it is complete and loads strictly as the task
and arch the zoo table says (otherwise it is deleted). Its sha256 then goes into the cache manifest.

Google Drive answers large files with a "can't scan this file for viruses" page holding a form whose
fields (id, export, confirm, uuid) make the real download URL; when the file's quota is used up it
answers with a page saying so. Both are web pages, never written to disk. The Drive URL base can be
pointed elsewhere (`$CENTERNET_DRIVE_URL` or `base_url=`), which the tests use for a local server.
"""
from __future__ import annotations

import errno
import html
import http.client
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import HTTPCookieProcessor, OpenerDirector, Request, build_opener

from centernet.errors import CenterNetError, CheckpointError
from centernet.models.inspection import check_loads, looks_like
from centernet.models.zoo import ZooEntry, cache_dir, read_manifest, record_file, sha256_file, zoo_entry
from centernet.progress import Progress, Task, no_progress

DRIVE_URL = "https://drive.usercontent.google.com/download"
DRIVE_URL_ENV = "CENTERNET_DRIVE_URL"
CHUNK = 1 << 20
MAX_PAGE = 1 << 20  # read at most this much of an HTML page
USER_AGENT = "centernet-live (python urllib)"
TRANSIENT = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError, TimeoutError,
             socket.timeout)


class DownloadError(CenterNetError):
    """A download that failed for a reason the user can act on (network, link, quota, disk)."""


class _Interrupted(Exception):
    """The connection dropped mid-transfer: worth resuming."""


def drive_url(file_id: str, base_url: str | None = None) -> str:
    """The direct-download URL of a Google Drive file id."""
    base = base_url or os.environ.get(DRIVE_URL_ENV) or DRIVE_URL
    return f"{base}?{urlencode({'id': file_id, 'export': 'download'})}"


def _mb(n: int | None) -> str:
    if n is None:
        return "? MB"
    return f"{n / 1e3:.0f} kB" if n < 1e5 else f"{n / 1e6:.1f} MB"


# ---- Google Drive's web pages -------------------------------------------------------------------

class _DownloadForm(HTMLParser):
    """Finds `<form id="download-form" action=...>` and its hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._inside = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "download-form":
            self.action, self._inside = a.get("action"), True
        elif tag == "input" and self._inside and a.get("name") and a.get("type", "hidden") == "hidden":
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def confirmation_url(page: str, page_url: str) -> str | None:
    """The real download URL from Drive's virus-scan warning page, or None if the page has none."""
    form = _DownloadForm()
    form.feed(page)
    if form.action:
        action = urljoin(page_url, html.unescape(form.action))
        return f"{action}?{urlencode(form.fields)}" if form.fields else action
    m = re.search(r'href="(/uc\?export=download[^"]+)"', page)
    if m:
        return urljoin(page_url, html.unescape(m.group(1)))
    m = re.search(r'"downloadUrl":"([^"]+)"', page)
    if m:
        return m.group(1).replace("\\u003d", "=").replace("\\u0026", "&")
    return None


def page_reason(page: str) -> str:
    """What a web page served instead of the file says (Drive's error caption, else its title)."""
    for pattern in (r'class="uc-error-subcaption"[^>]*>(.*?)</', r'class="uc-error-caption"[^>]*>(.*?)</',
                    r"<title[^>]*>(.*?)</title>"):
        m = re.search(pattern, page, re.S | re.I)
        if m:
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())
            if text:
                return text[:200]
    return "no reason given"


def _looks_like_html(first: bytes) -> bool:
    head = first.lstrip()[:64].lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


# ---- HTTP ---------------------------------------------------------------------------------------

def _opener() -> OpenerDirector:
    # cookies carry Drive's download_warning token between the warning page and the file
    return build_opener(HTTPCookieProcessor(CookieJar()))


def _network_error(url: str, reason) -> DownloadError:
    host = urlsplit(url).hostname or url
    if isinstance(reason, socket.gaierror):
        why = "the host name does not resolve (no network, or DNS is down)"
    elif isinstance(reason, ConnectionRefusedError):
        why = "the connection was refused"
    elif isinstance(reason, (TimeoutError, socket.timeout)):
        why = "the connection timed out"
    else:
        why = str(reason)
    return DownloadError(f"cannot reach {host}: {why}; check the internet connection "
                         f"(set HTTPS_PROXY if you are behind a proxy) and run the command again")


def _http_error(url: str, code: int, reason: str, hint: str) -> DownloadError:
    if code in (404, 410):
        return DownloadError(f"dead link: {url} answered HTTP {code} ({reason}): the file was moved or deleted"
                             f"{hint}")
    if code in (403, 429):
        return DownloadError(f"{url} refused the download (HTTP {code} {reason}): the file's download quota may "
                             f"be used up; try again in a few hours{hint}")
    return DownloadError(f"{url} answered HTTP {code} ({reason}); try again later{hint}")


def _open(opener: OpenerDirector, url: str, offset: int, timeout: float, hint: str):
    """The response for the file's bytes from `offset` on; follows Drive's confirmation page."""
    for _ in range(3):
        headers = {"User-Agent": USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            resp = opener.open(Request(url, headers=headers), timeout=timeout)
        except HTTPError as e:
            if e.code == 416:
                return e  # range not satisfiable: the caller checks whether the .part is complete
            e.close()
            raise _http_error(url, e.code, e.reason, hint) from None
        except URLError as e:
            raise _network_error(url, e.reason) from None
        except TRANSIENT as e:
            raise _Interrupted(f"before the transfer started ({type(e).__name__})") from None
        if "text/html" not in (resp.headers.get("Content-Type") or "").lower():
            return resp
        try:
            page = resp.read(MAX_PAGE).decode("utf-8", "replace")
        except TRANSIENT as e:
            raise _Interrupted(f"while reading a web page ({type(e).__name__})") from None
        finally:
            resp.close()
        next_url = confirmation_url(page, resp.geturl())
        if next_url is None:
            raise _html_error(url, page, hint)
        url = next_url
    raise DownloadError(f"{url} kept answering with confirmation pages instead of the file{hint}")


def _html_error(url: str, page: str, hint: str) -> DownloadError:
    host = urlsplit(url).hostname or url
    reason = page_reason(page)
    if re.search(r"does not exist|not found|has been deleted|no longer available", reason, re.I):
        return DownloadError(f"dead link: {host} says \"{reason}\"{hint}")
    return DownloadError(f"{host} served a web page instead of the file (\"{reason}\"); Google Drive "
                         f"does this when the file's download quota is used up: try again in a few hours{hint}")


def _content_range(resp) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header such as `bytes 100-199/1000` or `bytes */1000`."""
    m = re.match(r"bytes\s+(\d+|\*)(?:-\d+)?/(\d+|\*)", resp.headers.get("Content-Range") or "")
    if not m:
        return None, None
    start, total = m.groups()
    return (None if start == "*" else int(start)), (None if total == "*" else int(total))


def _disk_full(part: Path, have: int, total: int | None) -> DownloadError:
    return DownloadError(f"disk full while writing {part} ({_mb(have)} of {_mb(total)} written): free some space "
                         f"and run the command again to resume, or delete {part}")


def _fetch_once(opener, url: str, part: Path, timeout: float, progress: Progress, desc: str | None,
                hint: str) -> None:
    have = part.stat().st_size if part.exists() else 0
    resp = _open(opener, url, have, timeout, hint)
    with resp:
        if resp.status == 416:
            _, total = _content_range(resp)
            if total is not None and total == have:
                return  # the .part already holds the whole file
            part.unlink(missing_ok=True)
            raise _Interrupted("the partial file no longer matches the server's (starting over)")
        if resp.status == 206 and have:
            start, total = _content_range(resp)
            if start != have:
                part.unlink(missing_ok=True)
                raise _Interrupted(f"the server resumed at byte {start}, not {have} (starting over)")
        else:
            have = 0  # the server sent the whole file
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        try:
            first = resp.read(CHUNK)
        except TRANSIENT as e:
            raise _Interrupted(f"at {_mb(have)} ({type(e).__name__})") from None
        if have == 0 and _looks_like_html(first):
            raise _html_error(url, first.decode("utf-8", "replace"), hint)
        if total is not None:
            free = shutil.disk_usage(part.parent).free
            if free < total - have:
                raise DownloadError(f"not enough disk space in {part.parent}: the file needs {_mb(total - have)} "
                                    f"more, {_mb(free)} are free; free some space and run the command again")
        _write_body(resp, first, part, have, total, progress, desc)


def _write_body(resp, first: bytes, part: Path, have: int, total: int | None, progress: Progress,
                desc: str | None) -> None:
    done = have
    task = Task(desc or part.name, total, "B")
    progress(task, done)
    try:
        with open(part, "ab" if have else "wb") as f:
            chunk = first
            while chunk:
                f.write(chunk)
                done += len(chunk)
                progress(task, done)
                try:
                    chunk = resp.read(CHUNK)
                except TRANSIENT as e:
                    raise _Interrupted(f"at {_mb(done)} of {_mb(total)} ({type(e).__name__})") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise _disk_full(part, done, total) from None
        raise DownloadError(f"cannot write {part}: {e.strerror or e}") from None
    finally:
        progress(task, done, finished=True)
    if total is not None and done < total:
        raise _Interrupted(f"at {_mb(done)} of {_mb(total)} (the server closed the connection)")


def fetch(url: str, part: Path, *, retries: int = 3, backoff: float = 1.0, timeout: float = 30.0,
          progress: Progress = no_progress, desc: str | None = None, hint: str = "") -> Path:
    """Download `url` into `part`, resuming what is already there; returns `part` once complete.

    A dropped connection is resumed up to `retries` times (waiting `backoff` s, doubling); after that
    the `.part` file is kept so that running again resumes it. `hint` is appended to error messages.
    """
    part = Path(part)
    part.parent.mkdir(parents=True, exist_ok=True)
    opener = _opener()
    for attempt in range(retries + 1):
        try:
            _fetch_once(opener, url, part, timeout, progress, desc, hint)
            return part
        except _Interrupted as e:
            if attempt == retries:
                tries = f"{retries + 1} attempt{'s' if retries else ''}"
                kept = f"the partial file {part} is kept: run the command again to resume" if part.exists() else \
                    "run the command again"
                raise DownloadError(f"the connection to {urlsplit(url).hostname} dropped {e} ({tries}); "
                                    f"{kept}") from None
            time.sleep(backoff * 2 ** attempt)
    raise AssertionError("unreachable")


# ---- the zoo ------------------------------------------------------------------------------------

@dataclass
class Downloaded:
    """The outcome of downloading one zoo file."""

    name: str
    path: Path
    sha256: str
    size: int
    skipped: bool = False  # already present and recorded


def verify_zoo_file(path: Path, entry: ZooEntry) -> None:
    """Load `path` strictly as the entry's task and arch (on the meta device: fast); CheckpointError if not."""
    try:
        _, info = check_loads(path, arch=entry.arch, task=entry.task)
    except CheckpointError as e:
        kind = looks_like(path)
        if kind.startswith(f"a {entry.task} {entry.arch} "):
            raise CheckpointError(f"it does not load as {entry.task} {entry.arch}: {e}") from None
        raise CheckpointError(f"it is {kind}, not the {entry.task} {entry.arch} checkpoint {entry.name} "
                              f"should be") from None
    if info.num_classes != entry.num_classes:
        raise CheckpointError(f"it has {info.num_classes} classes, not the {entry.num_classes} of {entry.name}")


def download(name: str, folder: Path | None = None, *, base_url: str | None = None, force: bool = False,
             retries: int = 3, backoff: float = 1.0, timeout: float = 30.0,
             progress: Progress = no_progress) -> Downloaded:
    """Download zoo file `name` into the cache folder (resuming a `.part`), verify it, record its sha256."""
    entry = zoo_entry(name)
    folder = Path(folder) if folder is not None else cache_dir()
    dest = folder / entry.filename
    part = dest.with_name(dest.name + ".part")
    hint = f"; or download it in a browser from {entry.page} and save it as {dest}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the cache folder {folder}: {e.strerror or e}; "
                            f"set CENTERNET_HOME to a folder you can write") from None
    if force:
        dest.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    if dest.exists():
        recorded = read_manifest(folder)["files"].get(dest.name)
        if recorded and recorded.get("size") == dest.stat().st_size:
            return Downloaded(entry.name, dest, recorded["sha256"], recorded["size"], skipped=True)
        try:
            verify_zoo_file(dest, entry)  # placed there by hand: check it before recording it
        except CheckpointError as e:
            raise DownloadError(f"{dest} is already there but {e}; delete it or pass --force") from None
        return _record(dest, entry, source="present")
    url = drive_url(entry.drive_id, base_url)
    fetch(url, part, retries=retries, backoff=backoff, timeout=timeout, progress=progress, desc=entry.name,
          hint=hint)
    try:
        verify_zoo_file(part, entry)
    except CheckpointError as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"downloaded {entry.name}, but {e}; deleted it (the Drive file may have changed)"
                            f"{hint}") from None
    os.replace(part, dest)
    return _record(dest, entry, source=url)


def _record(dest: Path, entry: ZooEntry, source: str) -> Downloaded:
    sha = sha256_file(dest)
    rec = record_file(dest, sha, name=entry.name, task=entry.task, arch=entry.arch, drive_id=entry.drive_id,
                      source=source)
    return Downloaded(entry.name, dest, sha, rec["size"])
