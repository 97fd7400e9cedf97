"""The hostile-request catalogue (issue 12): each row is one request a hostile or broken client
may send, and the status it must get. `{id}` in a path is a real part's id."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

GOOD = {"material": "Al", "subsystem": "Arm"}
JSON_CT = "application/json"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
RTL_OVERRIDE = "\u202e"
EMOJI = "\U0001f98a"  # 4 bytes in UTF-8, 2 UTF-16 units


@dataclass(frozen=True)
class Case:
    """One hostile request: method, path, body (bytes or JSON-able), headers, status."""

    name: str
    method: str
    path: str
    status: int
    json: Any = None
    data: bytes | dict[str, Any] | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""


def raw(name: str, method: str, path: str, body: bytes, status: int, ct: str = JSON_CT) -> Case:
    return Case(name, method, path, status, data=body, content_type=ct)


def body(name: str, method: str, path: str, payload: Any, status: int = 400) -> Case:
    return Case(name, method, path, status, json=payload)


def create(label: str, status: int = 400, **fields: Any) -> Case:
    return body(label, "POST", "/", {**GOOD, **fields}, status)


def query(name: str, path: str, string: str, status: int = 400) -> Case:
    return Case(name, "GET", path, status, query=string)


def actor(name: str, value: str, status: int = 400) -> Case:
    # Header values travel as Latin-1 text; UTF-8 names arrive as their bytes.
    latin = value.encode("utf-8").decode("latin-1")
    return Case(name, "PUT", "/{id}", status, json={"notes": "x"}, headers={"X-Actor": latin})


def upload(name: str, filename: str | None, content: bytes, status: int) -> Case:
    # Bytes here; the test wraps them in a fresh stream for every run (one per database).
    form = {} if filename is None else {"file": (content, filename)}
    return Case(name, "POST", "/{id}/upload", status, data=form, content_type="multipart/form-data")


def _deep(levels: int) -> bytes:
    return b'{"material":"Al","subsystem":"Arm","miscInfo":' + b"[" * levels + b"]" * levels + b"}"


MALFORMED_JSON = [
    raw("truncated object", "POST", "/", b'{"material": ', 400),
    raw("not json at all", "PUT", "/{id}", b"not json", 400),
    raw("trailing garbage", "POST", "/", json.dumps(GOOD).encode() + b" x", 400),
    raw("single quotes", "POST", "/", b"{'material': 'Al'}", 400),
    raw("bare NaN", "POST", "/", b'{"material":"Al","subsystem":"Arm","amount":NaN}', 400),
    raw(
        "infinity literal", "POST", "/", b'{"material":"Al","subsystem":"Arm","amount":1e999}', 400
    ),
    raw("5001-digit number", "POST", "/", b'{"material":"Al","amount":' + b"9" * 5001 + b"}", 400),
    raw("nesting 100000 deep", "POST", "/", _deep(100_000), 400),
    raw("invalid utf-8 bytes", "POST", "/", b'{"material":"\xff\xfe","subsystem":"A"}', 400),
    raw("empty body declared json", "POST", "/", b"", 400),
    raw("assign truncated", "POST", "/{id}/assign", b'{"assigned": ', 400),
    body("array body", "POST", "/", [GOOD]),
    body("string body", "POST", "/", "material"),
    raw("null body on update", "PUT", "/{id}", b"null", 400),
    body("empty object", "POST", "/", {}),
]
WRONG_TYPES = [
    create("material list", material=["Al"]),
    create("material object", material={"a": 1}),
    create("material boolean", material=True),
    create("amount text", amount="many"),
    create("amount negative", amount=-1),
    create("amount zero", amount=0),
    create("amount boolean", amount=True),
    create("amount fraction", amount=1.5),
    create("amount beyond 64 bits", amount=2**70),
    create("miscInfo string", miscInfo="x"),
    create("miscInfo list", miscInfo=[1, 2]),
    create("miscInfo 40 levels", miscInfo=json.loads('{"a":' * 40 + "1" + "}" * 40)),
    create("type unknown", type="laser"),
    body("put status unknown", "PUT", "/{id}", {"status": "Shipped"}),
    body("put category null", "PUT", "/{id}", {"category": None}),
    body("put claimedDate text", "PUT", "/{id}", {"claimedDate": "yesterday"}),
    body("put partId blank", "PUT", "/{id}", {"partId": "   "}),
    body("assign list", "POST", "/{id}/assign", {"assigned": ["Ada"]}),
    body("assign blank", "POST", "/{id}/assign", {"assigned": "  "}),
    body("assign missing", "POST", "/{id}/assign", {"name": "Ada"}),
    body("approve miscInfo number", "POST", "/{id}/approve", {"miscInfo": 5}),
    body("wipe password list", "POST", "/wipe", {"password": ["x"]}, 403),
]
HUGE_AND_CONTROL = [
    create("name 201 characters", name="n" * 201),
    create("notes 10001 characters", notes="n" * 10_001),
    create("material 2 MB", 413, material="m" * 2_000_000),
    body("assign 101 characters", "POST", "/{id}/assign", {"assigned": "a" * 101}),
    create("NUL in name", name="bad\x00name"),
    create("only NUL subsystem", subsystem="\x00"),
    create("lone surrogate", name="\ud800"),
    create("201 four-byte emoji", name=EMOJI * 201),
    query("NUL in search", "/", "search=a%00b"),
    query("NUL in category path", "/categories/%00", ""),
    query("category path 21 characters", "/categories/" + "c" * 21, "search=a&limit=1"),
    query("category path 4000 characters", "/categories/" + "c" * 4000, "search=a&limit=1"),
    query("search 201 characters", "/", "search=" + "s" * 201),
]
SQL_AND_PATHS = [
    query("sort_by injection", "/", "sort_by=name%3B%20DROP%20TABLE%20parts"),
    query("sort_by python attribute", "/", "sort_by=to_dict"),
    query("sort_order injection", "/", "sort_order=desc%2C%20id"),
    query("search SQL comment", "/", "search=%27%3B%20DROP%20TABLE%20parts%3B%20--", 200),
    query("search percent wildcard", "/", "search=%25", 200),
    query("search underscore wildcard", "/", "search=_", 200),
    query("category tautology", "/", "category=review%27%20OR%20%271%27%3D%271", 200),
    upload("traversal step name", "../../etc/passwd.step", b"not a step file", 415),
    upload("traversal windows name", "..\\..\\boot.pdf", b"MZ not a pdf", 415),
    upload("absolute name no extension", "/etc/passwd", b"root:x:0:0", 415),
    upload("executable", "tool.exe", b"MZ\x90\x00", 415),
    upload("empty filename", "", PDF, 400),
    upload("NUL in filename", "a\x00.pdf", b"junk", 415),
    query("view index traversal", "/{id}/views/..%2F..%2Fetc", "", 404),
    query("view index 9", "/{id}/views/9", "", 404),
]
CONTENT_TYPES = [
    raw("create as text/plain", "POST", "/", json.dumps(GOOD).encode(), 415, "text/plain"),
    raw("update as form", "PUT", "/{id}", b"notes=x", 415, "application/x-www-form-urlencoded"),
    raw("approve as xml", "POST", "/{id}/approve", b"<a/>", 415, "application/xml"),
    raw("assign as multipart", "POST", "/{id}/assign", b"--x--", 415, "multipart/form-data"),
    raw("upload as json", "POST", "/{id}/upload", b'{"file":"x"}', 400),
    raw(
        "upload unclosed multipart",
        "POST",
        "/{id}/upload",
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF',
        400,
        "multipart/form-data; boundary=b",
    ),  # fmt: skip
    upload("upload without file part", None, b"", 400),
    Case(
        "views without view parts",
        "POST",
        "/{id}/views",
        400,
        data={"other": "x"},
        content_type="multipart/form-data",
    ),  # fmt: skip
]
NUMBERS_AND_IDS = [
    query("limit negative", "/", "limit=-1"),
    query("limit text", "/", "limit=ten"),
    query("limit float", "/", "limit=1e3"),
    query("offset negative", "/", "offset=-5"),
    query("offset beyond 64 bits", "/", "offset=99999999999999999999"),
    query("id beyond 64 bits", "/99999999999999999999999", "", 404),
    query("id 2^63", "/9223372036854775808", "", 404),
    query("id negative", "/-1", "", 404),
    query("id text", "/abc", "", 404),
    body("update id 2^31", "PUT", "/2147483648", {"notes": "x"}, 404),
    query("history limit negative", "/{id}/history", "limit=-1"),
    query("history offset text", "/history", "offset=x"),
    query("history deleted maybe", "/history", "deleted=maybe"),
    query("history of id 0", "/0/history", "", 404),
    query("repeated limit, bad one first", "/", "limit=abc&limit=1"),
    query("repeated sort_by", "/", "sort_by=bogus&sort_by=name"),
]
ACTOR_ABUSE = [
    actor("X-Actor 101 characters", "a" * 101),
    actor("X-Actor 101 emoji", EMOJI * 101),
    actor("X-Actor control character", "Ann\x01"),
    actor("X-Actor DEL", "Ann\x7f"),
    actor("X-Actor C1 control", "Ann\x85"),
    actor("X-Actor RTL override", f"Ann{RTL_OVERRIDE}nimda"),
    actor("X-Actor zero-width space", "Ad\u200bmin"),
    # The same rule for the names a body gives: who claims, who reviewed.
    Case("assign RTL override", "POST", "/{id}/assign", 400, json={"assigned": "Ann\u202enimda"}),
    Case("PUT assigned zero-width", "PUT", "/{id}", 400, json={"assigned": "Ad\u200bmin"}),
    Case("approve reviewer BOM", "POST", "/{id}/approve", 400, json={"reviewer": "\ufeffRita"}),
    # Not UTF-8 (Latin-1 bytes of "ÿþ"): README says UTF-8; not recorded as a guess.
    Case(
        "X-Actor not UTF-8",
        "PUT",
        "/{id}",
        400,
        json={"notes": "x"},
        headers={"X-Actor": "\xff\xfe"},
    ),
    Case(
        "X-Actor abuse on upload",
        "POST",
        "/{id}/upload",
        400,
        data={"file": (PDF, "b.pdf")},
        content_type="multipart/form-data",
        headers={"X-Actor": "Ann\x01"},
    ),
    # The test adds a second X-Actor header to this one.
    Case(
        "X-Actor sent twice", "PUT", "/{id}", 400, json={"notes": "x"}, headers={"X-Actor": "Ann"}
    ),
]
AUTH = [
    Case("no key", "PUT", "/{id}", 401, json={"notes": "x"}, headers={"X-API-Key": ""}),
    Case("wrong key", "DELETE", "/{id}", 401, headers={"X-API-Key": "guess"}),
]
CATALOGUE: list[Case] = [
    *MALFORMED_JSON,
    *WRONG_TYPES,
    *HUGE_AND_CONTROL,
    *SQL_AND_PATHS,
    *CONTENT_TYPES,
    *NUMBERS_AND_IDS,
    *ACTOR_ABUSE,
    *AUTH,
]
