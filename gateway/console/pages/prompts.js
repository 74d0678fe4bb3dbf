// Prompts: the caller's prompts, searched by text and agent type, newest first.

import { api, query } from "../api.js";
import { field, formatTime, h, table } from "../dom.js";

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
    form,
    count === 0 ? h("p", { class: "empty" }, q || agentType ? "No prompt matches." : "No prompts yet.") : list,
    more,
  );
}
