// The console's shell: sign-in state, the navigation, and the router over the URL fragment.

import { ApiError, session, whenUnauthenticated } from "./api.js";
import { h, replace } from "./dom.js";
import { accountPage } from "./pages/account.js";
import { agentsPage } from "./pages/agents.js";
import { chatPage, chatsPage } from "./pages/chats.js";
import { exportsPage } from "./pages/exports.js";
import { promptPage } from "./pages/prompt.js";
import { promptsPage } from "./pages/prompts.js";
import { schedulePage, schedulesPage } from "./pages/schedules.js";
import { signInPage } from "./pages/signin.js";
import { webhookPage, webhooksPage } from "./pages/webhooks.js";
import { announce } from "./status.js";

const main = document.getElementById("main");

// `depot up` prints a link whose fragment holds the development token: fragments never reach a
// server or a log. It is only offered (the user decides), then removed from the address bar.
let offeredToken = null;
if (location.hash.startsWith("#token=")) {
  offeredToken = decodeURIComponent(location.hash.slice("#token=".length));
  history.replaceState(null, "", `${location.pathname}#/signin`);
}

// Each route, the page it shows, and the list a person goes back to when the page cannot be shown.
const PROMPTS = ["#/prompts", "All prompts"];
const CHATS = ["#/chats", "All chats"];
const routes = [
  [/^\/signin$/, () => signInPage(offeredToken, signedIn), PROMPTS],
  [/^\/prompts$/, (_, params) => promptsPage(params), PROMPTS],
  [/^\/prompts\/([^/]+)$/, ([id]) => promptPage(id), PROMPTS],
  [/^\/agents$/, () => agentsPage(), PROMPTS],
  [/^\/chats$/, () => chatsPage(), CHATS],
  [/^\/chats\/([^/]+)$/, ([id]) => chatPage(id), CHATS],
  [/^\/exports$/, () => exportsPage(), ["#/exports", "All exports"]],
  [/^\/webhooks$/, () => webhooksPage(), ["#/webhooks", "All webhooks"]],
  [/^\/webhooks\/([^/]+)$/, ([id]) => webhookPage(id), ["#/webhooks", "All webhooks"]],
  [/^\/schedules$/, () => schedulesPage(), ["#/schedules", "All schedules"]],
  [/^\/schedules\/([^/]+)$/, ([id]) => schedulePage(id), ["#/schedules", "All schedules"]],
  [/^\/account$/, () => accountPage(), PROMPTS],
];

function signedIn() {
  offeredToken = null;
  location.hash = "#/prompts";
}

function showUser() {
  const claims = session.claims();
  const signed = Boolean(session.token);
  document.getElementById("nav").hidden = !signed;
  document.getElementById("who").hidden = !signed;
  replace(document.getElementById("who-name"), signed ? `Signed in as ${claims?.user || "?"}` : "");
}

function markSection(path) {
  for (const link of document.querySelectorAll("#nav a")) {
    const current = path.startsWith(`/${link.dataset.section}`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

let firstLoad = true;
let shownHash = null;

/** Why a page could not be shown, with the way back to its list. Someone else's record and a
 * missing one are the same 404 (ids leak nothing), so both read "Not found". */
function failedPage(error, [href, label]) {
  const back = h("p", {}, h("a", { href, class: "back-link" }, `← ${label}`));
  if (error instanceof ApiError && error.status === 404) {
    return [h("h1", {}, "Not found"), h("p", {}, "There is nothing here, or it is not yours."), back];
  }
  return [h("h1", {}, "Something went wrong"), h("p", { class: "error" }, error.message), back];
}

/** After a route change focus moves to the new content (for screen readers), and the page starts at
 * its top: focusing would otherwise scroll the header out of view. On a fresh load focus stays put. */
function showTop() {
  if (!firstLoad) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  firstLoad = false;
}

async function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(1) : "/prompts";
  const [path, search = ""] = hash.split("?");
  if (!session.token && path !== "/signin") {
    location.hash = "#/signin";
    return;
  }
  // The same route shown again is a page reloading itself after a change: it keeps its place and
  // the message the change announced; any other route starts at the top with a "Loading…" line.
  const again = hash === shownHash;
  const y = window.scrollY;
  shownHash = hash;
  showUser();
  markSection(path);
  if (!again) {
    announce("");
    replace(main, h("p", { class: "loading" }, "Loading…"));
  }
  const found = routes.find(([pattern]) => pattern.test(path));
  if (!found) {
    replace(main, failedPage(new ApiError(404, "NOT_FOUND", "no such page"), PROMPTS));
  } else {
    const [pattern, page, list] = found;
    const args = pattern.exec(path).slice(1).map(decodeURIComponent);
    try {
      replace(main, await page(args, new URLSearchParams(search)));
    } catch (error) {
      replace(main, failedPage(error, list));
    }
  }
  document.title = `${main.querySelector("h1")?.textContent || "Depot"} · Depot console`;
  if (again) window.scrollTo(0, y);
  else showTop();
}

whenUnauthenticated(() => {
  session.signOut();
  announce("Your token was refused or has expired: sign in again.", "error");
  if (location.hash !== "#/signin") location.hash = "#/signin";
});

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  location.hash = "#/signin";
});
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
route();
