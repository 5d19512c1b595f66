"""``gpusiibra report``: a study's page, its numbers checked against the dataset with pandas, opened in a real
headless browser, and clear errors for what is not a results dataset."""
import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import gpusiibra
from gpusiibra import batch, dataset
from gpusiibra.cli import main as cli
from gpusiibra.demo import write_example_study
from gpusiibra.errors import DatasetError
from gpusiibra.report import study_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A real small batch: 5 example maps (one 4D), two-sided with peaks, and a broken file."""
    folder = tmp_path_factory.mktemp("study")
    write_example_study(folder / "maps", 5)
    (folder / "maps" / "broken.nii.gz").write_bytes(b"\x1f\x8b not really")
    out = folder / "results.parquet"
    _, s = batch.assign_batch(gpusiibra.get_map(), [folder / "maps"], out, threshold=3.0, two_sided=True, peaks=True,
                              progress=False)
    assert s.maps == 12 and s.failures == 1
    return out


@pytest.fixture(scope="module")
def page(results, tmp_path_factory):
    pytest.importorskip("nilearn")
    html_path = tmp_path_factory.mktemp("page") / "study.html"
    rep = study_report(results, html_path, min_value=0.25, top=10, max_rows=40)
    return rep, html_path, html_path.read_text(encoding="utf-8")


def test_the_numbers_on_the_page_are_the_datasets(results, page):
    rep, _, text = page
    df = pd.read_parquet(results)
    maps = pd.DataFrame([m for r in dataset.read_manifest(results) if r["type"] == "chunk" for m in r["maps"]],
                        columns=["input", "frame", "sign"])
    assert re.search(r'id="n-maps">(\d+)<', text).group(1) == str(len(maps)) == "12"
    assert re.search(r'id="n-failed">(\d+)<', text).group(1) == "1" and "broken.nii.gz" in text
    # region frequency: maps with a component of correlation >= 0.25, over all maps
    comp = df[df["kind"] == "component"]
    hits = comp[comp["correlation"] >= 0.25].drop_duplicates(["region", "input", "frame", "sign"])
    expected = hits["region"].value_counts()
    table = re.search(r'<table id="frequency">.*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    shown = re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td><td>([\d.]+)</td></tr>", table)
    assert len(shown) == min(len(expected), 50) and len(shown) > 5
    for region, n, share in shown:
        region = region.replace("&amp;", "&")
        assert int(n) == expected[region]
        assert float(share) == pytest.approx(expected[region] / 12, abs=1e-4)
    # the per-map table: the top region of each component, the 40 of highest correlation
    data = json.loads(re.search(r'<script type="application/json" id="per-map-data">(.*?)</script>', text,
                                re.S).group(1).replace("<\\/", "</"))
    assert len(data["rows"]) == 40 and rep.rows_shown == 40
    n_components = len(comp.drop_duplicates(["input", "frame", "sign", "input structure"]))
    assert len(rep.per_map) == n_components and f"of {n_components}" in text
    best = comp.sort_values("correlation", ascending=False).drop_duplicates(
        ["input", "frame", "sign", "input structure"]).head(40)
    col = data["columns"]
    np.testing.assert_allclose([r[col.index("correlation")] for r in data["rows"]], best["correlation"], rtol=1e-12)
    assert [r[col.index("top region")] for r in data["rows"]] == list(best["region"])
    # components per map, every map counted (maps without components too)
    per = comp.drop_duplicates(["input", "frame", "sign", "input structure"]).groupby(["input", "frame", "sign"]).size()
    assert rep.components_per_map.sum() == per.sum() and len(rep.components_per_map) == 12


def test_the_page_is_self_contained_and_small(page):
    _, path, text = page
    assert os.path.getsize(path) < 5e6
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing from the network
    imgs = re.findall(r'<img src="data:image/png;base64,', text)
    assert len(imgs) >= 6  # bar chart, glass brain, slices, two histograms, components, peaks


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium to open the page in (apt install chromium)")
def test_the_page_in_a_real_browser(page, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    _, path, _ = page
    errors, failed = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("requestfailed", lambda r: failed.append(r.url))
            tab.goto(path.as_uri())
            sizes = tab.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
            assert sizes and all(c and w > 0 and h > 0 for c, w, h in sizes)
            rows = tab.locator("#per-map tbody tr")
            assert rows.count() == 40
            col = tab.locator("#per-map th").all_inner_texts().index("correlation")

            def first_correlation():
                return float(rows.nth(0).locator("td").nth(col).inner_text())

            top = first_correlation()
            header = tab.locator("#per-map th").nth(col)
            header.click()  # numbers sort descending first
            assert first_correlation() == pytest.approx(top, abs=1e-4)
            header.click()  # then ascending: the smallest of the 40 first
            low = first_correlation()
            assert low < top
            tab.fill("#per-map input.filter", "right")
            assert all("right" in t.lower() for t in rows.all_inner_texts())
            shot = tmp_path / "page.png"
            tab.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors and not failed, (errors, failed)
    from matplotlib.image import imread

    img = imread(str(shot))[..., :3]
    assert img.std() > 0.05 and (img.std(axis=2) > 0.05).mean() > 0.01  # not blank: text and coloured figures


def test_what_is_not_a_results_dataset_is_refused(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(DatasetError, match="not a gpusiibra results dataset"):
        study_report(plain, tmp_path / "a.html", figures=False)
    with pytest.raises(DatasetError, match="no such results dataset"):
        study_report(tmp_path / "nothing.parquet", tmp_path / "a.html", figures=False)
    empty = tmp_path / "empty.parquet"
    dataset.Dataset(empty, False, {}, {"name": "x", "regions": 1, "fingerprint": "0"}).close()
    with pytest.raises(DatasetError, match="holds no assigned maps yet"):
        study_report(empty, tmp_path / "a.html", figures=False)
    only_errors = tmp_path / "errs.parquet"
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"nope")
    batch.assign_batch(gpusiibra.get_map(), [broken], only_errors, progress=False)
    with pytest.raises(DatasetError, match="all 1 inputs failed"):
        study_report(only_errors, tmp_path / "a.html", figures=False)
    capsys.readouterr()
    assert not only_errors.exists()  # a run that assigned nothing leaves no dataset, only its errors file
    for bad in (plain, empty, only_errors):
        assert cli(["report", str(bad), "--out", str(tmp_path / "b.html")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gpusiibra: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.html").exists()


def test_the_command_writes_the_page_beside_the_dataset(results, capsys):
    pytest.importorskip("nilearn")
    assert cli(["report", str(results), "--measure", "map containedness", "--min", "0.1", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "12 maps, 1 failed input," in out and os.path.exists(str(results) + ".html")
