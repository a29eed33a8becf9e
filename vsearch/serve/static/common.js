// Shared by the pages: the JSON API client, the index picker, small DOM helpers.
"use strict";

const vs = {
  index: new URLSearchParams(location.search).get("index") || "",

  url(path, params = {}) {
    const query = new URLSearchParams();
    if (vs.index) query.set("index", vs.index);
    for (const [key, value] of Object.entries(params)) {
      if (Array.isArray(value)) value.forEach((v) => query.append(key, v));
      else if (value !== null && value !== undefined && value !== "") query.set(key, value);
    }
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  },

  async api(path, params = {}, init = {}) {
    const response = await fetch(vs.url(path, params), { credentials: "same-origin", ...init });
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  },

  thumb(id, size = 256) {
    return vs.url(`/api/items/${id}/thumbnail`, { size });
  },

  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  },

  name(path) {
    return path.split("/").pop();
  },

  size(bytes) {
    const units = ["B", "KB", "MB", "GB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} B`;
  },

  date(hit) {
    const when = hit.taken_at || new Date(hit.mtime * 1000).toISOString();
    return when.slice(0, 10);
  },

  async pickIndex(onChange) {
    const select = document.getElementById("index-select");
    const { indexes } = await vs.api("/api/indexes");
    if (!vs.index && indexes.length) vs.index = indexes[0].name;
    if (indexes.length > 1) {
      select.hidden = false;
      for (const info of indexes) {
        select.append(vs.el("option", { value: info.name, textContent: info.name,
          selected: info.name === vs.index }));
      }
      select.addEventListener("change", () => { vs.index = select.value; onChange(); });
    }
    return indexes.find((i) => i.name === vs.index) || indexes[0];
  },

  card(hit, onOpen) {
    const card = vs.el("figure", { class: `card ${hit.kind}`, "data-id": hit.id,
      "data-path": hit.path, tabIndex: 0, title: hit.path });
    if (hit.kind === "image") {
      card.append(vs.el("img", { src: vs.thumb(hit.id), alt: hit.path, loading: "lazy" }));
    } else {
      card.append(vs.el("div", { class: "text-preview", textContent: hit.text || hit.path }));
    }
    const caption = vs.el("figcaption", {},
      vs.el("span", { class: "name", textContent: vs.name(hit.path) }));
    if (hit.score !== undefined) {
      caption.append(vs.el("span", { class: "score", textContent: hit.score.toFixed(3) }));
    }
    card.append(caption);
    if (onOpen) {
      card.addEventListener("click", () => onOpen(hit));
      card.addEventListener("keydown", (e) => { if (e.key === "Enter") onOpen(hit); });
    }
    return card;
  },
};
