"""PDFs as pages, text formats, OCR of images: what is stored, found by its words, and kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from vsearch.encoders import Item
from vsearch.eval.text_images import fonts, render, write_scanned_pdf, write_text_pdf
from vsearch.index import Index
from vsearch.ingest import documents, ocr

from ..conftest import HashEncoder, write_image

FONTS = fonts()
needs_fonts = pytest.mark.skipif(
    not FONTS, reason="no DejaVu/Liberation fonts (apt-get install fonts-dejavu-core)"
)


def scan(lines, seed=0):
    return render(lines, font=FONTS[0], size=36, seed=seed)


def items(idx):
    return {row.path: row for row in idx.store.all_items()}


def test_the_ocr_models_are_the_ones_inside_the_wheel():
    import rapidocr

    paths = ocr.model_paths()
    assert all(p.is_file() for p in paths.values())
    assert {p.parent.parent for p in paths.values()} == {Path(rapidocr.__file__).parent}


@needs_fonts
def test_pdf_pages_are_items_found_by_their_words_and_scans_by_ocr(tmp_path):
    root = tmp_path / "docs"
    write_text_pdf(
        root / "report.pdf",
        [["The lighthouse keepers met in autumn."], ["Penguins migrate along the coast."]],
    )
    write_scanned_pdf(root / "scanned.pdf", [scan(["INVOICE 2291", "ACME Corporation"])])
    write_image(root / "photo.jpg", 1)
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        report = idx.ingest(root)
        assert report.failed == [] and report.added == 4
        rows = items(idx)
        assert {p: (r.kind, r.text_source) for p, r in rows.items()} == {
            "report.pdf#page=1": ("page", "pdf"),
            "report.pdf#page=2": ("page", "pdf"),
            "scanned.pdf#page=1": ("page", "ocr"),
            "photo.jpg": ("image", None),
        }
        assert "ACME" in rows["scanned.pdf#page=1"].text
        assert rows["scanned.pdf#page=1"].boxes[0]["text"]
        (hit,) = idx.search("penguins", k=5, route="keyword")
        assert hit.path == "report.pdf#page=2" and hit.abspath == (root / "report.pdf").resolve()
        assert hit.metadata["matched"] == ["Penguins"]
        found = idx.search("invoice acme", k=2)
        assert found[0].path == "scanned.pdf#page=1"
        assert found[0].metadata["matched"] == ["INVOICE", "ACME"]
        assert [h.path for h in idx.search("x", k=5, filters=["text~acme"])] == [
            "scanned.pdf#page=1"
        ]


def test_a_changed_pdf_re_embeds_only_its_changed_pages_and_drops_the_missing(tmp_path):
    root = tmp_path / "docs"
    pages = [["First page stays the same."], ["Second page will change."], ["Third goes."]]
    write_text_pdf(root / "a.pdf", pages)
    encoder = HashEncoder()
    with Index.create(tmp_path / "idx", encoder=encoder) as idx:
        idx.ingest(root)
        before = {p: r.id for p, r in items(idx).items()}
        assert encoder.calls == 5  # 3 page images + the 2 text layers long enough to fuse
        write_text_pdf(root / "a.pdf", [pages[0], ["Second page has changed now."]])
        report = idx.ingest()
        assert (report.updated, report.unchanged, report.removed) == (1, 1, 1)
        assert encoder.calls == 7
        after = {p: r.id for p, r in items(idx).items()}
        assert after == {
            "a.pdf#page=1": before["a.pdf#page=1"],
            "a.pdf#page=2": after["a.pdf#page=2"],
        }
        assert idx.ingest().unchanged == 2 and encoder.calls == 7
        (root / "a.pdf").unlink()
        assert idx.ingest().removed == 2 and len(idx) == 0


def test_encrypted_damaged_and_enormous_pdfs_are_failures_with_a_reason(tmp_path, monkeypatch):
    from fpdf import FPDF

    root = tmp_path / "docs"
    root.mkdir()
    locked = FPDF()
    locked.set_encryption(owner_password="o", user_password="u")
    locked.add_page()
    locked.output(str(root / "locked.pdf"))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    write_text_pdf(root / "long.pdf", [["one"], ["two"], ["three"]])
    write_text_pdf(root / "ok.pdf", [["fine"]])
    monkeypatch.setattr(documents, "MAX_PAGES", 2)
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        report = idx.ingest(root)
        reasons = dict(report.failed)
        assert reasons["locked.pdf"] == "encrypted PDF (needs a password)"
        assert reasons["broken.pdf"].startswith("damaged or not a PDF")
        assert reasons["long.pdf"] == "PDF has 3 pages, over the cap of 2"
        assert set(items(idx)) >= {"ok.pdf#page=1"} and len(idx) == 1
        monkeypatch.setattr(documents, "MAX_PAGES", 10)
        (root / "long.pdf").touch()
        report = idx.ingest()
        assert "long.pdf" not in dict(report.failed) and len(idx) == 4
        assert "long.pdf" not in items(idx)  # its failure row is gone with the failure


def test_html_rst_csv_and_json_are_text_items(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "page.html").write_text(
        "<html><head><title>Bread</title><style>p{}</style></head>"
        "<body><p>Bake at <b>220</b> degrees</p><script>var x</script></body></html>"
    )
    (root / "guide.rst").write_text("Guide\n=====\n\nOpen the valve slowly.\n")
    (root / "table.csv").write_text("city,river\nParis,Seine\n")
    (root / "data.json").write_text('{"planet": "Neptune"}')
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root)
        rows = items(idx)
        assert rows["page.html"].text == "Bread\nBake at 220 degrees"
        assert {r.kind for r in rows.values()} == {"text"}
        for word, path in [
            ("valve", "guide.rst"),
            ("seine", "table.csv"),
            ("neptune", "data.json"),
        ]:
            assert [h.path for h in idx.search(word, route="keyword")] == [path]


@needs_fonts
def test_ocr_text_of_an_image_is_stored_fused_and_filterable_with_ocr_on(tmp_path):
    root = tmp_path / "shots"
    root.mkdir()
    scan(["Meeting notes", "Budget approved for ACME"]).save(root / "screen.png")
    Image.new("RGB", (64, 64), "white").save(root / "blank.png")
    with Index.create(tmp_path / "default", encoder=HashEncoder()) as idx:
        idx.ingest(root)  # images are not read by default: OCR costs too much per photo
        assert items(idx)["screen.png"].text is None
    encoder = HashEncoder()
    with Index.create(tmp_path / "idx", encoder=encoder) as idx:
        idx.ingest(root, ocr=True)
        row = items(idx)["screen.png"]
        assert row.text_source == "ocr" and "ACME" in row.text
        assert row.boxes[0]["box"][0][0] < row.boxes[0]["box"][1][0]  # left corner, right corner
        assert encoder.calls == 3  # two images and the recognised text fused into one
        assert [h.path for h in idx.search("x", filters=["text~budget"])] == ["screen.png"]
        assert items(idx)["blank.png"].text is None


@needs_fonts
def test_the_cli_shows_pages_and_matched_words(tmp_path):
    from vsearch.cli import app

    root = tmp_path / "docs"
    write_text_pdf(root / "r.pdf", [["nothing here"], ["The harbour master signs the ledger."]])
    index = str(tmp_path / "idx")
    runner = CliRunner()
    done = runner.invoke(app, ["ingest", str(root), "--index", index, "--model", "test-hash"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["query", "ledger", "--index", index, "--match", "keyword"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[1].endswith("r.pdf#page=2")
    assert lines[2].strip() == "matched ledger: The harbour master signs the ledger."
    done = runner.invoke(app, ["query", "ledger", "--index", index, "--match", "fuzzy"])
    assert done.exit_code != 0 and "route must be one of" in done.output


@needs_fonts
def test_no_ocr_leaves_scanned_pages_without_text(tmp_path):
    root = tmp_path / "docs"
    write_scanned_pdf(root / "scanned.pdf", [scan(["INVOICE 2291", "ACME Corporation"])])
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root, ocr=False)
        assert items(idx)["scanned.pdf#page=1"].text is None


def test_a_long_text_is_chunked_with_offsets_and_follows_its_file_growing_and_shrinking(tmp_path):
    from vsearch.ingest.chunks import CHUNK_CHARS

    root = tmp_path / "notes"
    root.mkdir()
    filler = " ".join(f"word{i}" for i in range(400))
    text = f"{filler} the albatross glides over the ocean {filler}"
    (root / "long.md").write_text("short note")
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root)
        assert set(items(idx)) == {"long.md"}
        (root / "long.md").write_text(text)
        report = idx.ingest()
        rows = items(idx)
        assert "long.md" not in rows and report.removed == 0 and len(rows) == report.added > 2
        for path, row in rows.items():
            offset = int(path.removeprefix("long.md#chars="))
            assert text[offset:].startswith(row.text) and len(row.text) <= CHUNK_CHARS
            assert row.kind == "text"
        (hit,) = idx.search("albatross", route="keyword")
        assert hit.path.startswith("long.md#chars=") and "albatross" in hit.metadata["snippet"]
        assert hit.abspath == (root / "long.md").resolve()
        assert idx.ingest().unchanged == len(rows)
        (root / "long.md").write_text("short again")
        idx.ingest()
        assert set(items(idx)) == {"long.md"}


class ReadingEncoder(HashEncoder):
    """Stands for a VLM (VLM2Vec): it reads the text in an image itself."""

    reads_text_in_images = True


def test_an_encoder_that_reads_images_embeds_a_page_as_an_image_and_keeps_its_text(tmp_path):
    root = tmp_path / "docs"
    write_text_pdf(root / "r.pdf", [["The harbour master signs the ledger."]])
    encoder, plain = ReadingEncoder(), HashEncoder()
    with Index.create(tmp_path / "idx", encoder=encoder) as idx:
        idx.ingest(root)
        assert encoder.calls == 1  # the page image alone, no text fused in
        row = items(idx)["r.pdf#page=1"]
        (vector,) = idx.store.vectors_by_id([row.id]).values()
        assert [h.path for h in idx.search("ledger", route="keyword")] == ["r.pdf#page=1"]
    image, _ = documents.render_page(root / "r.pdf", 1, max_side=encoder.max_image_side)
    expected = plain.encode([Item(image=image)])[0]
    assert float(vector @ expected) > 0.9999


class DyingEncoder(HashEncoder):
    """Stops the ingest (as a kill would) on its third batch."""

    def embed_batch(self, prepared, instruction):
        if self.calls >= 2:
            raise KeyboardInterrupt
        return super().embed_batch(prepared, instruction)


def test_an_ingest_stopped_between_a_file_s_parts_finishes_them_next_time(tmp_path):
    from vsearch.ingest.chunks import chunks

    root = tmp_path / "notes"
    root.mkdir()
    text = " ".join(f"term{i}" for i in range(700))
    (root / "long.txt").write_text(text)
    folder = tmp_path / "idx"
    slow = DyingEncoder(delay=0.15)  # past WRITE_SECONDS: each batch commits on its own
    with Index.create(folder, encoder=slow) as idx, pytest.raises(KeyboardInterrupt):
        idx.ingest(root, batch_size=1)
    with Index.open(folder, encoder=HashEncoder()) as idx:
        committed = len(idx)
        assert 0 < committed < 5
        (marker,) = [r for r in idx.store.all_items() if r.path == "long.txt"]
        assert marker.status == "pending"
        report = idx.ingest()
        rows = items(idx)
        assert "long.txt" not in rows and report.unchanged == committed
        assert len(rows) == len(idx) == committed + report.added == len(chunks(text))


def test_a_long_text_indexed_whole_before_chunking_is_chunked_by_the_next_ingest(
    tmp_path, monkeypatch
):
    from vsearch.ingest import crawl

    root = tmp_path / "notes"
    root.mkdir()
    (root / "long.txt").write_text(" ".join(f"term{i}" for i in range(700)))
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        monkeypatch.setattr(crawl, "CHUNKED_FROM_BYTES", 10**9)  # a vsearch before chunking
        idx.ingest(root)
        assert set(items(idx)) == {"long.txt"}
        monkeypatch.undo()
        report = idx.ingest()
        assert "long.txt" not in items(idx) and report.added == len(items(idx)) > 1


def test_removing_a_pdf_by_its_path_forgets_all_its_pages(tmp_path):
    root = tmp_path / "docs"
    write_text_pdf(root / "a.pdf", [["first page"], ["second page"]])
    write_text_pdf(root / "b.pdf", [["other file"]])
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root)
        assert idx.remove([str(root / "a.pdf")]) == 2
        assert set(items(idx)) == {"b.pdf#page=1"}
        assert idx.remove(["b.pdf"]) == 1 and len(idx) == 0
