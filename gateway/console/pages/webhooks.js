// Webhooks: the caller's subscriptions, a form to add one (its signing secret shown once, right
// after), and per subscription its delivery log (every attempt's status or error) and a test send.

import { api } from "../api.js";
import { field, formatTime, h, replace, table } from "../dom.js";
import { announce } from "../status.js";

const EVENTS = [
  "prompt.created",
  "prompt.version_created",
  "prompt.best_changed",
  "prompt.label_moved",
  "prompt.deleted",
  "feedback.created",
  "file.created",
  "file.deleted",
  "export.completed",
  "export.failed",
];

function secretNotice(created) {
  return h(
    "div",
    { class: "notice", id: "webhook-secret", role: "alert" },
    h("p", {}, `Signing secret of ${created.url}: copy it now, it is never shown again.`),
    h("p", {}, h("code", { "data-secret": "" }, created.secret)),
  );
}

function webhookForm(done) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/hooks/depot" });
  const description = h("input", { type: "text", name: "description", maxlength: 256 });
  const boxes = EVENTS.map((name) => h("input", { type: "checkbox", name: "events", value: name, checked: name.startsWith("prompt.") }));
  const secret = h("div");
  const submit = async (event) => {
    event.preventDefault();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const created = await api("/api/v1/webhooks", { method: "POST", json: { url: url.value.trim(), events, description: description.value } });
      replace(secret, secretNotice(created));
      announce(`Webhook for ${created.url} added.`);
      url.value = "";
      done();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "form",
    { class: "stack-form", id: "webhook-form", onsubmit: submit },
    field("URL", url, "http(s); it must resolve to a public address"),
    h("fieldset", {}, h("legend", {}, "Events"), boxes.map((box) => h("label", { class: "check" }, box, ` ${box.value}`))),
    field("Description", description),
    h("button", { type: "submit" }, "Add webhook"),
    secret,
  );
}

function webhookRow(item, reload) {
  const remove = async () => {
    await api(`/api/v1/webhooks/${encodeURIComponent(item.id)}`, { method: "DELETE" });
    announce(`Webhook for ${item.url} deleted.`);
    reload();
  };
  return h(
    "tr",
    { "data-webhook": item.id, "data-status": item.status },
    h("th", { scope: "row" }, h("a", { href: `#/webhooks/${encodeURIComponent(item.id)}` }, item.url)),
    h("td", {}, item.events.join(", ")),
    h("td", {}, item.status === "disabled" ? `disabled: ${item.disabled_reason}` : item.status),
    h("td", {}, formatTime(item.created_at)),
    h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Delete webhook for ${item.url}`, onclick: remove }, "Delete")),
  );
}

export async function webhooksPage() {
  const list = h("div");
  const load = async () => {
    const { items } = await api("/api/v1/webhooks");
    replace(
      list,
      items.length === 0
        ? h("p", { class: "empty" }, "No webhooks yet.")
        : table("Your webhooks", ["URL", "Events", "Status", "Created", ""], items.map((item) => webhookRow(item, load)), { id: "webhook-table" }),
    );
  };
  await load();
  return h(
    "div",
    {},
    h("h1", {}, "Webhooks"),
    h("p", { class: "muted" }, "Each change you subscribe to is POSTed to your URL, signed the Standard Webhooks way, and retried with backoff until it is answered with a 2xx."),
    list,
    h("section", { "aria-labelledby": "new-webhook" }, h("h2", { id: "new-webhook" }, "New webhook"), webhookForm(load)),
  );
}

function attemptsText(attempts) {
  if (attempts.length === 0) return "—";
  return attempts.map((a) => `#${a.attempt_no} ${a.status_code ?? "no answer"}${a.error ? ` (${a.error})` : ""}, ${a.duration_ms} ms`).join("; ");
}

function deliveryRow(delivery) {
  return h(
    "tr",
    { "data-delivery": delivery.id, "data-status": delivery.status },
    h("td", {}, formatTime(delivery.created_at)),
    h("td", {}, delivery.event_type),
    h("td", {}, delivery.subject),
    h("td", {}, delivery.status),
    h("td", {}, attemptsText(delivery.attempts)),
  );
}

export async function webhookPage(id) {
  const path = `/api/v1/webhooks/${encodeURIComponent(id)}`;
  const log = h("div");
  const load = async () => {
    const { items } = await api(`${path}/deliveries`);
    replace(
      log,
      items.length === 0
        ? h("p", { class: "empty" }, "Nothing delivered yet.")
        : table("Deliveries", ["Queued", "Event", "Subject", "Status", "Attempts"], items.map(deliveryRow), { id: "delivery-table" }),
    );
  };
  const test = async () => {
    try {
      const delivery = await api(`${path}/test`, { method: "POST" });
      announce(`Test delivery ${delivery.status}: ${attemptsText(delivery.attempts)}.`, delivery.status === "delivered" ? undefined : "error");
    } catch (error) {
      announce(error.message, "error");
    }
    await load();
  };
  const [item] = await Promise.all([api(path), load()]);
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/webhooks", class: "back-link" }, "← All webhooks")),
    h("h1", {}, `Webhook for ${item.url}`),
    h("p", {}, `${item.events.join(", ")}; ${item.status === "disabled" ? `disabled: ${item.disabled_reason}` : "active"}.`),
    h("p", {}, h("button", { type: "button", id: "webhook-test", onclick: test }, "Send a test event")),
    log,
  );
}
