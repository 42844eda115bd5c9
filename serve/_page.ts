// The live page at / (internal): one self-contained document (HTML, CSS and
// plain JavaScript, no external asset, no build step) that follows /events
// with an EventSource. Everything the engines tell (names, labels) goes
// into the page as text, never as markup.

const STYLE = `
:root { color-scheme: light dark; --fg: #1d232a; --dim: #66707a; --bg: #fbfbfc;
  --card: #fff; --line: #dde1e6; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --dim: #98a1ab;
  --bg: #14171a; --card: #1c2024; --line: #2f353b; --ok: #3fb950; --warn: #d29922; --bad: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1em; align-items: baseline; padding: .8em 1.2em; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.15em; margin: 0; }
#status { color: var(--dim); }
#status.live { color: var(--ok); }
#status.down { color: var(--bad); }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(16em, 1fr); gap: 1.2em; padding: 1.2em; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
section.engine { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6em 1em; margin-bottom: 1em; }
section.engine > h2 { font-size: 1em; margin: .2em 0 .5em; }
.meta { color: var(--dim); font-weight: normal; margin-left: .6em; }
.state { font-weight: normal; margin-left: .6em; }
.state.ready { color: var(--ok); }
.state.failed, .state.resyncing { color: var(--bad); }
section.project h3 { font-size: .95em; margin: .6em 0 .2em; }
section.project[data-project=""] h3 { color: var(--dim); font-style: italic; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .15em .6em .15em 0; border-bottom: 1px solid var(--line); }
th { color: var(--dim); font-weight: normal; }
td.id, td.pid { font-family: ui-monospace, monospace; }
tr[data-paused="true"] td.paused { color: var(--warn); }
.empty { color: var(--dim); margin: .3em 0; }
aside h2 { font-size: 1em; margin: 0 0 .5em; }
#feed { list-style: none; margin: 0; padding: 0; max-height: 80vh; overflow-y: auto; font-size: .9em; }
#feed li { padding: .2em 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
#feed .t { color: var(--dim); font-family: ui-monospace, monospace; margin-right: .5em; }
#feed .k { display: inline-block; min-width: 6.5em; font-weight: 600; }
#feed [data-type=started] .k { color: var(--ok); }
#feed [data-type=exited] .k, #feed [data-type=engine-failed] .k, #feed [data-type=engine-removed] .k { color: var(--bad); }
#feed [data-type=paused] .k { color: var(--warn); }
#error { color: var(--bad); padding: 0 1.2em; }
`;

