"""The scale benchmark's cases (issue 13), the bodies the bare app replays for them, and the
write pools that keep every write valid however many times it runs.

Two tiers, each measured on its own pair of servers:
- **list** (the shop's everyday calls; run at up to 10k parts): the full list (the web app's
  call), the list with If-None-Match (304) and with Accept-Encoding: gzip, one part, PUT,
  approve, claim. Our server is the app as deployed.
- **search** (a season archive; run at 100k parts): search with limit 25 (`Gear`, `9999`), a
  category filter, a deep offset, a sort by each sortable field, stats and detailed stats.
  Our server runs without the list-body cache, so every request runs its query (a search a
  phone types is rarely the one before it); stats are served as deployed.

Writes never fail by being repeated: each client owns its own parts (`own_slices`). PUT
alternates two notes; claim alternates assign and unclaim on CNC parts; approve takes review
parts once each, and its pool is put back in review (one bulk UPDATE that moves the parts
revision) before every run on our server.
"""

from __future__ import annotations

import http.client
import json
import random
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bench.bench_parts_api import Case, fetch
from bench.load import ANY_LENGTH, Call
from bench.servers import HOST, Served
from models.part import Part
from models.revision import write_parts
from utils.schemas import SORT_FIELDS

LIST = "/api/parts/"
SAMPLED_PARTS = 100
SEARCHES = {
    "search-gear": ("search `Gear`, limit 25", "search=Gear&limit=25"),
    "search-9999": ("search `9999`, limit 25", "search=9999&limit=25"),
    "category": ("category cnc, limit 25", "category=cnc&limit=25"),
}
SORTED_FIELDS = tuple(sorted(set(SORT_FIELDS.values())))
STATS = {"stats": "/api/parts/stats", "stats-detailed": "/api/parts/stats/detailed"}
CLAIMER = "Bench Claimer"
APPROVE = "approve (a review part each time)"


@dataclass(frozen=True)
class Pools:
    """Part ids per write case, disjoint; each a multiple of the client count."""

    put: list[int]
    claim: list[int]
    approve: list[int]


def search_paths(count: int) -> dict[str, tuple[str, str]]:
    """key → (case name, path) of every search-tier read."""
    paths = {key: (name, f"{LIST}?{query}") for key, (name, query) in SEARCHES.items()}
    deep = count // 2
    paths["offset"] = (f"offset {deep:,}, limit 25", f"{LIST}?limit=25&offset={deep}")
    for column in SORTED_FIELDS:
        query = f"sort_by={column}&sort_order=asc&limit=25"
        paths[f"sort-{column}"] = (f"sorted by {column}, limit 25", f"{LIST}?{query}")
    for key, path in STATS.items():
        paths[key] = (f"GET {path.removeprefix(LIST)}", path)
    return paths


