// Exporting a source: one button per format, a progress state while a job runs, the download when
// it is done, and the source's export history (sizes, cache hits, share links).

import { api, download, query, request } from "./api.js";
import { field, formatBytes, formatTime, h, replace, table } from "./dom.js";
import { announce } from "./status.js";

export const FORMATS = ["json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx"];
const DATA_FORMATS = ["jsonl", "parquet"]; // for pipelines: datasets only

/** The formats the server accepts for a source (services/exports/rules.py): a chat or the account is a
 * zip, datasets/fine-tune is jsonl alone, any other dataset also jsonl and parquet. */
export function formatsFor(source) {
  if (source.startsWith("chats/") || source === "account") return ["zip"];
  if (source === "datasets/fine-tune") return ["jsonl"];
  if (source.startsWith("datasets/")) return [...FORMATS, ...DATA_FORMATS];
  return FORMATS;
}
const RUNNING = new Set(["queued", "pending", "processing", "running"]);
const POLL_MS = 500;
// The server answers a wait as soon as the job ends; a short one brings progress every 2 s meanwhile.
const WAIT_SECONDS = 2;
const TICK_MS = 200;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** POST /exports, then, while the job runs (202), its status until it is done or failed. */
export async function runExport(source, format, onProgress, options = {}) {
  const response = await request("/api/v1/exports", { method: "POST", json: { source, format, options } });
  let job = await response.json();
  const reused = response.status === 200;
  const location = new URL(response.headers.get("Location") || `/api/v1/exports/${job.id}`, window.location.origin);
  while (RUNNING.has(job.status)) {
    onProgress(job);
    const started = Date.now();
    location.searchParams.set("wait", String(WAIT_SECONDS));
    job = await api(`${location.pathname}${location.search}`);
    const spent = Date.now() - started;
    if (spent < POLL_MS) await pause(POLL_MS - spent); // a server that ignores `wait` is not hammered
  }
  if (job.status === "failed") throw new Error(job.error || "the export failed");
  return { job, reused };
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function progressText(job, elapsedMs) {
  const rows = job.rows_rendered ?? 0;
  return `${job.status}: ${rows} rows rendered · ${seconds(elapsedMs)}`;
}

async function shareLink(job, cell) {
  const link = await api(`/api/v1/exports/${encodeURIComponent(job.id)}/links`, { method: "POST", json: { expires_in: 3600 } });
  const box = h("input", { type: "text", readonly: true, value: link.url, class: "share-url", "aria-label": `Share link for ${job.filename || job.format}` });
  const copy = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        box.select();
        try {
          await navigator.clipboard.writeText(link.url);
          announce("Link copied.");
        } catch {
          announce("Select the link and copy it.");
        }
      },
    },
    "Copy",
  );
  replace(cell, box, copy, h("small", {}, ` until ${formatTime(link.expires_at)}`));
  box.focus();
}

/** The export's share links with their downloads; each can be revoked. */
async function listLinks(job, cell) {
  const base = `/api/v1/exports/${encodeURIComponent(job.id)}/links`;
  const page = await api(`${base}?page_size=50`);
  const rows = page.items.map((link) =>
    h(
      "tr",
      {},
      h("td", {}, formatTime(link.created_at)),
      h("td", {}, link.revoked_at ? `revoked ${formatTime(link.revoked_at)}` : `until ${formatTime(link.expires_at)}`),
      h("td", { class: "num" }, link.download_count),
      h(
        "td",
        {},
        link.revoked_at
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: async () => {
                  await api(`${base}/${encodeURIComponent(link.id)}`, { method: "DELETE" });
                  announce("Link revoked.");
                  await listLinks(job, cell);
                },
              },
              "Revoke",
            ),
      ),
    ),
  );
  replace(
    cell,
    rows.length
      ? table(`Share links of ${job.filename || job.id}`, ["Created", "Valid", ["Downloads", "num"], "Revoke"], rows)
      : h("p", { class: "muted" }, "No share links yet."),
  );
}

// What a person calls a source: a prompt's text, an artifact's title. Asked once per source per tab.
const labels = new Map();
const excerpt = (text, length = 80) => (text.length > length ? `${text.slice(0, length)}…` : text);

