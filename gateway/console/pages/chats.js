// Chat files: open a chat, upload by drag and drop (or the file picker), download, delete, edit
// text files, and export the chat's table artifacts.

import { api, download, query, request, session } from "../api.js";
import { field, formatBytes, formatTime, h, replace, table } from "../dom.js";
import { exportPanel } from "../exportpanel.js";
import { announce } from "../status.js";

const CHAT_ID = /^[A-Za-z0-9._-]{1,128}$/;
const TEXT_TYPES = /^(text\/|application\/(json|xml|yaml|x-yaml|javascript|x-ndjson)\b)|\+(json|xml)\b/;

const fileUrl = (chatId, name) => `/api/v1/chats/${encodeURIComponent(chatId)}/files/${encodeURIComponent(name)}`;

function chatRow(chat) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/chats/${encodeURIComponent(chat.chat_id)}`, class: "chat-link" }, chat.chat_id)),
    h("td", { class: "num" }, chat.file_count),
    h("td", { class: "num" }, chat.artifact_count),
    h("td", {}, formatTime(chat.updated_at)),
  );
}

function usageText(used, quota) {
  // Chat files count against the quota; artifacts do not.
  if (!quota) return `Your files take ${formatBytes(used)} (no storage limit).`;
  const share = Math.min(100, Math.round((used / quota) * 100));
  return `Your files take ${formatBytes(used)} of your ${formatBytes(quota)} quota (${share} %).`;
}

export async function chatsPage() {
  const input = h("input", { type: "text", name: "chat_id", pattern: "[A-Za-z0-9._\\-]{1,128}", required: true });
  const list = table("Your chats, most recently written first", ["Chat", ["Files", "num"], ["Artifacts", "num"], "Last written"], [], {
    id: "chat-table",
  });
  const body = list.querySelector("tbody");
  const more = h("button", { type: "button", hidden: true }, "More chats");
  const usage = h("p", { id: "storage-usage" });
  let next = "";
  async function load() {
    const page = await api(`/api/v1/chats${query({ page_size: 50, page_token: next })}`);
    replace(usage, usageText(page.used_bytes, page.quota_bytes));
    body.append(...page.items.map(chatRow));
    next = page.next_page_token;
    more.hidden = !next;
    return page.items.length;
  }
  more.addEventListener("click", load);
  const count = await load();
  return h(
    "div",
    {},
    h("h1", {}, "Chats"),
    usage,
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (event) => {
          event.preventDefault();
          location.hash = `#/chats/${encodeURIComponent(input.value.trim())}`;
        },
      },
      field("Chat id", input, "1–128 letters, digits, dots, dashes or underscores. Opening a new id starts an empty chat."),
      h("button", { type: "submit" }, "Open chat"),
    ),
    count === 0 ? h("p", { class: "empty" }, "No chats yet: open one by id and upload a file.") : list,
    more,
  );
}

async function upload(chatId, files, reload) {
  for (const file of files) {
    announce(`Uploading ${file.name}…`);
    try {
      const headers = file.type ? { "Content-Type": file.type } : {};
      const response = await request(fileUrl(chatId, file.name), { method: "PUT", body: file, headers });
      announce(`${response.status === 201 ? "Uploaded" : "Replaced"} ${file.name} (${formatBytes(file.size)}).`);
    } catch (error) {
      announce(`${file.name} not uploaded: ${error.message}`, "error");
    }
  }
  await reload();
}

function dropZone(chatId, reload) {
  const input = h("input", { type: "file", id: "file-input", name: "files", multiple: true });
  input.addEventListener("change", () => upload(chatId, [...input.files], reload).then(() => (input.value = "")));
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drop files here to upload them, or choose them:"),
    field("Upload files", input),
  );
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    upload(chatId, [...event.dataTransfer.files], reload);
  });
  return zone;
}

async function openEditor(chatId, file, editor, reload) {
  const response = await request(fileUrl(chatId, file.filename));
  const etag = response.headers.get("ETag");
  const area = h("textarea", { rows: "14", class: "editor", spellcheck: "false" });
  area.value = await response.text();
  const save = async () => {
    try {
      const headers = { "Content-Type": file.media_type || "text/plain", ...(etag ? { "If-Match": etag } : {}) };
      await request(fileUrl(chatId, file.filename), { method: "PUT", body: area.value, headers });
      announce(`Saved ${file.filename}.`);
      replace(editor);
      await reload();
    } catch (error) {
      announce(error.status === 412 ? `${file.filename} changed meanwhile: reload it before saving.` : error.message, "error");
    }
  };
  replace(
    editor,
    h("h2", {}, `Editing ${file.filename}`),
    field(`Contents of ${file.filename}`, area),
    h("div", { class: "buttons" }, h("button", { type: "button", class: "primary", onclick: save }, "Save"), h("button", { type: "button", onclick: () => replace(editor) }, "Cancel")),
  );
  area.focus();
}

