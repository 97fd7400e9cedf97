"""A fake Onshape on 127.0.0.1: its OAuth server and the API calls we make, with Onshape's
documented request and response shapes and error cases (401, 403, 404, 429 + Retry-After,
translations that end FAILED). A real threaded HTTP server; the test that starts it stops it."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import FIXTURES

CLIENT_ID = "fake-client-id-0001"
CLIENT_SECRET = "fake-onshape-client-secret-0123456789"  # noqa: S105 - the fake's own
ACCESS_KEY = "fake-onshape-access-key-0123456789"
SECRET_KEY = "fake-onshape-static-secret-0123456789"  # noqa: S105 - the fake's own
DOC = "0123456789abcdef01234567"
WORKSPACE = "1111111111111111aaaaaaaa"
VERSION = "2222222222222222bbbbbbbb"
DRAWING = "3333333333333333cccccccc"
STUDIO = "4444444444444444dddddddd"
FORBIDDEN_DOC = "5555555555555555eeeeeeee"
STEP_FILE = FIXTURES / "step" / "so100_Passive_Horn_01.step"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
ELEMENTS = {DRAWING: "drawings", STUDIO: "partstudios"}


def json(body: Any, status: int = 200, **headers: str) -> Response:
    import json as json_module

    return Response(json_module.dumps(body), status, headers, mimetype="application/json")


def onshape_error(status: int, message: str, **headers: str) -> Response:
    return json(
        {"message": message, "status": status, "code": 0, "moreInfoUrl": ""}, status, **headers
    )


@dataclass
class FakeState:
    """What the fake knows and what it was asked (tests read and steer it)."""

    redirect_uris: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    refresh: set[str] = field(default_factory=set)
    issued: set[str] = field(default_factory=set)  # every token ever handed out
    lifetime: int = 3600
    microversion: str = "aaaaaaaaaaaaaaaaaaaaaaaa"
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)
    external: dict[str, bytes] = field(default_factory=dict)
    polls_before_done: int = 1
    # Set: the token endpoint answers this body (200) once instead of tokens.
    token_answer: dict[str, Any] | None = None
    fail_translation: str | None = None
    # (path fragment, status, headers): the next matching API call answers this instead.
    faults: deque = field(default_factory=deque)
    # path fragment -> seconds: the next matching call answers only after that long.
    delays: dict[str, float] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    started: dict[str, int] = field(default_factory=lambda: {"drawings": 0, "partstudios": 0})

    def expire_access_tokens(self) -> None:
        for token in self.access:
            self.access[token] = 0.0

    def tokens_seen(self) -> set[str]:
        return set(self.issued)


class FakeOnshape:
    """The WSGI app; `start()` serves it on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.lock = threading.Lock()
        self.url_map = Map(
            [
                Rule("/oauth/authorize", endpoint="authorize", methods=["GET"]),
                Rule("/oauth/token", endpoint="token", methods=["POST"]),
                Rule("/api/users/sessioninfo", endpoint="sessioninfo"),
                Rule("/api/documents/d/<did>/<wvm>/<wvmid>/currentmicroversion", endpoint="micro"),
                Rule(
                    "/api/<any(drawings, partstudios):api>/d/<did>/<wvm>/<wvmid>/e/<eid>"
                    "/translations",
                    endpoint="translate",
                    methods=["POST"],
                ),
                Rule("/api/translations/<tid>", endpoint="translation"),
                Rule("/api/documents/d/<did>/externaldata/<fid>", endpoint="external"),
            ]
        )
        self.server: Any = None
        self.url = ""

    def start(self) -> FakeOnshape:
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        for fragment in list(self.state.delays):
            if fragment in request.path:
                time.sleep(self.state.delays.pop(fragment, 0.0))
        with self.lock:
            response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except Exception:  # noqa: BLE001 - any routing miss is Onshape's 404
            return onshape_error(404, "Not found")
        self.state.calls.append(f"{request.method} {request.path}")
        self.state.requests.append(
            {"url": request.url, "headers": dict(request.headers), "body": request.get_data()}
        )
        if endpoint not in ("authorize", "token"):
            for fault in list(self.state.faults):
                if fault[0] in request.path:
                    self.state.faults.remove(fault)
                    return onshape_error(fault[1], "Injected", **fault[2])
            if not self.authorized(request):
                return onshape_error(401, "Unauthenticated API request")
        return getattr(self, f"on_{endpoint}")(request, **args)

    def authorized(self, request: Request) -> bool:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            return (auth.username, auth.password) == (ACCESS_KEY, SECRET_KEY)
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        return self.state.access.get(token, 0.0) > time.time()

    # --- OAuth -------------------------------------------------------------------------
    def on_authorize(self, request: Request) -> Response:
        """The user clicks "Allow": back to redirect_uri with a code and the same state."""
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return Response("unknown client", 400)
        code = secrets.token_urlsafe(16)
        self.state.codes[code] = args.get("redirect_uri", "")
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response("", 302, {"Location": f"{args.get('redirect_uri')}?{query}"})

    def on_token(self, request: Request) -> Response:
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return json({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            redirect_uri = self.state.codes.pop(form.get("code", ""), None)
            if redirect_uri is None or redirect_uri != form.get("redirect_uri"):
                return json({"error": "invalid_grant", "error_description": "bad code"}, 400)
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.state.refresh:
                return json({"error": "invalid_grant", "error_description": "revoked"}, 400)
            self.state.refresh.discard(form["refresh_token"])  # Onshape rotates them
        else:
            return json({"error": "unsupported_grant_type"}, 400)
        if self.state.token_answer is not None:
            answer, self.state.token_answer = self.state.token_answer, None
            return json(answer)
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.state.access[access] = time.time() + self.state.lifetime
        self.state.refresh.add(refresh)
        self.state.issued |= {access, refresh}
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "expires_in": self.state.lifetime,
        }
        return json(body)

    # --- API ---------------------------------------------------------------------------
    def on_sessioninfo(self, request: Request) -> Response:
        return json(
            {"id": "5f0f0f0f0f0f0f0f0f0f0f0f", "name": "Ada Student", "email": "ada@example.org"}
        )

    def _document(self, did: str, wvm: str) -> Response | None:
        if did == FORBIDDEN_DOC:
            return onshape_error(403, "Forbidden")
        if did != DOC or wvm not in ("w", "v", "m"):
            return onshape_error(404, "Not found")
        return None

    def on_micro(self, request: Request, did: str, wvm: str, wvmid: str) -> Response:
        refused = self._document(did, wvm)
        if refused is not None or wvm == "m":
            return refused or onshape_error(400, "Use w or v")
        micro = self.state.microversion if wvm == "w" else "ffffffffffffffffffffffff"
        return json({"microversion": micro})

    def on_translate(self, request: Request, api: str, did: str, wvm: str, wvmid: str, eid: str):
        refused = self._document(did, wvm)
        if refused is not None:
            return refused
        if ELEMENTS.get(eid) != api:
            return onshape_error(404, "Element not found")
        body = request.get_json(silent=True) or {}
        expected = "PDF" if api == "drawings" else "STEP"
        if body.get("formatName") != expected or body.get("storeInDocument") is not False:
            return onshape_error(400, "Bad translation request")
        self.state.started[api] += 1
        tid = secrets.token_hex(12)
        self.state.translations[tid] = {"api": api, "did": did, "polls": 0}
        return json(self._translation_body(tid, "ACTIVE"))

    def _translation_body(self, tid: str, state: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": tid,
            "requestState": state,
            "href": f"{self.url}/api/translations/{tid}",
            "resultExternalDataIds": None,
            "failureReason": None,
            **extra,
        }

    def on_translation(self, request: Request, tid: str) -> Response:
        job = self.state.translations.get(tid)
        if job is None:
            return onshape_error(404, "Not found")
        job["polls"] += 1
        if job["polls"] <= self.state.polls_before_done:
            return json(self._translation_body(tid, "ACTIVE"))
        if self.state.fail_translation:
            return json(
                self._translation_body(tid, "FAILED", failureReason=self.state.fail_translation)
            )
        fid = secrets.token_hex(12)
        data = PDF if job["api"] == "drawings" else STEP_FILE.read_bytes()
        self.state.external[fid] = data
        return json(self._translation_body(tid, "DONE", resultExternalDataIds=[fid]))

    def on_external(self, request: Request, did: str, fid: str) -> Response:
        data = self.state.external.get(fid)
        if data is None or did != DOC:
            return onshape_error(404, "Not found")
        return Response(data, 200, mimetype="application/octet-stream")
