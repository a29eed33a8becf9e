// The search page: query box, image drop, filter chips, the grid, the detail view.
"use strict";

const page = {
  kind: "", image: null, similarTo: null, offset: 0, k: 40, lastParams: null,
  $: (id) => document.getElementById(id),
};

function filters() {
  const where = [];
  if (page.kind) where.push(`kind=${page.kind}`);
  const folder = page.$("folder").value.trim();
  if (folder) where.push(`folder=${folder}`);
  if (page.$("date-from").value) where.push(`date>=${page.$("date-from").value}`);
  if (page.$("date-to").value) where.push(`date<=${page.$("date-to").value}`);
  return where;
}

function showActiveFilters() {
  const box = page.$("active-filters");
  box.replaceChildren();
  const clear = { folder: () => { page.$("folder").value = ""; },
    "date>": () => { page.$("date-from").value = ""; },
    "date<": () => { page.$("date-to").value = ""; } };
  for (const condition of filters().filter((c) => !c.startsWith("kind="))) {
    const chip = vs.el("button", { type: "button", class: "chip removable",
      textContent: `${condition} ×` });
    const key = Object.keys(clear).find((k) => condition.startsWith(k));
    chip.addEventListener("click", () => { clear[key](); run(); });
    box.append(chip);
  }
}

async function fetchHits(offset) {
  const minScore = page.$("min-score").value;
  const common = { k: page.k, offset, where: filters(), min_score: minScore };
  const q = page.$("q").value.trim();
  if (page.similarTo !== null) {
    return vs.api(`/api/items/${page.similarTo.id}/similar`, { ...common, k: page.k + offset })
      .then((body) => ({ ...body, hits: body.hits.slice(offset) }));
  }
  if (page.image) {
    const form = new FormData();
    form.append("image", page.image);
    if (q) form.append("q", q);
    for (const [key, value] of Object.entries(common)) {
      if (Array.isArray(value)) value.forEach((v) => form.append(key, v));
      else if (value !== "") form.append(key, value);
    }
    return vs.api("/api/search", {}, { method: "POST", body: form });
  }
  return vs.api("/api/search", { q, ...common });
}

async function run(append = false) {
  showActiveFilters();
  const q = page.$("q").value.trim();
  if (!q && !page.image && page.similarTo === null) {
    page.$("status").textContent = "Type a query or drop an image.";
    return;
  }
  page.offset = append ? page.offset + page.k : 0;
  page.$("status").textContent = "Searching…";
  const started = performance.now();
  try {
    const body = await fetchHits(page.offset);
    const grid = page.$("grid");
    if (!append) grid.replaceChildren();
    for (const hit of body.hits) grid.append(vs.card(hit, openDetail));
    const ms = Math.round(performance.now() - started);
    const what = page.similarTo ? `like ${vs.name(page.similarTo.path)}` :
      [q && `“${q}”`, page.image && `image ${page.image.name}`].filter(Boolean).join(" + ");
    const shown = grid.children.length;
    page.$("status").textContent = shown ? `${shown} results for ${what} · ${ms} ms` :
      `No results for ${what}: nothing passed the filters and the minimum score.`;
    page.$("more").hidden = body.hits.length < page.k;
  } catch (error) {
    page.$("status").textContent = `Error: ${error.message}`;
  }
}

function setImage(file) {
  page.image = file;
  page.similarTo = null;
  page.$("drop-label").textContent = file ? `${file.name} ×` : "+ image";
  page.$("drop").classList.toggle("has-image", Boolean(file));
}

function openDetail(hit) {
  const media = page.$("detail-media");
  media.replaceChildren(hit.kind === "image"
    ? vs.el("img", { src: vs.thumb(hit.id, 512), alt: hit.path })
    : vs.el("pre", { textContent: hit.text || "" }));
  page.$("detail-title").textContent = hit.path;
  const rows = [["score", hit.score?.toFixed(4)], ["kind", hit.kind], ["size", vs.size(hit.size)],
    ["dimensions", hit.width ? `${hit.width} × ${hit.height}` : null], ["date", vs.date(hit)],
    ["camera", [hit.camera_make, hit.camera_model].filter(Boolean).join(" ") || null],
    ["location", hit.gps_lat ? `${hit.gps_lat.toFixed(5)}, ${hit.gps_lon.toFixed(5)}` : null],
    ["id", hit.id], ["file", hit.abspath]];
  page.$("detail-meta").replaceChildren(...rows.filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => vs.el("tr", {}, vs.el("th", { textContent: k }),
      vs.el("td", { textContent: String(v) }))));
  page.$("detail-open").href = vs.url(`/api/items/${hit.id}/file`);
  page.$("detail-similar").onclick = () => {
    closeDetail();
    page.similarTo = hit;
    setImage(null);
    page.similarTo = hit;
    run();
  };
  page.$("detail").hidden = false;
}

function closeDetail() {
  page.$("detail").hidden = true;
}

function wire() {
  page.$("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    page.similarTo = null;
    run();
  });
  const drop = page.$("drop");
  drop.addEventListener("click", (e) => {
    if (page.image) { e.preventDefault(); setImage(null); }
  });
  page.$("image").addEventListener("change", (e) => { setImage(e.target.files[0]); run(); });
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file && file.type.startsWith("image/")) { setImage(file); run(); }
  });
  for (const chip of page.$("kind-chips").children) {
    chip.addEventListener("click", () => {
      page.kind = chip.dataset.kind;
      for (const other of page.$("kind-chips").children) other.classList.toggle("active", other === chip);
      run();
    });
  }
  for (const id of ["folder", "date-from", "date-to", "min-score"]) {
    page.$(id).addEventListener("change", () => run());
  }
  page.$("more").addEventListener("click", () => run(true));
  page.$("detail-close").addEventListener("click", closeDetail);
  page.$("detail").addEventListener("click", (e) => { if (e.target === page.$("detail")) closeDetail(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDetail(); });
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  const params = new URLSearchParams(location.search);
  if (params.get("q")) page.$("q").value = params.get("q");
  try {
    const info = await vs.pickIndex(() => run());
    page.$("q").placeholder = `Search ${info.items} items of ${info.name}: a red bicycle, 2:beach - people …`;
  } catch (error) {
    page.$("status").textContent = `Error: ${error.message}`;
    return;
  }
  if (page.$("q").value) run();
});
