// The duplicates page: groups side by side, the one the engine keeps marked.
"use strict";

async function findDuplicates() {
  const status = document.getElementById("status");
  const box = document.getElementById("groups");
  const threshold = document.getElementById("threshold").value || "0.95";
  status.textContent = "Looking for near-duplicates…";
  try {
    const body = await vs.api("/api/duplicates", { threshold });
    box.replaceChildren();
    for (const group of body.groups) {
      const row = vs.el("section", { class: "group", "data-group": group.group });
      row.append(vs.el("h3", { textContent: `Group ${group.group} · ${group.items.length} items` }));
      const items = vs.el("div", { class: "group-items" });
      for (const hit of group.items) {
        const card = vs.card(hit, () => window.open(vs.url(`/api/items/${hit.id}/file`), "_blank"));
        const keep = hit.id === group.keep;
        card.classList.add(keep ? "keep" : "dupe");
        card.prepend(vs.el("span", { class: "badge", textContent: keep ? "keep" : "duplicate" }));
        items.append(card);
      }
      row.append(items);
      box.append(row);
    }
    const count = body.groups.reduce((n, g) => n + g.items.length - 1, 0);
    status.textContent = body.groups.length
      ? `${body.groups.length} group${body.groups.length > 1 ? "s" : ""}; ${count} ` +
        `file${count > 1 ? "s" : ""} would go (vsearch dupes --paths lists them), ` +
        "the first by path in each group stays."
      : `No duplicates at similarity ≥ ${threshold}.`;
  } catch (error) {
    status.textContent = `Error: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("dupes-form").addEventListener("submit", (e) => {
    e.preventDefault();
    findDuplicates();
  });
  try {
    await vs.pickIndex(findDuplicates);
  } catch (error) {
    document.getElementById("status").textContent = `Error: ${error.message}`;
    return;
  }
  findDuplicates();
});
