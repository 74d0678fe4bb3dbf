// Prompts: the caller's prompts, searched by text and agent type, newest first.

import { api, query } from "../api.js";
import { field, formatTime, h, table } from "../dom.js";
import { announce } from "../status.js";

function excerpt(text, length = 120) {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

function row(prompt) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/prompts/${encodeURIComponent(prompt.id)}`, class: "prompt-link" }, excerpt(prompt.original_text))),
    h("td", {}, prompt.agent_type || "—"),
    h("td", { class: "num" }, prompt.version_count),
    h("td", { class: "num" }, prompt.best_version_no ? `v${prompt.best_version_no}` : "—"),
    h("td", {}, formatTime(prompt.created_at)),
  );
}

/** A new prompt, with a first version when one is written; it opens once the server has it. */
function newPromptForm() {
  const original = h("textarea", { name: "original_text", rows: "3", required: true });
  const requestId = h("input", { type: "text", name: "request_id" });
  const agentType = h("input", { type: "text", name: "agent_type" });
  const versionText = h("textarea", { name: "version_text", rows: "3" });
  const source = h("input", { type: "text", name: "source", value: "manual" });
  const optional = (value) => value.trim() || undefined;
  return h(
    "details",
    { class: "new-prompt" },
    h("summary", {}, "New prompt"),
    h(
      "form",
      {
        class: "stack narrow",
        onsubmit: async (event) => {
          event.preventDefault();
          const body = { original_text: original.value, request_id: optional(requestId.value), agent_type: optional(agentType.value) };
          if (versionText.value.trim()) body.versions = [{ text: versionText.value, source: source.value.trim() }];
          try {
            const prompt = await api("/api/v1/prompts", { method: "POST", json: body });
            location.hash = `#/prompts/${encodeURIComponent(prompt.id)}`;
          } catch (error) {
            announce(`Prompt not created: ${error.message}`, "error");
          }
        },
      },
      field("Original text", original),
      field("Request id", requestId, "Optional: feedback names the prompt by it."),
      field("Agent type of the prompt", agentType, "Optional, e.g. single or multi."),
      field("First version", versionText, "Optional: the text of version 1."),
      field("Its source (agent)", source),
      h("button", { type: "submit", class: "primary" }, "Create prompt"),
    ),
  );
}

export async function promptsPage(params) {
  const q = params.get("q") || "";
  const agentType = params.get("agent_type") || "";
  const text = h("input", { type: "search", id: "search-text", name: "q", value: q });
  const agent = h("input", { type: "text", id: "search-agent", name: "agent_type", value: agentType });
  const form = h(
    "form",
    {
      class: "search",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = `#/prompts${query({ q: text.value.trim(), agent_type: agent.value.trim() })}`;
      },
    },
    field("Text contains", text),
    field("Agent type", agent),
    h("button", { type: "submit" }, "Search"),
  );

  const list = table("Prompts, newest first", ["Prompt", "Agent type", ["Versions", "num"], ["Best head", "num"], "Created"], [], {
    id: "prompt-table",
  });
  const body = list.querySelector("tbody");
  const more = h("button", { type: "button", hidden: true }, "More prompts");
  let next = "";
  async function load() {
    const page = await api(`/api/v1/prompts${query({ q, agent_type: agentType, page_size: 50, page_token: next })}`);
    body.append(...page.items.map(row));
    next = page.next_page_token;
    more.hidden = !next;
    return page.items.length;
  }
  more.addEventListener("click", load);
  const count = await load();
  return h(
    "div",
    {},
    h("h1", {}, "Prompts"),
    newPromptForm(),
    form,
    count === 0 ? h("p", { class: "empty" }, q || agentType ? "No prompt matches." : "No prompts yet.") : list,
    more,
  );
}