const SCRIPT = `
"use strict";
const FEED_MAX = 500;
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const $ = (id) => document.getElementById(id);
const enginesEl = $("engines"), feedEl = $("feed"), statusEl = $("status"), errorEl = $("error");
// key "type api" -> { type, api, version, pid, state, containers: Map(id -> container) }
let engines = new Map();
let source, renderTimer;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
function shortId(id) { return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id; }
function keyOf(e) { return e.type + " " + e.api; }
function byName(a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1; }

function render() {
  const sections = [];
  for (const e of engines.values()) {
    const head = el("h2", {}, e.type,
      el("span", { class: "meta" }, e.api + (e.version ? "  version " + e.version : "") + (e.pid ? "  PID " + e.pid : "")),
      el("span", { class: "state " + e.state }, e.state),
      el("span", { class: "meta" }, e.containers.size + (e.containers.size === 1 ? " container" : " containers")));
    const section = el("section", { class: "engine", "data-type": e.type, "data-api": e.api }, head);
    const projects = new Map();
    for (const c of e.containers.values()) {
      if (!projects.has(c.project)) projects.set(c.project, []);
      projects.get(c.project).push(c);
    }
    const names = [...projects.keys()].sort((a, b) => a === "" ? 1 : b === "" ? -1 : a < b ? -1 : a > b ? 1 : 0);
    if (names.length === 0) section.append(el("p", { class: "empty" }, "no alive containers"));
    for (const name of names) {
      const rows = projects.get(name).sort(byName).map((c) =>
        el("tr", { class: "container", "data-id": c.id, "data-name": c.name, "data-paused": String(c.paused) },
          el("td", { class: "name" }, c.name), el("td", { class: "id", title: c.id }, shortId(c.id)),
          el("td", { class: "pid" }, String(c.pid)), el("td", { class: "paused" }, c.paused ? "paused" : "running")));
      section.append(el("section", { class: "project", "data-project": name },
        el("h3", {}, name === "" ? "(no project)" : "project " + name),
        el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "ID"), el("th", {}, "PID"), el("th", {}, "state"))),
          el("tbody", {}, ...rows))));
    }
    sections.push(section);
  }
  if (sections.length === 0) sections.push(el("p", { class: "empty" }, "no container engine (yet)"));
  enginesEl.replaceChildren(...sections);
}

// Bursts of events make one render.
function scheduleRender() {
  if (renderTimer === undefined) renderTimer = setTimeout(() => { renderTimer = undefined; render(); }, 30);
}

function feed(type, id, text, time) {
  const t = time ? new Date(time).toLocaleTimeString() : "";
  feedEl.prepend(el("li", { class: "event", "data-type": type, "data-id": id },
    el("span", { class: "t" }, t), el("span", { class: "k" }, type), text));
  while (feedEl.childElementCount > FEED_MAX) feedEl.lastElementChild.remove();
}

function onSnapshot(doc) {
  engines = new Map();
  for (const e of doc.engines) {
    engines.set(keyOf(e), { ...e, containers: new Map(e.containers.map((c) => [c.id, c])) });
  }
  render();
}

function engineOf(ref) {
  let e = engines.get(keyOf(ref));
  if (!e) { e = { ...ref, state: "syncing", containers: new Map() }; engines.set(keyOf(ref), e); }
  e.pid = ref.pid; if (ref.version) e.version = ref.version;
  return e;
}

function onContainerEvent(type, d) {
  const e = engineOf(d.engine);
  if (type === "exited") e.containers.delete(d.id);
  else e.containers.set(d.id, { id: d.id, name: d.name, pid: d.pid, project: d.project, paused: d.paused, labels: d.labels });
  scheduleRender();
  feed(type, d.id, d.name + " " + shortId(d.id) + (d.project ? " (" + d.project + ")" : "") + " PID " + d.pid, d.time);
}

function onEngineEvent(type, d) {
  if (type === "engine-removed") engines.delete(keyOf(d.engine));
  else {
    const e = engineOf(d.engine);
    e.state = type === "engine-ready" ? "ready" : type === "engine-failed" ? "failed" : "syncing";
  }
  scheduleRender();
  feed(type, d.engine.api, d.engine.type + " " + d.engine.api + (d.error ? ": " + d.error : ""), d.time);
}

async function explain() {
  // EventSource hides the status of a refused connection: ask once more.
  try {
    const r = await fetch("events", { method: "HEAD", headers: token ? { authorization: "Bearer " + token } : {} });
    if (r.status === 401) return "not authorized: open this page as …/#token=YOUR_TOKEN";
    if (r.status === 503) return "the agent has too many /events clients; retrying";
    return r.ok ? "" : "the agent answered " + r.status;
  } catch { return "the agent does not answer; retrying"; }
}

function connect() {
  source = new EventSource(token ? "events?token=" + encodeURIComponent(token) : "events");
  source.addEventListener("open", () => {
    statusEl.textContent = "live"; statusEl.className = "live"; errorEl.textContent = "";
  });
  source.addEventListener("error", async () => {
    statusEl.textContent = "reconnecting…"; statusEl.className = "down";
    if (source.readyState === EventSource.CLOSED) {
      errorEl.textContent = await explain();
      setTimeout(connect, 3000);
    }
  });
  source.addEventListener("snapshot", (m) => onSnapshot(JSON.parse(m.data)));
  for (const type of ["started", "exited", "paused", "unpaused"]) {
    source.addEventListener(type, (m) => onContainerEvent(type, JSON.parse(m.data)));
  }
  for (const type of ["engine-added", "engine-ready", "engine-failed", "engine-removed"]) {
    source.addEventListener(type, (m) => onEngineEvent(type, JSON.parse(m.data)));
  }
}
connect();
`;

const BODY =
  `<header><h1>whalewatcher</h1><span id="status">connecting…</span></header>
<p id="error" role="alert"></p>
<main>
<div id="engines"><p class="empty">waiting for the first snapshot…</p></div>
<aside><h2>events</h2><ol id="feed" reversed></ol></aside>
</main>`;

/** The page. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whalewatcher</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * The page's Content-Security-Policy: its own inline style and script (by
 * hash) and connections to this origin, nothing else.
 */
export async function pageCsp(): Promise<string> {
  return [
    "default-src 'none'",
    `style-src 'sha256-${await sha256(STYLE)}'`,
    `script-src 'sha256-${await sha256(SCRIPT)}'`,
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
