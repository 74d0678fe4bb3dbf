// Agent effectiveness: per basis (judge scores, user feedback) the win rate and average score per
// agent, and the judge's calibration: how often users confirmed the judge's pick, per agent.

import { api } from "../api.js";
import { barChart } from "../charts.js";
import { formatNumber, h, percent, table } from "../dom.js";

const MAX_TOTAL = 50; // five criteria of at most 10

function entries(result) {
  return Object.entries(result.agents).sort(([a], [b]) => a.localeCompare(b));
}

function basisSection(result, heading, intro) {
  const agents = entries(result);
  const winRates = agents.map(([agent, s]) => ({ label: agent, value: s.win_rate, text: `${percent(s.win_rate)} (${s.wins}/${s.total})` }));
  const scores = agents.map(([agent, s]) => ({ label: agent, value: s.avg_score, text: formatNumber(s.avg_score) }));
  const rows = agents.map(([agent, s]) =>
    h("tr", {}, h("th", { scope: "row" }, agent), h("td", { class: "num" }, s.wins), h("td", { class: "num" }, s.total), h("td", { class: "num" }, percent(s.win_rate)), h("td", { class: "num" }, formatNumber(s.avg_score))),
  );
  return h(
    "section",
    { class: "basis", "data-basis": result.basis, "aria-labelledby": `basis-${result.basis}` },
    h("h2", { id: `basis-${result.basis}` }, heading),
    h("p", { class: "muted" }, intro),
    agents.length === 0
      ? h("p", { class: "empty" }, "No data on this basis yet.")
      : [
          h(
            "div",
            { class: "charts" },
            barChart({ title: "Win rate per agent", items: winRates, max: 1, name: `${result.basis}-win-rate` }),
            barChart({ title: "Average score per agent (of 50)", items: scores, max: MAX_TOTAL, name: `${result.basis}-avg-score` }),
          ),
          h("details", {}, h("summary", {}, "The figures as a table"), table(heading, ["Agent", ["Wins", "num"], ["Total", "num"], ["Win rate", "num"], ["Average score", "num"]], rows)),
        ],
  );
}

function calibration(result) {
  const agents = entries(result).filter(([, s]) => s.judge_wins > 0);
  const items = agents.map(([agent, s]) => ({
    label: agent,
    value: s.judge_agreement,
    text: `${percent(s.judge_agreement)} of ${s.judge_wins}`,
  }));
  const rows = agents.map(([agent, s]) =>
    h("tr", {}, h("th", { scope: "row" }, agent), h("td", { class: "num" }, s.judge_wins), h("td", { class: "num" }, percent(s.judge_agreement))),
  );
  return h(
    "section",
    { class: "basis", "data-basis": "calibration", "aria-labelledby": "calibration-title" },
    h("h2", { id: "calibration-title" }, "Judge calibration"),
    h("p", { class: "muted" }, "Of the times the judge picked an agent, the share the user confirmed by choosing that agent too."),
    agents.length === 0
      ? h("p", { class: "empty" }, "No feedback names a judge winner yet.")
      : [
          barChart({ title: "Judge agreement with users per agent", items, max: 1, name: "judge-agreement" }),
          h("details", {}, h("summary", {}, "The figures as a table"), table("Judge calibration", ["Agent", ["Judge wins", "num"], ["Users agreed", "num"]], rows)),
        ],
  );
}

export async function agentsPage() {
  const [scores, feedback] = await Promise.all([
    api("/api/v1/agents/effectiveness?basis=scores"),
    api("/api/v1/agents/effectiveness?basis=feedback"),
  ]);
  return h(
    "div",
    {},
    h("h1", {}, "Agent effectiveness"),
    basisSection(scores, "By judge scores", "A win is a version that is its prompt's best head; the average is of scored versions' totals."),
    basisSection(feedback, "By user feedback", "A win is feedback whose agent winner is that agent, out of all your feedback."),
    calibration(feedback),
  );
}
