"""Files and the 3D viewer: upload progress, conversion status, the model, failures, thumbnails."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in

FILES = Path(__file__).with_name("files")

# Distinct colours in the viewer's canvas: a blank scene has one or two.
CANVAS_COLOURS = """() => {
  const source = document.querySelector('.model-canvas canvas');
  const copy = document.createElement('canvas');
  copy.width = 64; copy.height = 64;
  const context = copy.getContext('2d');
  context.drawImage(source, 0, 0, 64, 64);
  const data = context.getImageData(0, 0, 64, 64).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) seen.add(data.slice(i, i + 3).join());
  return seen.size;
}"""


def _open(page, name: str):
    page.get_by_role("button", name=f"Open {name}").click()
    return page.get_by_role("dialog", name=name)


def test_the_sample_part_shows_its_model_and_gets_a_thumbnail(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^CNC \(")).click()
    models = []
    page.on("response", lambda r: "/model" in r.url and models.append((r.url, r.status, r)))
    details = _open(page, "Controller Mounting Plate")
    expect(details.get_by_role("button", name="Fit to view")).to_be_visible(timeout=30_000)
    # The viewer asked for the meshopt-compressed GLB and decoded it (WebAssembly, under the
    # SPA's CSP: a refusal would be a console error, which fails every browser test).
    url, status, response = models[-1]
    assert (url.endswith("/model?compression=meshopt"), status) == (True, 200)
    assert response.headers["model-variant"] == "meshopt"
    expect(details.get_by_role("img", name=re.compile("^3D model"))).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate(CANVAS_COLOURS) > 8
    details.get_by_role("button", name="Fit to view").click()
    assert axe_violations(page) == []
    details.get_by_role("button", name="Close").click()
    card = page.locator("li.card", has_text="Controller Mounting Plate")
    expect(card.locator("img.thumb")).to_be_visible(timeout=10_000)
    part = board.part_named("Controller Mounting Plate")
    assert board.api("GET", f"/{part['id']}/views")[1]["views"]["files"]["0"]


def test_upload_shows_progress_then_conversion_status_until_the_model_is_ready(desktop_page, board):
    page = desktop_page
    model_requests = {"count": 0}

    def first_two_still_converting(route):
        model_requests["count"] += 1
        if model_requests["count"] <= 2:
            route.fulfill(
                status=202,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body='{"status":"pending","message":"The 3D model is being prepared"}',
            )
        else:
            route.continue_()

    page.route(re.compile(r".*/api/parts/\d+/model(\?.*)?$"), first_two_still_converting)
    sign_in(page, board)
    page.evaluate(
        """() => {
          window.__progress = [];
          new MutationObserver(() => {
            const bar = document.querySelector('progress');
            if (bar) window.__progress.push(bar.value);
          }).observe(document.body, {subtree: true, childList: true, attributes: true});
        }"""
    )
    page.get_by_role("button", name="Add part").click()
    form = page.get_by_role("dialog", name="Add part")
    form.get_by_label("Name").fill("Arm Assembly")
    form.get_by_role("combobox", name="Material", exact=True).fill("PLA")
    form.get_by_role("combobox", name="Subsystem").fill("Arm")
    form.get_by_label("STEP or PDF file").set_input_files(FILES / "cube_and_cylinder.step")
    form.get_by_role("button", name="Add part").click()
    details = page.get_by_role("dialog", name="Arm Assembly")
    expect(details.get_by_role("status")).to_contain_text("Converting the STEP file")
    expect(details.get_by_role("button", name="Fit to view")).to_be_visible(timeout=30_000)
    progress = page.evaluate("() => window.__progress")
    assert progress and progress[-1] == 1, progress
    names = details.get_by_role("list", name="Parts in this model").get_by_role("button")
    expect(names).to_have_count(2)
    names.first.click()
    expect(names.first).to_have_attribute("aria-pressed", "true")
    part = board.part_named("Arm Assembly")
    assert (part["file"], part["modelStatus"]) == ("cube_and_cylinder.step", "ready")


def test_a_failed_conversion_is_said_on_the_card_and_in_the_viewer(desktop_page, board):
    page = desktop_page
    sign_in(page, board)
    page.get_by_role("button", name="Open Drive Gear").click()
    page.get_by_role("dialog", name="Drive Gear").get_by_role("button", name="Edit").click()
    form = page.get_by_role("dialog", name="Edit part")
    form.get_by_label(re.compile("file")).set_input_files(FILES / "garbage_body.step")
    form.get_by_role("button", name="Save changes").click()
    details = page.get_by_role("dialog", name="Drive Gear")
    expect(details.get_by_role("alert")).to_contain_text("No 3D model:", timeout=30_000)
    details.get_by_role("button", name="Close").click()
    expect(page.locator("li.card", has_text="Drive Gear")).to_contain_text(
        "3D model failed", timeout=10_000
    )
    assert board.part_named("Drive Gear")["modelStatus"] == "failed"


MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def test_a_pdf_drawing_opens_in_a_new_tab(desktop_page, board, tmp_path):
    page = desktop_page
    drawing = tmp_path / "bumper-drawing.pdf"
    drawing.write_bytes(MINIMAL_PDF)
    sign_in(page, board)
    page.get_by_role("link", name=re.compile(r"^Hand fab \(")).click()
    page.get_by_role("button", name="Open Bumper Frame").click()
    page.get_by_role("dialog", name="Bumper Frame").get_by_role("button", name="Edit").click()
    form = page.get_by_role("dialog", name="Edit part")
    form.get_by_label(re.compile("file")).set_input_files(drawing)
    form.get_by_role("button", name="Save changes").click()
    details = page.get_by_role("dialog", name="Bumper Frame")
    expect(details).to_contain_text("bumper-drawing.pdf")
    expect(details.get_by_role("region", name="3D model")).to_have_count(0)
    with page.context.expect_page() as opened:
        details.get_by_role("button", name="Open PDF").click()
    assert opened.value.url.startswith("blob:")
    assert board.part_named("Bumper Frame")["file"] == "bumper-drawing.pdf"
