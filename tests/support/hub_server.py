"""A Hugging Face Hub-shaped HTTP server on 127.0.0.1, for ``HF_ENDPOINT``.

It serves the part of the Hub's API that ``huggingface_hub`` 2.4 and ``datasets`` 5.2 call: repo info
and revisions, ``resolve`` with the headers the client reads (``X-Repo-Commit``, ``ETag``, sizes),
large files as a 302 to a second origin (a CDN: another port counts as another host) with
``X-Linked-Etag``/``X-Linked-Size``, trees and ``paths-info`` for ``hf://`` globs, byte ranges,
gated repos (401 without a token, 403 with the wrong one), 404s with the ``X-Error-Code`` the client
maps to its errors, and switches to make it slow, drop a file mid-way, or answer 500/503.

Every request is recorded (origin, method, path, headers) so a test can check where a token went.
Requests a terminal tool should never send on the user's behalf (the safetensors conversion bot
reads commits and discussions first) are answered 403 and listed in ``forbidden``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".parquet", ".gguf", ".pt")
DATE = "2026-11-30T12:00:00.000Z"


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def git_oid(self) -> str:  # what git calls the blob: sha1 of "blob <size>\0<data>"
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    repo_type: str  # "model" | "dataset"
    files: dict[str, Blob]
    gated: bool = False
    sha: str = ""

    def info(self) -> dict[str, Any]:
        return {"id": self.repo_id, "_id": self.sha[:24], "sha": self.sha, "private": False,
                "gated": "manual" if self.gated else False, "disabled": False, "lastModified": DATE,
                "createdAt": DATE, "tags": [], "downloads": 0, "likes": 0, "author": self.repo_id.split("/")[0],
                "siblings": [self.sibling(path) for path in sorted(self.files)]}

    def sibling(self, path: str) -> dict[str, Any]:
        blob = self.files[path]
        item: dict[str, Any] = {"rfilename": path, "size": len(blob.data), "blobId": blob.git_oid}
        if blob.lfs:
            item["lfs"] = {"size": len(blob.data), "sha256": blob.sha256, "pointerSize": 134}
        return item

    def entry(self, path: str) -> dict[str, Any] | None:
        """A tree entry for a file or folder, as the Hub lists it."""
        if path in self.files:
            blob = self.files[path]
            item = {"type": "file", "oid": blob.git_oid, "size": len(blob.data), "path": path}
            if blob.lfs:
                item["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": 134}
            return item
        if any(name.startswith(path + "/") for name in self.files):
            return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
        return None

    def listing(self, folder: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = f"{folder}/" if folder else ""
        names: set[str] = set()
        for name in self.files:
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix):].split("/")
            names.update(prefix + "/".join(parts[:i]) for i in range(1, len(parts) + 1)) if recursive \
                else names.add(prefix + parts[0])
        return [self.entry(name) for name in sorted(names)]  # type: ignore[misc]


@dataclass
class Request:
    origin: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def authorization(self) -> str | None:
        return self.header("Authorization")


@dataclass
class Faults:
    """Switches a test flips; each applies to file downloads (``resolve`` and CDN GETs)."""

    delay: float = 0.0  # seconds before each 64 KiB chunk of a file body
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drops: int = 0  # ... this many times (then serve normally)
    status: int | None = None  # answer every request with this status ...
    status_times: int = 0  # ... this many times
    paths: tuple[str, ...] = ()  # only for request paths containing one of these (all when empty)


class HubServer:
    """Two origins on 127.0.0.1: the Hub (``url``) and a CDN (``cdn_url``) that large files redirect to."""

    def __init__(self, token: str = "hf_fixtureToken0123456789") -> None:
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[Request] = []
        self.forbidden: list[Request] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        self._hub = _serve(self, "hub")
        self._cdn = _serve(self, "cdn")
        self.url = f"http://127.0.0.1:{self._hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._cdn.server_address[1]}"

    # -- repos -------------------------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes] | Path, *, repo_type: str = "model",
                 gated: bool = False, skip: tuple[str, ...] = ()) -> Repo:
        """Serve ``files`` (a dict, or every file of a folder but those named in ``skip``) as a repo."""
        if isinstance(files, Path):
            files = {p.relative_to(files).as_posix(): p.read_bytes() for p in sorted(files.rglob("*"))
                     if p.is_file() and p.name not in skip}
        blobs = {name: Blob(data, name.endswith(LFS_SUFFIXES)) for name, data in files.items()}
        sha = hashlib.sha1(json.dumps(sorted((n, b.git_oid) for n, b in blobs.items())).encode()).hexdigest()
        repo = Repo(repo_id, repo_type, blobs, gated, sha)
        self.repos[(repo_type, repo_id)] = repo
        return repo

    # -- what was asked ----------------------------------------------------------------------------

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def tokens_sent(self) -> list[Request]:
        """Requests that carried an Authorization header."""
        return [r for r in self.requests if r.authorization]

    def file_gets(self, repo_id: str | None = None) -> list[str]:
        """Names of the files whose content was fetched (GET), from the Hub or from the CDN."""
        names = []
        for request in self.requests:
            if request.method != "GET":
                continue
            if request.origin == "hub" and "/resolve/" in request.path:
                head, _, tail = request.path.partition("/resolve/")
                if repo_id is None or head.endswith("/" + repo_id):
                    names.append(unquote(tail.split("/", 1)[1]))
            elif request.origin == "cdn":
                sha = urlsplit(request.path).path.rsplit("/", 1)[-1]
                names += [name for key, repo in self.repos.items() if repo_id in (None, key[1])
                          for name, blob in repo.files.items() if blob.sha256 == sha]
        return names

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "HubServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _serve(hub: HubServer, origin: str) -> ThreadingHTTPServer:
    handler = type(f"{origin.title()}Handler", (Handler,), {"hub": hub, "origin": origin})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"hub-fixture-{origin}", daemon=True).start()
    return server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubServer
    origin: str

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        request = Request(self.origin, method, self.path, dict(self.headers))
        self.hub.record(request)
        faults = self.hub.faults
        if faults.status and faults.status_times > 0 and self._faulty(faults):
            faults.status_times -= 1
            return self._error(faults.status, "", f"the fixture was told to answer {faults.status}")
        path = unquote(urlsplit(self.path).path)
        if self.origin == "cdn":
            return self._cdn(method, path)
        if "/discussions" in path or "/commits/" in path or method == "POST" and "/paths-info/" not in path:
            self.hub.forbidden.append(request)
            return self._error(403, "", "this request is not one a terminal tool should send")
        if path.startswith("/api/"):
            return self._api(method, path)
        if "/resolve/" in path:
            return self._resolve(method, path)
        self._error(404, "", "not a Hub route")

    def _faulty(self, faults: Faults) -> bool:
        return not faults.paths or any(p in self.path for p in faults.paths)

    # -- the API -----------------------------------------------------------------------------------

    def _api(self, method: str, path: str) -> None:
        parts = path.split("/")[2:]  # after /api/
        if not parts or parts[0] not in ("models", "datasets") or len(parts) < 3:
            return self._error(404, "", "not found")  # e.g. /api/agent-harnesses: a 404 is fine for the client
        repo_type = parts[0][:-1]
        repo_id, rest = "/".join(parts[1:3]), parts[3:]
        repo = self._repo(repo_type, repo_id)
        if repo is None:
            return
        if rest and rest[0] in ("revision", "tree", "paths-info"):
            if len(rest) < 2 or not self._revision_ok(repo, rest[1]):
                return
        if not rest or rest[0] == "revision":
            return self._json(200, repo.info())
        if rest[0] == "tree":
            query = parse_qs(urlsplit(self.path).query)
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            folder = "/".join(rest[2:])
            if folder and repo.entry(folder) is None:
                return self._error(404, "EntryNotFound", f"{folder} does not exist", repo)
            return self._json(200, repo.listing(folder, recursive))
        if rest[0] == "paths-info" and method == "POST":
            form = parse_qs(self.body.decode())
            found = [repo.entry(p.strip("/")) for p in form.get("paths", [])]
            return self._json(200, [e for e in found if e is not None])
        self._error(404, "", "not found")

    def _repo(self, repo_type: str, repo_id: str) -> Repo | None:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
        return repo

    def _revision_ok(self, repo: Repo, revision: str) -> bool:
        if revision in ("main", repo.sha):
            return True
        self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", repo)
        return False

    def _allowed(self, repo: Repo) -> bool:
        """A gated repo's files: 401 without a token, 403 with one that has no access, like the Hub."""
        if not repo.gated:
            return True
        auth = self.headers.get("Authorization")
        if auth == f"Bearer {self.hub.token}":
            return True
        if auth is None:
            self._error(401, "GatedRepo", f"Access to {repo.repo_type} {repo.repo_id} is restricted. You must have access to "
                        "it and be authenticated to access it. Please log in.", repo)
        else:
            self._error(403, "GatedRepo", f"Access to {repo.repo_type} {repo.repo_id} is restricted and you are not in the "
                        "authorized list.", repo)
        return False

    # -- files -------------------------------------------------------------------------------------

    def _resolve(self, method: str, path: str) -> None:
        head, _, tail = path.lstrip("/").partition("/resolve/")
        repo_type = "dataset" if head.startswith("datasets/") else "model"
        repo = self._repo(repo_type, head.removeprefix("datasets/"))
        if repo is None:
            return
        revision, _, filename = tail.partition("/")
        if not self._revision_ok(repo, revision) or not self._allowed(repo):
            return
        blob = repo.files.get(filename)
        if blob is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}", repo)
        headers = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if blob.lfs:  # large files live on the CDN: a signed URL on another host, without the token
            headers.update({"Location": f"{self.hub.cdn_url}/blobs/{blob.sha256}?sig=fixture",
                            "X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data)),
                            "ETag": f'"{blob.git_oid}"', "Content-Length": "0"})
            return self._send(302, b"", headers)
        headers["ETag"] = f'"{blob.git_oid}"'
        self._send_file(method, blob.data, headers)

    def _cdn(self, method: str, path: str) -> None:
        sha = path.rsplit("/", 1)[-1]
        blob = next((b for r in self.hub.repos.values() for b in r.files.values() if b.sha256 == sha), None)
        if blob is None:
            return self._error(404, "", "no such blob")
        self._send_file(method, blob.data, {"ETag": f'"{sha}"', "Accept-Ranges": "bytes"})

    def _send_file(self, method: str, data: bytes, headers: dict[str, str]) -> None:
        status, start, end = 200, 0, len(data)
        if (wanted := self.headers.get("Range", "")).startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start = int(first) if first else max(len(data) - int(last), 0)
            end = min(int(last) + 1, len(data)) if first and last else len(data)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        body = data[start:end]
        headers["Content-Length"] = str(len(body))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return
        faults = self.hub.faults
        drop = faults.drop_after if faults.drops > 0 and self._faulty(faults) else None
        if drop is not None:
            faults.drops -= 1
        for offset in range(0, len(body), 65536):
            chunk = body[offset:offset + 65536]
            if drop is not None and offset + len(chunk) > drop:
                self.wfile.write(chunk[:max(drop - offset, 0)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.close()  # the peer sees a body shorter than Content-Length
                return
            if faults.delay:
                time.sleep(faults.delay)
            self.wfile.write(chunk)

    # -- replies -----------------------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str, repo: Repo | None = None) -> None:
        headers = {"X-Error-Message": message, "Content-Type": "application/json"}
        if code:
            headers["X-Error-Code"] = code
        if repo is not None:
            headers["X-Repo-Commit"] = repo.sha
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