async function fetchLabel(source) {
  const [kind, name] = [source.slice(0, source.indexOf("/")), source.slice(source.indexOf("/") + 1)];
  try {
    if (kind === "prompts") return `Prompt “${excerpt((await api(`/api/v1/prompts/${encodeURIComponent(name)}`)).original_text)}”`;
    if (kind === "artifacts") return `Artifact “${(await api(`/api/v1/artifacts/${encodeURIComponent(name)}`)).title}”`;
  } catch (error) {
    if (error.status === 404) return `${kind === "prompts" ? "Prompt" : "Artifact"} (deleted)`;
    throw error;
  }
  return kind === "datasets" ? `Dataset ${name}` : kind === "chats" ? `Chat ${name}` : source;
}

function sourceLabel(source) {
  if (!labels.has(source)) labels.set(source, fetchLabel(source).catch(() => source));
  return labels.get(source);
}

/** The options of an export as words: safe and raw CSV, all versions or the best one, every user's data. */
export function optionsText(options = {}) {
  const words = [];
  const order = ["csv_mode", "include_workflow", "all_users"];
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  const entries = Object.entries(options).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  for (const [name, value] of entries) {
    if (name === "csv_mode") words.push(`${value} CSV`);
    else if (name === "include_workflow") words.push(value ? "all versions" : "best version only");
    else if (name === "all_users") words.push(value ? "every user" : "own data");
    else words.push(`${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  return words.join(", ") || "—";
}

function historyRow(job, refresh) {
  const actions = h("div");
  const links = h("div", { class: "links" });
  const failed = (e) => announce(e.message, "error");
  if (job.status === "completed") {
    const content = `/api/v1/exports/${encodeURIComponent(job.id)}/content`;
    const name = job.filename || `${job.format} export`;
    actions.append(
      h("button", { type: "button", "aria-label": `Download ${name}`, onclick: () => download(content, job.filename).then(refresh).catch(failed) }, "Download"),
      h("button", { type: "button", "aria-label": `Share link for ${name}`, onclick: () => shareLink(job, links).catch(failed) }, "Share link"),
      h("button", { type: "button", "aria-label": `Links of ${name}`, onclick: () => listLinks(job, links).catch(failed) }, "Links"),
    );
  }
  const source = h("td", { class: "wrap source", title: job.source }, job.source);
  sourceLabel(job.source).then((label) => replace(source, label));
  return h(
    "tr",
    { "data-export": job.id },
    h("td", {}, formatTime(job.created_at)),
    source,
    h("td", {}, job.format),
    h("td", { class: "options" }, optionsText(job.options)),
    h("td", {}, job.error ? `${job.status}: ${job.error}` : job.status),
    h("td", { class: "num" }, formatBytes(job.size_bytes)),
    h("td", { class: "num" }, job.cache_hits ?? 0),
    h("td", { class: "num" }, job.download_count ?? 0),
    h("td", { class: "actions" }, actions, links),
  );
}

const HISTORY_HEADERS = ["Created", "Source", "Format", "Options", "Status", ["Size", "num"], ["Cache hits", "num"], ["Downloads", "num"], "Actions"];

/** The caller's exports (of one source, or all), newest first, with a "more" button. */
export function exportHistory(source, caption = "Export history") {
  const wrapper = h("div", { class: "history" });
  let next = "";
  const more = h("button", { type: "button", hidden: true }, "More exports");
  const view = table(caption, HISTORY_HEADERS, [], { class: "export-history" });
  const body = view.querySelector("tbody");
  async function load(reset) {
    if (reset) {
      next = "";
      body.replaceChildren();
    }
    const page = await api(`/api/v1/exports${query({ source, page_size: 20, page_token: next })}`);
    body.append(...page.items.map((job) => historyRow(job, () => load(true))));
    next = page.next_page_token;
    more.hidden = !next;
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: HISTORY_HEADERS.length }, "No exports yet.")));
  }
  more.addEventListener("click", () => load(false).catch((e) => announce(e.message, "error")));
  wrapper.append(view, more);
  load(true).catch((e) => replace(wrapper, h("p", { class: "error" }, e.message)));
  return { element: wrapper, refresh: () => load(true) };
}

/** datasets/fine-tune's options (README, Data for pipelines) as a form; read() gives those a person set. */
function fineTuneOptions() {
  const shape = h("select", { name: "shape" }, ["chat", "preference"].map((v) => h("option", { value: v }, v)));
  const minTotal = h("input", { type: "number", name: "min_total", min: 0, max: 50, step: "any", value: 0 });
  const agents = h("input", { type: "text", name: "agents", placeholder: "all agents" });
  const preferred = h("input", { type: "checkbox", name: "preferred_only" });
  const best = h("input", { type: "checkbox", name: "best_only" });
  const element = h(
    "fieldset",
    { class: "export-options" },
    h("legend", {}, "Options"),
    field("Shape", shape, "chat: one conversation per version; preference: chosen and rejected per prompt"),
    field("Minimum total", minTotal, "0 to 50; 0 takes unscored versions too"),
    field("Agents", agents, "names separated by commas; empty: every agent"),
    field("Preferred agent only", preferred),
    field("Best version only", best),
  );
  function read() {
    const options = { shape: shape.value };
    if (Number(minTotal.value) > 0) options.min_total = Number(minTotal.value);
    if (preferred.checked) options.preferred_only = true;
    if (best.checked) options.best_only = true;
    const names = agents.value.split(",").map((a) => a.trim()).filter(Boolean);
    if (names.length) options.agents = names;
    return options;
  }
  return { element, read };
}

/** Buttons for every format of a source, the job's progress, its download, and its history. */
export function exportPanel(source, { formats = formatsFor(source), title = "Export", level = "h2" } = {}) {
  const choices = source === "datasets/fine-tune" ? fineTuneOptions() : null;
  const state = h("div", { class: "export-state", role: "status", "aria-live": "polite" });
  const history = exportHistory(source, `Exports of ${source}`);
  const buttons = formats.map((format) =>
    h("button", { type: "button", class: "format", "data-format": format, onclick: () => start(format) }, format.toUpperCase()),
  );
  async function start(format) {
    buttons.forEach((b) => (b.disabled = true));
    const started = Date.now();
    const bar = h("progress", { "aria-label": `Exporting ${format}` });
    const line = document.createTextNode(` Exporting ${format}…`);
    replace(state, bar, line);
    let current = null;
    // Elapsed time moves on between the server's answers; rows rendered change with each answer.
    const tick = setInterval(() => {
      if (current) line.data = ` ${progressText(current, Date.now() - started)}`;
    }, TICK_MS);
    try {
      const { job, reused } = await runExport(
        source,
        format,
        (j) => {
          current = j;
          line.data = ` ${progressText(j, Date.now() - started)}`;
        },
        choices ? choices.read() : {},
      );
      clearInterval(tick);
      const took = seconds(Date.now() - started);
      const link = h(
        "button",
        {
          type: "button",
          class: "primary download",
          "data-export": job.id,
          onclick: () => download(`/api/v1/exports/${encodeURIComponent(job.id)}/content`, job.filename).then(history.refresh),
        },
        `Download ${job.filename || format}`,
      );
      const rows = job.rows_rendered ? `${job.rows_rendered} rows, ` : "";
      const how = reused ? " (a stored rendering: cache hit)" : ` in ${took}`;
      replace(state, h("span", { class: "done" }, `Ready${how}: ${rows}${formatBytes(job.size_bytes)}. `), link);
      history.refresh();
    } catch (error) {
      replace(state, h("span", { class: "error" }, `Export failed: ${error.message}`));
    } finally {
      clearInterval(tick);
      buttons.forEach((b) => (b.disabled = false));
    }
  }
  return h(
    "section",
    { class: "export-panel", "aria-label": `${title}: ${source}` },
    h(level, {}, title),
    choices?.element,
    h("div", { class: "format-buttons", role: "group", "aria-label": "Formats" }, buttons),
    state,
    history.element,
  );
}
