// One prompt: its versions side by side with their scores and the best head marked, the lineage
// graph, feedback on it, and its exports.

import { api, query } from "../api.js";
import { lineageGraph, scoreChange, signed } from "../charts.js";
import { field, formatNumber, formatTime, h, replace, table } from "../dom.js";
import { exportPanel } from "../exportpanel.js";
import { diffPanel, labelPanel } from "../labelpanel.js";
import { announce } from "../status.js";

const CRITERIA = ["clarity", "specificity", "actionability", "structure", "context_use"];

function scoreTable(version) {
  if (!version.scores) return h("p", { class: "muted" }, "Not scored yet.");
  return h(
    "table",
    { class: "scores" },
    h("caption", { class: "visually-hidden" }, `Scores of version ${version.version_no}`),
    h(
      "tbody",
      {},
      CRITERIA.map((c) => h("tr", {}, h("th", { scope: "row" }, c.replace("_", " ")), h("td", { class: "num" }, formatNumber(version.scores[c])))),
      h("tr", { class: "total" }, h("th", { scope: "row" }, "total"), h("td", { class: "num" }, formatNumber(version.scores.total))),
    ),
  );
}

/** The agent's explanation of a version: any JSON object, shown as indented JSON text. */
function explanation(version) {
  if (!version.explanation || !Object.keys(version.explanation).length) return null;
  return h(
    "div",
    { class: "explanation" },
    h("h4", {}, "Explanation"),
    h("pre", { class: "explanation-json" }, JSON.stringify(version.explanation, null, 2)),
  );
}

/** Five numbers from 0 to 10 for one version; saving sets its scores and the best head follows. */
function scoreForm(prompt, version, reload) {
  const inputs = CRITERIA.map((c) =>
    h("input", { type: "number", name: c, min: "0", max: "10", step: "0.5", required: true, value: version.scores?.[c] ?? "", class: "score-input" }),
  );
  return h(
    "form",
    {
      class: "score-form",
      "aria-label": `Score version ${version.version_no}`,
      onsubmit: async (event) => {
        event.preventDefault();
        const scores = Object.fromEntries(CRITERIA.map((c, i) => [c, Number(inputs[i].value)]));
        try {
          const path = `/api/v1/prompts/${encodeURIComponent(prompt.id)}/versions/${version.version_no}/score`;
          const result = await api(path, { method: "PUT", json: scores });
          announce(`Version ${version.version_no} scored ${formatNumber(result.total)}; the best head is v${result.best_version_no}.`);
          reload();
        } catch (error) {
          announce(`Scores not saved: ${error.message}`, "error");
        }
      },
    },
    h("div", { class: "score-fields" }, CRITERIA.map((c, i) => field(c.replace("_", " "), inputs[i]))),
    h("button", { type: "submit" }, version.scores ? "Save scores" : "Score"),
  );
}

function versionCard(prompt, version, reload) {
  const bestNo = prompt.best_version_no;
  const best = version.version_no === bestNo;
  return h(
    "article",
    { class: best ? "version best" : "version", "data-version": version.version_no, "aria-labelledby": `version-${version.version_no}` },
    h(
      "h3",
      { id: `version-${version.version_no}` },
      `Version ${version.version_no}`,
      best ? h("span", { class: "badge best-badge" }, "★ Best head") : null,
    ),
    h(
      "p",
      { class: "muted" },
      `from ${version.source || "—"}`,
      version.parent_version_no ? ` · parent v${version.parent_version_no}` : " · no parent",
    ),
    h("p", { class: "version-text" }, version.text),
    explanation(version),
    scoreTable(version),
    h("details", { class: "score-box" }, h("summary", {}, version.scores ? "Change scores" : "Score this version"), scoreForm(prompt, version, reload)),
  );
}

/** A new version of the prompt: its text, the agent that wrote it, and the version it derives from. */
function appendForm(prompt, reload) {
  const text = h("textarea", { name: "text", rows: "4", required: true });
  const source = h("input", { type: "text", name: "source", required: true, list: "agent-names", value: "manual" });
  const parent = h(
    "select",
    { name: "parent_version_no" },
    h("option", { value: "" }, "none"),
    prompt.versions.map((v) => h("option", { value: v.version_no, selected: v.version_no === (prompt.best_version_no || prompt.versions.at(-1)?.version_no) }, `v${v.version_no}`)),
  );
  return h(
    "form",
    {
      class: "stack narrow append-form",
      "aria-labelledby": "append-title",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { text: text.value, source: source.value.trim() };
        if (parent.value) body.parent_version_no = Number(parent.value);
        try {
          const version = await api(`/api/v1/prompts/${encodeURIComponent(prompt.id)}/versions`, { method: "POST", json: body });
          announce(`Version ${version.version_no} added.`);
          reload();
        } catch (error) {
          announce(`Version not added: ${error.message}`, "error");
        }
      },
    },
    h("h3", { id: "append-title" }, "Add a version"),
    field("Version text", text),
    field("Source (agent)", source),
    field("Derived from", parent),
    h("button", { type: "submit", class: "primary" }, "Add version"),
  );
}

