"""three.js's own GLTFLoader (node, frontend/node_modules) reads what GET /model sends."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.test_model_variants import converted, model

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
# Parse a GLB from stdin, as the upstream web app does (no meshopt decoder) or as ours does.
LOAD = """
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { MeshoptDecoder } from "three/examples/jsm/libs/meshopt_decoder.module.js";
import { Box3 } from "three";
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const data = Buffer.concat(chunks);
const loader = new GLTFLoader();
if (process.argv[1] === "meshopt") loader.setMeshoptDecoder(MeshoptDecoder);
const glb = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
const gltf = await loader.parseAsync(glb, "");
const names = [];
gltf.scene.traverse((node) => { if (node.isMesh) names.push(node.name); });
const box = new Box3().setFromObject(gltf.scene);
console.log(JSON.stringify({ names, min: box.min.toArray(), max: box.max.toArray() }));
"""


def three_reads(glb: bytes, decoder: str = "none") -> dict:
    """What GLTFLoader makes of the GLB: mesh names and the scene's bounding box."""
    node = shutil.which("node")
    if node is None or not (FRONTEND / "node_modules" / "three").is_dir():
        pytest.skip("needs node and frontend/node_modules (cd frontend && npm ci)")
    done = subprocess.run(
        [node, "--input-type=module", "-e", LOAD, decoder],
        input=glb,
        cwd=FRONTEND,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def test_gltfloader_without_a_decoder_reads_the_default_answer_like_the_raw_glb(make_app):
    client, headers, url = converted(make_app(), FIXTURES / "step" / "occt_as1-oc-214-mat.stp")
    raw = three_reads(model(client, headers, url, "?variant=raw").data)
    default = three_reads(model(client, headers, url).data)
    meshopt = three_reads(model(client, headers, url, "?compression=meshopt").data, "meshopt")
    assert len(raw["names"]) == 18
    diagonal = sum((b - a) ** 2 for a, b in zip(raw["min"], raw["max"], strict=True)) ** 0.5
    for seen in (default, meshopt):
        assert seen["names"] == raw["names"]
        corners = zip(seen["min"] + seen["max"], raw["min"] + raw["max"], strict=True)
        assert max(abs(a - b) for a, b in corners) <= 0.0005 * diagonal
