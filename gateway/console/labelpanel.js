// A prompt's labels (move one, see its history, roll it back) and a diff of two versions side by
// side with the score change: the prompt page's deploy pointers.

import { api, query } from "./api.js";
import { signed } from "./charts.js";
import { field, formatTime, h, replace, table } from "./dom.js";
import { announce } from "./status.js";

function labelsPath(prompt, ...rest) {
  return [`/api/v1/prompts/${encodeURIComponent(prompt.id)}/labels`, ...rest.map(encodeURIComponent)].join("/");
}

function versionOptions(prompt, selected) {
  return prompt.versions.map((v) => h("option", { value: v.version_no, selected: v.version_no === selected }, `v${v.version_no}`));
}

/** Moves `name` to `versionNo`, only if it still has `revision` (If-Match): a stale page says so. */
async function moveLabel(prompt, name, versionNo, revision) {
  const headers = revision ? { "If-Match": `"${revision}"` } : {};
  return api(labelsPath(prompt, name), { method: "PUT", json: { version_no: versionNo }, headers });
}

function historyTable(name, moves) {
  const rows = moves.map((m) =>
    h("tr", {}, h("td", {}, m.from_version_no ? `v${m.from_version_no}` : "—"), h("td", {}, m.to_version_no ? `v${m.to_version_no}` : "deleted"), h("td", {}, m.moved_by), h("td", {}, formatTime(m.moved_at))),
  );
  return rows.length ? table(`Moves of ${name}`, ["From", "To", "By", "When"], rows, { class: "label-history" }) : h("p", { class: "muted" }, "No moves recorded.");
}

function labelRow(prompt, label, reload) {
  const history = h("div");
  const cells = [h("td", {}, label.label, label.protected && !label.builtin ? " 🔒" : ""), h("td", {}, label.version_no ? `v${label.version_no}` : "—")];
  if (label.builtin) {
    cells.push(h("td", { class: "muted" }, "built in"), h("td", {}));
    return h("tr", { "data-label": label.label }, cells);
  }
  const target = h("select", { "aria-label": `Move ${label.label} to` }, versionOptions(prompt, label.version_no));
  const move = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          const moved = await moveLabel(prompt, label.label, Number(target.value), label.revision);
          announce(`${label.label} now points at v${moved.version_no}.`);
          reload();
        } catch (error) {
          announce(`${label.label} not moved: ${error.message}`, "error");
        }
      },
    },
    `Move ${label.label}`,
  );
  const showHistory = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          const page = await api(`${labelsPath(prompt, label.label, "history")}${query({ page_size: 20 })}`);
          const back = page.items[0]?.from_version_no;
          replace(
            history,
            historyTable(label.label, page.items),
            back
              ? h("button", { type: "button", class: "rollback", onclick: () => moveLabel(prompt, label.label, back, label.revision).then(() => { announce(`${label.label} rolled back to v${back}.`); reload(); }, (e) => announce(e.message, "error")) }, `Roll ${label.label} back to v${back}`)
              : null,
          );
        } catch (error) {
          replace(history, h("p", { class: "error" }, error.message));
        }
      },
    },
    `History of ${label.label}`,
  );
  cells.push(h("td", {}, target, move), h("td", {}, showHistory, history));
  return h("tr", { "data-label": label.label }, cells);
}

function newLabelForm(prompt, reload) {
  const name = h("input", { type: "text", name: "label", required: true, pattern: "[a-z][a-z0-9_\\-]{0,62}", placeholder: "production" });
  const target = h("select", { name: "version_no" }, versionOptions(prompt, prompt.best_version_no || prompt.versions.at(-1)?.version_no));
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await moveLabel(prompt, name.value.trim(), Number(target.value));
          announce(`${name.value.trim()} set.`);
          reload();
        } catch (error) {
          announce(`Label not set: ${error.message}`, "error");
        }
      },
    },
    field("Label name", name),
    field("Points at", target),
    h("button", { type: "submit" }, "Set label"),
  );
}

/** The labels of a prompt with their controls. */
export function labelPanel(prompt, reload) {
  const section = h("section", { "aria-labelledby": "labels-title", class: "label-panel" }, h("h2", { id: "labels-title" }, "Labels"));
  const body = h("div");
  api(labelsPath(prompt))
    .then((page) => replace(body, table("Labels", ["Label", "Version", "Move", "History"], page.items.map((l) => labelRow(prompt, l, reload)), { id: "label-table" })))
    .catch((e) => replace(body, h("p", { class: "error" }, e.message)));
  section.append(body, newLabelForm(prompt, reload));
  return section;
}

function diffView(diff) {
  const old = h("pre", { class: "diff-side diff-old", "aria-label": `Version ${diff.from_version_no}` });
  const now = h("pre", { class: "diff-side diff-new", "aria-label": `Version ${diff.to_version_no}` });
  for (const change of diff.changes) {
    if (change.op !== "insert") old.append(change.op === "delete" ? h("del", {}, change.text) : change.text);
    if (change.op !== "delete") now.append(change.op === "insert" ? h("ins", {}, change.text) : change.text);
  }
  const score = diff.score_change === null ? "not both scored" : signed(diff.score_change);
  return h(
    "div",
    { id: "diff-result" },
    h("p", {}, `v${diff.from_version_no} → v${diff.to_version_no}, score change: `, h("strong", { class: "score-change" }, score)),
    h("div", { class: "diff-columns" }, old, now),
    h("details", {}, h("summary", {}, "Unified diff"), h("pre", {}, diff.unified || "(no line changes)")),
  );
}

/** Two versions (numbers or labels) compared word by word, side by side. */
export function diffPanel(prompt) {
  const from = h("input", { type: "text", name: "from", required: true, value: "1" });
  const to = h("input", { type: "text", name: "to", required: true, value: prompt.best_version_no ? "best" : "latest" });
  const result = h("div");
  return h(
    "section",
    { "aria-labelledby": "diff-title" },
    h("h2", { id: "diff-title" }, "Compare versions"),
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const diff = await api(`/api/v1/prompts/${encodeURIComponent(prompt.id)}/diff${query({ from: from.value.trim(), to: to.value.trim() })}`);
            replace(result, diffView(diff));
          } catch (error) {
            replace(result, h("p", { class: "error" }, error.message));
          }
        },
      },
      field("From (number or label)", from),
      field("To (number or label)", to),
      h("button", { type: "submit" }, "Compare"),
    ),
    result,
  );
}
