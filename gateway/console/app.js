// The console's shell: sign-in state, the navigation, and the router over the URL fragment.

import { session, whenUnauthenticated } from "./api.js";
import { h, replace } from "./dom.js";
import { agentsPage } from "./pages/agents.js";
import { chatPage, chatsPage } from "./pages/chats.js";
import { exportsPage } from "./pages/exports.js";
import { promptPage } from "./pages/prompt.js";
import { promptsPage } from "./pages/prompts.js";
import { signInPage } from "./pages/signin.js";
import { announce } from "./status.js";

const main = document.getElementById("main");

// `depot up` prints a link whose fragment holds the development token: fragments never reach a
// server or a log. It is only offered (the user decides), then removed from the address bar.
let offeredToken = null;
if (location.hash.startsWith("#token=")) {
  offeredToken = decodeURIComponent(location.hash.slice("#token=".length));
  history.replaceState(null, "", `${location.pathname}#/signin`);
}

const routes = [
  [/^\/signin$/, () => signInPage(offeredToken, signedIn)],
  [/^\/prompts$/, (_, params) => promptsPage(params)],
  [/^\/prompts\/([^/]+)$/, ([id]) => promptPage(id)],
  [/^\/agents$/, () => agentsPage()],
  [/^\/chats$/, () => chatsPage()],
  [/^\/chats\/([^/]+)$/, ([id]) => chatPage(id)],
  [/^\/exports$/, () => exportsPage()],
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

async function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(1) : "/prompts";
  const [path, search = ""] = hash.split("?");
  if (!session.token && path !== "/signin") {
    location.hash = "#/signin";
    return;
  }
  showUser();
  markSection(path);
  announce("");
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (!match) continue;
    const args = match.slice(1).map(decodeURIComponent);
    replace(main, h("p", { class: "loading" }, "Loading…"));
    try {
      const view = await page(args, new URLSearchParams(search));
      replace(main, view);
      document.title = `${main.querySelector("h1")?.textContent || "Depot"} · Depot console`;
    } catch (error) {
      replace(main, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, error.message));
    }
    // After a route change, focus moves to the new content; on a fresh load it stays at the top.
    if (!firstLoad) main.focus();
    firstLoad = false;
    return;
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/prompts" }, "Back to prompts")));
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