def make_pools(engine: Engine, clients: int, seed: int = 13) -> Pools:
    """Pick disjoint write pools and put the claim pool into a claimable state."""
    with engine.connect() as connection:
        ids = sorted(connection.execute(select(Part.id)).scalars())
    random.Random(seed).shuffle(ids)
    per_client = max(1, min(25, len(ids) // 40))
    approve_each = max(1, min(250, len(ids) // (4 * clients)))
    cut = [clients * per_client, 2 * clients * per_client]
    cut.append(cut[1] + clients * approve_each)
    pools = Pools(ids[: cut[0]], ids[cut[0] : cut[1]], ids[cut[1] : cut[2]])
    claimable = {"type": "cnc", "category": "cnc", "status": "Reviewed"}
    _set(engine, pools.claim, {**claimable, "assigned": None, "claimed_date": None})
    return pools


def _set(engine: Engine, ids: list[int], values: dict[str, object]) -> None:
    """One bulk UPDATE through write_parts: the parts revision moves, so no cache is stale."""
    with Session(engine) as session, session.begin():
        write_parts(session, update(Part).where(Part.id.in_(ids)).values(**values))


def approve_reset(engine: Engine, ids: list[int]) -> Callable[[], None]:
    """Put the approve pool back in review before a run."""
    values = {"category": "review", "status": "Pending", "assigned": None, "claimed_date": None}
    return lambda: _set(engine, ids, values)


def _json(body: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def _post(path: str, headers: dict[str, str], body: dict[str, object] | None = None) -> Call:
    if body is None:
        return Call(path, headers, 200, ANY_LENGTH, "POST")
    data, json_type = _json(body)
    return Call(path, {**headers, **json_type}, 200, ANY_LENGTH, "POST", data)


def write_cases(pools: Pools, headers: dict[str, str], engine: Engine) -> list[Case]:
    """PUT, claim and approve: each client cycles over its own slice of its pool."""
    notes = [_json({"notes": f"Bench note {side}"}) for side in "AB"]
    put = [
        Call(f"{LIST}{pid}", {**headers, **kind}, 200, ANY_LENGTH, "PUT", body)
        for pid in pools.put
        for body, kind in notes
    ]
    claim = [
        call
        for pid in pools.claim
        for call in (
            _post(f"{LIST}{pid}/assign", headers, {"assigned": CLAIMER}),
            _post(f"{LIST}{pid}/unclaim", headers),
        )
    ]
    approve = [_post(f"{LIST}{pid}/approve", headers) for pid in pools.approve]
    reset = approve_reset(engine, pools.approve)
    return [
        Case("put", "PUT one part (notes)", put, False, own_slices=True),
        Case("claim", "claim + unclaim (alternating)", claim, False, own_slices=True),
        Case("approve", APPROVE, approve, False, True, len(approve), reset),
    ]


def write_replays(pools: Pools, sample: Served) -> dict[str, Served]:
    """What the bare app answers to the writes: one part's body (ours' varies per write)."""
    paths = [f"{LIST}{pid}" for pid in pools.put]
    paths += [f"{LIST}{pid}/{action}" for pid in pools.claim for action in ("assign", "unclaim")]
    paths += [f"{LIST}{pid}/approve" for pid in pools.approve]
    return dict.fromkeys(paths, Served(sample.body, ""))


@dataclass
class Reference:
    """Bodies fetched from ours (reads, and their gzip variants), the read cases they make,
    and what the bare app answers to the writes: everything the bare app replays."""

    bodies: dict[str, Served]
    gzipped: dict[str, Served]
    cases: list[Case]
    writes: dict[str, Served] = field(default_factory=dict)


def list_reads(port: int, headers: dict[str, str], ids: list[int]) -> Reference:
    """The full list (plain, 304, gzip) and one part over a spread of ids."""
    plain = fetch(port, LIST, headers)
    gzip_headers = {**headers, "Accept-Encoding": "gzip"}
    gzipped = fetch(port, LIST, gzip_headers)
    step = max(1, len(ids) // SAMPLED_PARTS)
    parts = {f"{LIST}{pid}": fetch(port, f"{LIST}{pid}", headers) for pid in ids[::step]}
    revalidate = {**headers, "If-None-Match": f'"{plain.etag}"'}
    one = [Call(path, headers, 200, len(served.body)) for path, served in parts.items()]
    cases = [
        Case("list", "GET the full list", [Call(LIST, headers, 200, len(plain.body))], True),
        Case(
            "list-304",
            "GET the full list, If-None-Match (304)",
            [Call(LIST, revalidate, 304, 0)],
            False,
        ),
        Case(
            "list-gzip",
            "GET the full list, Accept-Encoding: gzip",
            [Call(LIST, gzip_headers, 200, len(gzipped.body))],
            False,
        ),
        Case("one", "GET one part", one, True),
    ]
    compressed = {LIST: gzipped} if gzipped.encoding else {}
    return Reference({LIST: plain, **parts}, compressed, cases)


def search_reads(port: int, headers: dict[str, str], count: int) -> Reference:
    """Every search-tier read, fetched once from ours; the keyset page too when ours offers
    one (an X-Next-After header on the page before the deep offset)."""
    paths = search_paths(count)
    token = next_after(port, f"{LIST}?limit=25&offset={max(0, count // 2 - 25)}", headers)
    if token:
        query = urllib.parse.urlencode({"limit": 25, "after": token})
        paths["keyset"] = (f"keyset page after {count // 2:,} parts, limit 25", f"{LIST}?{query}")
    bodies, cases = {}, []
    for key, (name, path) in paths.items():
        bodies[path] = fetch(port, path, headers, require_etag=False)
        cases.append(Case(key, name, [Call(path, headers, 200, len(bodies[path].body))], True))
    return Reference(bodies, {}, cases)


def next_after(port: int, path: str, headers: dict[str, str]) -> str | None:
    """The keyset token (X-Next-After) ours sends with this page, if it sends one."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.getheader("X-Next-After")
    finally:
        connection.close()
