// Sign-in: paste a token. Under `depot up` the development token arrives in the link's fragment
// and is offered here; nothing signs in without the user's click.

import { api, session, tokenClaims } from "../api.js";
import { field, h, replace } from "../dom.js";

async function tryToken(token, problem, done) {
  const claims = tokenClaims(token);
  if (!claims) {
    replace(problem, "That is not a token: a JWT has three parts separated by dots.");
    return;
  }
  session.signIn(token);
  try {
    await api("/api/v1/prompts?page_size=1");
    done();
  } catch (error) {
    session.signOut();
    replace(problem, `The server refused the token: ${error.message}`);
  }
}

function offer(token, problem, done) {
  const claims = tokenClaims(token);
  if (!claims) return null;
  const until = claims.expires ? claims.expires.toLocaleString() : "no expiry";
  return h(
    "section",
    { class: "offer", "aria-labelledby": "offer-title" },
    h("h2", { id: "offer-title" }, "Development token"),
    h("p", {}, "The link from ", h("code", {}, "depot up"), ` offers a token for user ${claims.user}, valid until ${until}.`),
    h(
      "button",
      { type: "button", class: "primary", id: "use-offered", onclick: () => tryToken(token, problem, done) },
      "Sign in with the development token",
    ),
  );
}

export function signInPage(offeredToken, done) {
  const input = h("textarea", {
    id: "token-input",
    name: "token",
    rows: "4",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    required: true,
  });
  const problem = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        tryToken(input.value.trim(), problem, done);
      },
    },
    field("Access token", input, ["A bearer token (JWT), e.g. from ", h("code", {}, "depot token --user NAME"), ". It is kept in this tab only."]),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  return h(
    "div",
    { class: "narrow" },
    h("h1", {}, "Sign in"),
    offeredToken ? offer(offeredToken, problem, done) : null,
    form,
    problem,
  );
}