/** Why the best head is best, by the rule the server applies (highest total, earliest on ties). */
export function whyBest(versions, bestNo) {
  const scored = versions.filter((v) => v.scores);
  const best = versions.find((v) => v.version_no === bestNo);
  if (!best || !best.scores) return "No version is scored yet, so there is no best head.";
  const ties = scored.filter((v) => v.version_no !== bestNo && v.scores.total === best.scores.total);
  const runnerUp = scored.filter((v) => v.version_no !== bestNo).sort((a, b) => b.scores.total - a.scores.total)[0];
  let why = `Version ${bestNo} is the best head: its total score ${best.scores.total.toFixed(1)} is the highest of ${scored.length} scored version${scored.length === 1 ? "" : "s"}`;
  if (ties.length) why += `; it ties with ${ties.map((v) => `v${v.version_no}`).join(", ")} and the earliest version wins a tie`;
  else if (runnerUp) why += `, ${(best.scores.total - runnerUp.scores.total).toFixed(1)} ahead of v${runnerUp.version_no}`;
  return `${why}.`;
}

function lineage(prompt) {
  const byNo = new Map(prompt.versions.map((v) => [v.version_no, v]));
  const edges = prompt.versions
    .filter((v) => byNo.has(v.parent_version_no))
    .map((v) => {
      const parent = byNo.get(v.parent_version_no);
      return h("li", {}, `v${parent.version_no} → v${v.version_no}: ${signed(scoreChange(parent, v))}`);
    });
  return h(
    "section",
    { "aria-labelledby": "lineage-title" },
    h("h2", { id: "lineage-title" }, "Lineage"),
    h("p", { class: "why-best", id: "why-best" }, whyBest(prompt.versions, prompt.best_version_no)),
    h("div", { class: "graph-scroll" }, lineageGraph(prompt.versions, prompt.best_version_no)),
    h("details", {}, h("summary", {}, "Parent links as text"), edges.length ? h("ul", {}, edges) : h("p", {}, "No version names a parent.")),
  );
}

function feedbackForm(prompt, reload) {
  const sources = [...new Set(prompt.versions.map((v) => v.source).filter(Boolean))];
  const listId = "agent-names";
  const choice = h("select", { name: "user_choice" }, ["original", "single", "multi"].map((c) => h("option", { value: c }, c)));
  const judge = h("input", { type: "text", name: "judge_winner", list: listId, required: true });
  const agent = h("input", { type: "text", name: "agent_winner", list: listId, required: true });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("/api/v1/feedback", {
            method: "POST",
            json: { request_id: prompt.request_id, user_choice: choice.value, judge_winner: judge.value.trim(), agent_winner: agent.value.trim() },
          });
          announce("Feedback saved.");
          reload();
        } catch (error) {
          announce(`Feedback not saved: ${error.message}`, "error");
        }
      },
    },
    h("datalist", { id: listId }, ["none", ...sources].map((name) => h("option", { value: name }))),
    field("User chose", choice),
    field("Judge winner", judge),
    field("Agent winner", agent),
    h("button", { type: "submit" }, "Record feedback"),
  );
}

function feedbackSection(prompt) {
  const section = h("section", { "aria-labelledby": "feedback-title" }, h("h2", { id: "feedback-title" }, "Feedback"));
  if (!prompt.request_id) {
    section.append(h("p", { class: "muted" }, "Feedback is given by request id, and this prompt has none."));
    return section;
  }
  const list = h("div");
  async function load() {
    const page = await api(`/api/v1/feedback${query({ request_id: prompt.request_id })}`);
    const rows = page.items.map((f) =>
      h(
        "tr",
        {},
        h("td", {}, f.user_choice),
        h("td", {}, f.judge_winner),
        h("td", {}, f.agent_winner),
        h("td", {}, f.judge_correct ? "yes" : "no"),
        h("td", {}, formatTime(f.updated_at)),
      ),
    );
    replace(
      list,
      rows.length
        ? table(`Feedback on ${prompt.request_id}`, ["User chose", "Judge winner", "Agent winner", "Judge agreed", "When"], rows, { id: "feedback-table" })
        : h("p", { class: "muted" }, "No feedback yet."),
    );
  }
  section.append(list, feedbackForm(prompt, () => load().catch((e) => announce(e.message, "error"))));
  load().catch((e) => replace(list, h("p", { class: "error" }, e.message)));
  return section;
}

export async function promptPage(id) {
  const prompt = await api(`/api/v1/prompts/${encodeURIComponent(id)}`);
  // A change made on this page shows the prompt as the server now has it.
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const details = [
    ["Request id", prompt.request_id || "—"],
    ["Agent type", prompt.agent_type || "—"],
    ["Best head", prompt.best_version_no ? `v${prompt.best_version_no}` : "—"],
    ["Revision", prompt.revision],
    ["Created", formatTime(prompt.created_at)],
  ];
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/prompts" }, "← All prompts")),
    h("h1", {}, "Prompt"),
    h("p", { class: "prompt-text", id: "prompt-text" }, prompt.original_text),
    h("dl", { class: "facts" }, details.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    h(
      "section",
      { "aria-labelledby": "versions-title" },
      h("h2", { id: "versions-title" }, `Versions (${prompt.versions.length})`),
      prompt.versions.length
        ? h("div", { class: "versions" }, prompt.versions.map((v) => versionCard(prompt, v, reload)))
        : h("p", { class: "muted" }, "No versions yet."),
      appendForm(prompt, reload),
    ),
    prompt.versions.length ? labelPanel(prompt, reload) : null,
    prompt.versions.length ? diffPanel(prompt) : null,
    prompt.versions.length ? lineage(prompt) : null,
    feedbackSection(prompt),
    exportPanel(`prompts/${prompt.id}`),
  );
}