function fileRow(chatId, file, editor, reload) {
  const actions = h(
    "div",
    {},
    h("button", { type: "button", "aria-label": `Download ${file.filename}`, onclick: () => download(fileUrl(chatId, file.filename), file.filename).catch((e) => announce(e.message, "error")) }, "Download"),
    TEXT_TYPES.test(file.media_type)
      ? h("button", { type: "button", "aria-label": `Edit ${file.filename}`, onclick: () => openEditor(chatId, file, editor, reload).catch((e) => announce(e.message, "error")) }, "Edit")
      : null,
    h(
      "button",
      {
        type: "button",
        class: "danger",
        "aria-label": `Delete ${file.filename}`,
        onclick: async () => {
          if (!window.confirm(`Delete ${file.filename}?`)) return;
          try {
            await request(fileUrl(chatId, file.filename), { method: "DELETE" });
            announce(`Deleted ${file.filename}.`);
            await reload();
          } catch (error) {
            announce(error.message, "error");
          }
        },
      },
      "Delete",
    ),
  );
  return h(
    "tr",
    { "data-filename": file.filename },
    h("td", { class: "filename wrap" }, file.filename),
    h("td", {}, file.media_type),
    h("td", { class: "num" }, formatBytes(file.size_bytes)),
    h("td", {}, formatTime(file.updated_at)),
    h("td", { class: "actions" }, actions),
  );
}

const PREVIEW_ROWS = 20;

/** An artifact's first rows as a table (cells as text), under its title and size. */
async function preview(artifact, panel) {
  const full = await api(`/api/v1/artifacts/${encodeURIComponent(artifact.id)}`);
  const rows = (full.rows || []).slice(0, PREVIEW_ROWS);
  const cell = (value) => (value === null || value === undefined ? "" : String(value));
  const shown = rows.length < full.row_count ? `first ${rows.length} of ${full.row_count} rows` : `${full.row_count} row${full.row_count === 1 ? "" : "s"}`;
  replace(
    panel,
    h("h3", {}, `Preview of “${full.title}”`),
    rows.length
      ? table(`${full.title}: ${shown}`, full.columns, rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, cell(v))))), { class: "artifact-preview" })
      : h("p", { class: "muted" }, "This artifact has no rows."),
  );
}

async function artifactsSection(chatId) {
  const page = await api(`/api/v1/chats/${encodeURIComponent(chatId)}/artifacts${query({ page_size: 100 })}`);
  const panel = h("div");
  const rows = page.items.map((a) =>
    h(
      "tr",
      {},
      h("td", {}, a.title),
      h("td", { class: "num" }, a.columns.length),
      h("td", { class: "num" }, a.row_count),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", "aria-label": `Preview ${a.title}`, onclick: () => preview(a, panel).catch((e) => announce(e.message, "error")) }, "Preview"),
        h("button", { type: "button", onclick: () => replace(panel, exportPanel(`artifacts/${a.id}`, { title: `Export “${a.title}”`, level: "h3" })) }, "Export…"),
      ),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "artifacts-title" },
    h("h2", { id: "artifacts-title" }, "Table artifacts"),
    rows.length ? table("Artifacts", ["Title", ["Columns", "num"], ["Rows", "num"], "Actions"], rows) : h("p", { class: "muted" }, "No artifacts in this chat."),
    panel,
  );
}

export async function chatPage(chatId) {
  if (!CHAT_ID.test(chatId)) throw new Error("A chat id is 1–128 letters, digits, dots, dashes or underscores.");
  const list = h("div", { id: "file-list" });
  const editor = h("div", { class: "editor-box" });
  async function reload() {
    const page = await api(`/api/v1/chats/${encodeURIComponent(chatId)}/files${query({ page_size: 1000 })}`);
    replace(
      list,
      page.items.length
        ? table("Files, newest first", ["Name", "Type", ["Size", "num"], "Updated", "Actions"], page.items.map((f) => fileRow(chatId, f, editor, reload)), { id: "file-table" })
        : h("p", { class: "muted" }, "No files in this chat yet."),
    );
  }
  await reload();
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/chats" }, "← Chats")),
    h("h1", {}, `Chat ${chatId}`),
    dropZone(chatId, reload),
    list,
    editor,
    await artifactsSection(chatId),
    exportPanel(`chats/${chatId}`, { formats: ["zip"], title: "Export the chat" }),
  );
}
