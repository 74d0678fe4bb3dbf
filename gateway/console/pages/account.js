// The account: take everything out as one zip, restore such a zip (or one prompt's json export)
// into this account, and erase the account everywhere after a confirmation that names what goes.

import { api, download, request } from "../api.js";
import { formatBytes, h, replace } from "../dom.js";
import { runExport } from "../exportpanel.js";
import { announce } from "../status.js";

const RUNNING = new Set(["queued", "processing"]);
const POLL_MS = 500;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET `path` until its status is no longer queued or processing; `onProgress` sees each state. */
async function untilDone(path, onProgress) {
  let job = await api(path);
  while (RUNNING.has(job.status)) {
    onProgress(job);
    await pause(POLL_MS);
    job = await api(path);
  }
  return job;
}

function section(id, title, ...children) {
  return h("section", { "aria-labelledby": `${id}-title`, id }, h("h2", { id: `${id}-title` }, title), ...children);
}

function takeout() {
  const status = h("p", { id: "takeout-status", role: "status" });
  const button = h("button", { type: "button", id: "takeout-button" }, "Take out everything");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { job } = await runExport("account", "zip", (running) => replace(status, `Preparing: ${running.status}…`));
      const saved = await download(`/api/v1/exports/${encodeURIComponent(job.id)}/content`, job.filename || "takeout.zip");
      replace(status, `Downloaded ${saved.name} (${formatBytes(saved.size)}).`);
      announce("Takeout downloaded.");
    } catch (error) {
      replace(status, h("span", { class: "error" }, `Takeout failed: ${error.message}`));
    } finally {
      button.disabled = false;
    }
  });
  return section(
    "takeout",
    "Take out",
    h("p", {}, "One zip with every prompt, feedback, security scan, chat file and artifact, and a manifest of their checksums."),
    button,
    status,
  );
}

function restoreResult(job) {
  const counts = Object.entries(job.counts || {}).map(([kind, n]) => `${n} ${kind.replace("_", " ")}`).join(", ");
  const errors = (job.errors || []).map((e) => h("li", {}, `${e.path}: ${e.message}`));
  return [
    h("p", {}, `Restore ${job.status}${counts ? `: ${counts}` : ""}${job.skipped ? `, ${job.skipped} already there` : ""}.`),
    errors.length ? h("ul", { class: "error", "aria-label": "Restore errors" }, errors) : null,
  ];
}

function restore() {
  const status = h("div", { id: "restore-status", role: "status" });
  const input = h("input", { type: "file", id: "restore-file", accept: ".zip,.json,application/zip,application/json" });
  const form = h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const file = input.files[0];
        if (!file) return;
        const json = file.name.endsWith(".json") || file.type === "application/json";
        replace(status, `Uploading ${file.name}…`);
        try {
          const response = await request("/api/v1/imports", {
            method: "POST",
            body: file,
            headers: { "Content-Type": json ? "application/json" : "application/zip" },
          });
          const started = await response.json();
          const job = await untilDone(`/api/v1/imports/${encodeURIComponent(started.id)}`, (running) =>
            replace(status, `Restoring: ${running.status}…`),
          );
          replace(status, ...restoreResult(job));
          announce(`Restore ${job.status}.`);
        } catch (error) {
          replace(status, h("p", { class: "error" }, `Restore failed: ${error.message}`));
        }
      },
    },
    h("label", { for: "restore-file" }, "Takeout zip or prompt export"),
    input,
    h("button", { type: "submit" }, "Restore"),
  );
  return section("restore", "Restore", h("p", {}, "Restoring the same archive twice changes nothing."), form, status);
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What erasing removes, in words: the confirmation names every kind that has something. */
export function whatGoes(counts) {
  const parts = [
    [counts.prompts, "prompt"],
    [counts.feedback, "feedback record"],
    [counts.security_scans, "security scan"],
    [counts.chats, "chat"],
    [counts.files, "file"],
    [counts.artifacts, "artifact"],
    [counts.exports, "export"],
    [counts.share_links, "share link"],
  ]
    .filter(([n]) => n)
    .map(([n, one]) => plural(n, one));
  const bytes = counts.file_bytes ? ` (${formatBytes(counts.file_bytes)} of files)` : "";
  return parts.length ? `${parts.join(", ")}${bytes}` : "nothing: the account holds no data";
}

function erase(account) {
  const status = h("div", { id: "erase-status", role: "status" });
  const confirmButton = h("button", { type: "button", class: "danger", id: "erase-confirm" }, "Erase everything");
  const cancel = h("button", { type: "button", id: "erase-cancel" }, "Cancel");
  const dialog = h(
    "dialog",
    { id: "erase-dialog", "aria-labelledby": "erase-dialog-title" },
    h("h2", { id: "erase-dialog-title" }, "Erase this account?"),
    h("p", { id: "erase-what" }, `This permanently deletes ${whatGoes(account.counts)}, in every service. It cannot be undone.`),
    h("p", {}, "Take out your data first if you want to keep it."),
    h("div", { class: "actions" }, confirmButton, cancel),
  );
  cancel.addEventListener("click", () => dialog.close());
  confirmButton.addEventListener("click", async () => {
    dialog.close();
    try {
      const started = await api("/api/v1/account", { method: "DELETE" });
      const path = `/api/v1/account/erasures/${encodeURIComponent(started.id)}`;
      const show = (job) =>
        replace(
          status,
          h("p", {}, `Erasure ${job.status}: `, job.steps.map((s) => `${s.service} ${s.done ? "done" : "…"}`).join(", ")),
        );
      const done = await untilDone(path, show);
      replace(
        status,
        h("p", { id: "erase-done" }, `Erased. Nothing of the account is left. Erasure id ${done.id} (it names nobody; keep it to check later).`),
      );
      announce("The account is erased.");
    } catch (error) {
      replace(status, h("p", { class: "error" }, `Erasure failed: ${error.message}`));
    }
  });
  const open = h("button", { type: "button", class: "danger", id: "erase-button" }, "Erase account…");
  open.addEventListener("click", () => dialog.showModal());
  return section(
    "erase",
    "Erase",
    h("p", {}, `Signed in as ${account.user_id}. Holds ${whatGoes(account.counts)}.`),
    open,
    dialog,
    status,
  );
}

export async function accountPage() {
  const account = await api("/api/v1/account");
  return [h("h1", {}, "Account"), takeout(), restore(), erase(account)];
}
