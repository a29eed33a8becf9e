"""The JSON API through the ASGI test client, against a real index: the API returns the records
the CLI's --json prints, and every route does what its docs say."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from vsearch.index import Index
from vsearch.query import find_duplicates, run_query
from vsearch.serve.app import create_app
from vsearch.serve.state import ServerState

from ..conftest import HashEncoder, write_image


def _json_roundtrip(records):
    return json.loads(json.dumps(list(records)))


@pytest.mark.parametrize(
    ("q", "where"),
    [
        ("shopping list", []),
        ("2:apples + coffee - bread", []),
        ("a red square", ["kind=image", "folder=sub"]),
    ],
)
def test_text_search_returns_exactly_the_records_of_run_query(client, index, q, where):
    response = client.get("/api/search", params={"q": q, "k": 5, "where": where})
    assert response.status_code == 200
    expected = run_query(index, q.split(), k=5, filters=where).records()
    assert response.json()["hits"] == _json_roundtrip(expected)
    assert response.json()["hits"], "the query found nothing, so the comparison proved nothing"


def test_terms_keep_a_quoted_operator_as_text_like_the_shell(client, index):
    response = client.get("/api/search", params={"term": ["salt + pepper"], "k": 3})
    expected = run_query(index, ["salt + pepper"], k=3).records()
    assert response.json()["hits"] == _json_roundtrip(expected)
    assert response.json()["hits"][0]["parts"][0]["text"] == "salt + pepper"


def test_offset_pages_continue_the_ranking(client):
    everything = client.get("/api/search", params={"q": "photos", "k": 7}).json()["hits"]
    page = client.get("/api/search", params={"q": "photos", "k": 3, "offset": 2}).json()["hits"]
    assert [h["id"] for h in page] == [h["id"] for h in everything[2:5]]
    assert [h["rank"] for h in page] == [3, 4, 5]


def test_min_score_drops_weak_hits(client):
    hits = client.get("/api/search", params={"q": "x", "k": 7, "min_score": 0.2}).json()["hits"]
    assert all(h["score"] >= 0.2 for h in hits)


def test_an_uploaded_image_finds_its_own_file(client, index, photo_dir):
    data = (photo_dir / "img3.png").read_bytes()
    response = client.post(
        "/api/search", files={"image": ("query.png", data, "image/png")}, data={"k": "3"}
    )
    assert response.status_code == 200
    hits = response.json()["hits"]
    local = list(run_query(index, [], image=photo_dir / "img3.png", k=3).records())
    assert [(h["id"], h["score"]) for h in hits] == [(h["id"], h["score"]) for h in local]
    assert hits[0]["path"] == "img3.png" and hits[0]["score"] == pytest.approx(1.0)
    assert hits[0]["parts"] == [{**local[0]["parts"][0], "image": "upload:query.png"}]


def test_an_upload_composed_with_weighted_text(client, index, photo_dir):
    data = (photo_dir / "img0.jpg").read_bytes()
    response = client.post(
        "/api/search",
        files={"image": ("q.jpg", data, "image/jpeg")},
        data={"q": "with snow + 0.5:winter", "k": "4", "where": ["kind=image"]},
    )
    assert response.status_code == 200
    local = run_query(
        index,
        ["with snow", "+", "0.5:winter"],
        image=photo_dir / "img0.jpg",
        k=4,
        filters=["kind=image"],
    )
    hits = response.json()["hits"]
    assert [(h["id"], h["score"]) for h in hits] == [(h.id, round(h.score, 6)) for h in local.hits]
    assert [p["text"] for p in hits[0]["parts"]] == ["with snow", "winter"]
    assert hits[0]["parts"][0]["image"] == "upload:q.jpg"


def test_item_similar_and_its_metadata(client, index):
    first = index.get(1)
    body = client.get("/api/items/1").json()
    assert {k: v for k, v in body.items() if k != "links"} == first.to_dict()
    assert body["links"]["thumbnail"].startswith("/api/items/1/thumbnail")
    similar = client.get("/api/items/1/similar", params={"k": 3}).json()
    assert similar["item"]["id"] == 1
    assert 1 not in [h["id"] for h in similar["hits"]]
    assert [h["rank"] for h in similar["hits"]] == [1, 2, 3]


def test_duplicates_name_the_file_the_engine_keeps(tmp_path, photo_dir):
    shutil.copy(photo_dir / "img1.jpg", photo_dir / "sub" / "copy-of-img1.jpg")
    idx = Index.create(tmp_path / "dupes", encoder=HashEncoder())
    idx.ingest(photo_dir)
    from fastapi.testclient import TestClient

    with TestClient(create_app(ServerState([idx]))) as client:
        body = client.get("/api/duplicates", params={"threshold": 0.99}).json()
    groups = find_duplicates(idx, threshold=0.99)
    assert [[h["id"] for h in g["items"]] for g in body["groups"]] == [
        [h.id for h in g] for g in groups
    ]
    (group,) = body["groups"]
    assert [h["path"] for h in group["items"]] == ["img1.jpg", "sub/copy-of-img1.jpg"]
    assert group["keep"] == group["items"][0]["id"]


def test_classify_and_rank(client, index, photo_dir):
    body = client.post("/api/classify", json={"labels": ["cat", "dog"], "where": ["kind=image"]})
    assert body.status_code == 200
    items = body.json()["items"]
    assert len(items) == 6 and {i["label"] for i in items} <= {"cat", "dog"}
    data = (photo_dir / "img0.jpg").read_bytes()
    ranked = client.post(
        "/api/rank",
        files={"image": ("a.jpg", data, "image/jpeg")},
        data={"question": "What is it?", "answers": ["cat", "dog", "car"]},
    ).json()["answers"]
    by_item = client.post(
        "/api/rank", data={"question": "What is it?", "answers": ["cat", "dog", "car"], "item": "1"}
    ).json()["answers"]
    assert ranked == by_item  # item 1 is img0.jpg: the same pixels, the same ranking
    assert sorted(a["label"] for a in ranked) == ["car", "cat", "dog"]


def test_thumbnails_are_cached_by_content_hash_with_caching_headers(client, index):
    hit = index.get(1)
    response = client.get("/api/items/1/thumbnail")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{hit.metadata["content_hash"]}-256"'
    assert "max-age" in response.headers["cache-control"]
    cached = index.folder / "thumbnails" / f"{hit.metadata['content_hash']}-256.jpg"
    assert cached.read_bytes() == response.content
    again = client.get(
        "/api/items/1/thumbnail", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    small = client.get("/api/items/1/thumbnail", params={"size": 128})
    assert small.status_code == 200 and small.headers["etag"].endswith('-128"')
    assert client.get("/api/items/1/thumbnail", params={"size": 1000}).status_code == 400


def test_a_thumbnail_follows_the_exif_orientation(tmp_path):
    folder = tmp_path / "exif"
    image = Image.new("RGB", (60, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    folder.mkdir()
    image.save(folder / "rotated.jpg", exif=exif)
    idx = Index.create(tmp_path / "exif-idx", encoder=HashEncoder())
    idx.ingest(folder)
    from fastapi.testclient import TestClient

    with TestClient(create_app(ServerState([idx]))) as client:
        data = client.get("/api/items/1/thumbnail").content
    import io

    assert Image.open(io.BytesIO(data)).size == (20, 60)


def test_the_file_route_serves_the_items_own_file(client, photo_dir):
    response = client.get("/api/items/1/file")
    assert response.status_code == 200
    assert response.content == (photo_dir / "img0.jpg").read_bytes()
    assert response.headers["content-type"] == "image/jpeg"
    text_id = next(
        h["id"]
        for h in client.get("/api/search", params={"q": "x", "k": 7}).json()["hits"]
        if h["kind"] == "text"
    )
    text = client.get(f"/api/items/{text_id}/file")
    assert text.text.startswith("Shopping list") and text.headers["content-type"].startswith(
        "text/plain"
    )
    assert client.get(f"/api/items/{text_id}/thumbnail").status_code == 404


def test_info_indexes_and_resync(client, index, photo_dir):
    info = client.get("/api/info").json()
    assert info["items"] == 7 and info["name"] == "idx" and info["resync"]["state"] == "idle"
    assert client.get("/api/indexes").json()["indexes"][0]["items"] == 7
    write_image(photo_dir / "new.png", seed=99)
    started = client.post("/api/resync")
    assert started.status_code == 202 and started.json()["started_now"] is True
    job = _wait_for_resync(client)
    assert job["state"] == "done", job
    assert job["report"]["added"] == 1 and job["total"] == job["done"] == 1
    assert client.get("/api/info").json()["items"] == 8


def test_a_failed_resync_reports_why_and_the_server_keeps_serving(client, photo_dir):
    photo_dir.rename(photo_dir.with_name("moved-away"))
    assert client.post("/api/resync").status_code == 202
    job = _wait_for_resync(client)
    assert job["state"] == "failed" and "does not exist" in job["error"], job
    assert client.get("/api/search", params={"q": "notes", "k": 2}).status_code == 200


def _wait_for_resync(client):
    import time

    for _ in range(3000):  # a bound, not a timing assertion: the job normally ends at once
        job = client.get("/api/resync").json()
        if job["state"] != "running":
            return job
        time.sleep(0.01)
    raise AssertionError(f"the re-sync did not end: {job}")


def test_two_indexes_by_name_and_by_folder(tmp_path, index, photo_dir):
    other = Index.create(tmp_path / "other" / "idx", encoder=HashEncoder())
    other.ingest(photo_dir / "sub")
    from fastapi.testclient import TestClient

    with TestClient(create_app(ServerState([index, other]))) as client:
        names = [i["name"] for i in client.get("/api/indexes").json()["indexes"]]
        assert names == ["idx", "idx-2"]
        by_name = client.get("/api/info", params={"index": "idx-2"}).json()
        by_folder = client.get("/api/info", params={"index": str(other.folder.resolve())}).json()
        assert by_name["items"] == by_folder["items"] == 2
        missing = client.get("/api/info", params={"index": "nope"})
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
