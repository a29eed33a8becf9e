// A self-contained reader of /openapi.json (the stock Swagger UI needs a CDN).
"use strict";

function schemaText(schema) {
  if (!schema) return "";
  if (schema.anyOf) return schema.anyOf.map(schemaText).join(" | ");
  if (schema.type === "array") return `${schemaText(schema.items)}[]`;
  if (schema.format === "binary") return "file";
  if (schema.$ref) return schema.$ref.split("/").pop();
  return schema.type || "";
}

function bodyRows(spec, type, schema) {
  const name = schema.$ref ? schema.$ref.split("/").pop() : null;
  const fields = name ? spec.components?.schemas?.[name]?.properties : null;
  if (!fields) return [`<tr><td><em>body</em></td><td>${type}</td><td>${schemaText(schema)}</td><td></td></tr>`];
  return Object.entries(fields).map(([field, f]) =>
    `<tr><td><code>${field}</code></td><td>body (${type})</td><td>${schemaText(f)}</td>` +
    `<td>${f.description || ""}</td></tr>`);
}

function describe(spec, op) {
  const node = document.createElement("div");
  const rows = (op.parameters || []).map((p) =>
    `<tr><td><code>${p.name}</code></td><td>${p.in}</td><td>${schemaText(p.schema)}</td>` +
    `<td>${p.description || ""}</td></tr>`);
  const body = op.requestBody?.content;
  if (body) {
    const [type, content] = Object.entries(body)[0];
    rows.push(...bodyRows(spec, type, content.schema));
  }
  node.innerHTML = rows.length ? `<table class="params"><tr><th>name</th><th>in</th>` +
    `<th>type</th><th></th></tr>${rows.join("")}</table>` : "";
  return node;
}

document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("routes");
  const spec = await (await fetch("/openapi.json", { credentials: "same-origin" })).json();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = document.createElement("section");
      section.className = "route";
      const title = document.createElement("h3");
      title.innerHTML = `<span class="method ${method}">${method.toUpperCase()}</span> <code></code>`;
      title.querySelector("code").textContent = path;
      const text = document.createElement("p");
      text.textContent = op.description || op.summary || "";
      section.append(title, text, describe(spec, op));
      box.append(section);
    }
  }
});
