// An executed notebook shown without running any of it: the student's HTML, SVG,
// JavaScript and markdown links are rendered as text, figures as <img> from base64 data
// (an image cannot run script). Nothing here uses innerHTML.

import { h } from "./dom.js";

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];
const MAX_TEXT = 20_000; // per output: a runaway print loop must not freeze the page

function text(value) {
  const joined = Array.isArray(value) ? value.join("") : String(value ?? "");
  const clean = joined.replace(ANSI, "");
  return clean.length > MAX_TEXT
    ? `${clean.slice(0, MAX_TEXT)}\n… (${clean.length - MAX_TEXT} more characters not shown)`
    : clean;
}

const MAX_IMAGE = 8 * 1024 * 1024; // base64 characters

export function imageSource(mime, data) {
  const payload = (Array.isArray(data) ? data.join("") : String(data ?? "")).trim();
  if (!RASTER.includes(mime) || payload.length > MAX_IMAGE || !BASE64.test(payload)) return null;
  return `data:${mime};base64,${payload.replace(/\s/g, "")}`;
}

function figure(mime, data) {
  const src = imageSource(mime, data);
  return src ? h("img", { class: "nb-figure", src, alt: "figure from the notebook" }) : null;
}

function richOutput(data) {
  for (const mime of RASTER) {
    if (data[mime]) {
      const img = figure(mime, data[mime]);
      if (img) return img;
    }
  }
  if (data["text/plain"] !== undefined) return h("pre", { class: "nb-out" }, text(data["text/plain"]));
  for (const mime of ["text/html", "image/svg+xml", "application/javascript", "text/markdown", "text/latex"]) {
    if (data[mime] !== undefined) {
      return h("div", { class: "nb-inert" },
        h("span", { class: "nb-inert-label" }, `${mime} output, shown as text`),
        h("pre", { class: "nb-out" }, text(data[mime])));
    }
  }
  return h("pre", { class: "nb-out muted" }, `(output of type ${Object.keys(data).join(", ")} not shown)`);
}

function output(out) {
  switch (out.output_type) {
    case "stream":
      return h("pre", { class: `nb-out nb-${out.name === "stderr" ? "stderr" : "stdout"}` }, text(out.text));
    case "execute_result":
    case "display_data":
      return richOutput(out.data || {});
    case "error":
      return h("pre", { class: "nb-out nb-error" },
        `${text(out.ename)}: ${text(out.evalue)}\n${text((out.traceback || []).join("\n"))}`);
    default:
      return null;
  }
}

const LINK = /\[([^\]]*)\]\(([^)\s]*)\)/g;

// Markdown, safely: headings and paragraphs as text; only http(s) links become links.
function inline(line) {
  const parts = [];
  let last = 0;
  for (const match of line.matchAll(LINK)) {
    parts.push(line.slice(last, match.index));
    const [whole, label, href] = match;
    let safe = null;
    try {
      const url = new URL(href, "https://invalid.example/");
      if ((url.protocol === "https:" || url.protocol === "http:") && /^https?:/i.test(href)) safe = url.href;
    } catch { /* not a URL */ }
    parts.push(safe
      ? h("a", { href: safe, rel: "noopener noreferrer nofollow", target: "_blank" }, label)
      : whole);
    last = match.index + whole.length;
  }
  parts.push(line.slice(last));
  return parts;
}

function markdown(source) {
  const box = h("div", { class: "nb-md" });
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) box.append(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
  };
  for (const line of text(source).split("\n")) {
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      box.append(h(`h${Math.min(6, heading[1].length + 2)}`, { class: "nb-heading" }, inline(heading[2])));
    } else if (!line.trim()) {
      flush();
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return box;
}

export function renderNotebook(notebook) {
  const cells = Array.isArray(notebook?.cells) ? notebook.cells : [];
  const images = [];
  const root = h("div", { class: "notebook" });
  cells.forEach((cell, index) => {
    if (cell.cell_type === "markdown") {
      root.append(h("section", { class: "nb-cell nb-markdown", dataset: { cell: index } }, markdown(cell.source)));
      return;
    }
    if (cell.cell_type !== "code") {
      root.append(h("section", { class: "nb-cell nb-raw" }, h("pre", {}, text(cell.source))));
      return;
    }
    const outs = (Array.isArray(cell.outputs) ? cell.outputs : []).map(output).filter(Boolean);
    for (const out of outs) if (out.tagName === "IMG") images.push({ cell: index, src: out.src });
    root.append(h("section", { class: "nb-cell nb-code", dataset: { cell: index } },
      h("div", { class: "nb-prompt" }, `In [${cell.execution_count ?? " "}]:`),
      h("pre", { class: "nb-source" }, text(cell.source)),
      outs.length ? h("div", { class: "nb-outputs" }, outs) : null));
  });
  return { element: root, images };
}
