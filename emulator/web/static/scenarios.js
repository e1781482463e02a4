// The dashboard's Scenarios card: pick a built-in scenario, see its steps, run it, and
// watch each run's deliveries together. Uses app.js's helpers (api, el, badge, $, every, tick);
// everything from the server is put on the page as text.
"use strict";

function scenarioForm() {
  return $("#scenario-form");
}

function short(id) {
  return id ? String(id).slice(0, 8) : "—";
}

async function loadScenarios() {
  const select = $("#scenario-select");
  const { scenarios } = await api("GET", "/api/scenarios");
  select.replaceChildren(...scenarios.map((s) => el("option", { value: s.name, text: s.name, dataset: { description: s.description } })));
  await showScenario();
}

let shownRequest = 0;

async function showScenario() {
  const asked = ++shownRequest;  // a slower answer to an earlier pick must not overwrite a later one
  const form = scenarioForm();
  const name = form.name.value;
  if (!name) return;
  const seed = form.seed.value || "1";
  $("#scenario-description").textContent = form.name.selectedOptions[0].dataset.description || "";
  try {
    const shown = await api("GET", `/api/scenarios/${encodeURIComponent(name)}?seed=${encodeURIComponent(seed)}`);
    if (asked !== shownRequest) return;
    renderSteps(shown.events);
    $("#scenario-status").textContent = "";
  } catch (error) {
    $("#scenario-status").textContent = error.message;
  }
}

// The class, booking, membership or package a step's event links to (a booking's row names
// the booking), as the CLI's "other" column shows it.
const OTHER_LINKS = [["booking", "booking"], ["session", "class"], ["membership", "membership"], ["package", "package"]];

function other(row) {
  const found = OTHER_LINKS.find(([key]) => row[key]);
  return found ? `${found[1]} ${short(row[found[0]])}` : "—";
}

function renderSteps(rows) {
  const body = $("#scenario-steps tbody");
  body.replaceChildren(...rows.map((r) => el("tr", {},
    el("td", { text: r.step }), el("td", { text: r.do }), el("td", { class: "mono", text: r.time.slice(0, 19) }),
    el("td", { text: r.event_type }), el("td", { class: "mono", text: r.id }),
    el("td", { class: "mono", text: short(r.guest) }), el("td", { class: "mono", text: short(r.group) }),
    el("td", { class: "mono", text: short(r.invoice) }), el("td", { class: "mono", text: other(r) }))));
}

async function runScenario(event) {
  event.preventDefault();
  const form = scenarioForm();
  const body = { seed: Number(form.seed.value || 1) };
  if (form.disorder.value.trim()) body.disorder = form.disorder.value.trim();
  if (form.url.value.trim()) body.target = { url: form.url.value.trim() };
  const status = $("#scenario-status");
  status.textContent = "Running…";
  try {
    const result = await api("POST", `/api/scenarios/${encodeURIComponent(form.name.value)}/run`, body);
    shownRequest += 1;
    renderSteps(result.events);
    const run = result.run;
    const disorder = run.disorder ? ` · ${run.disorder.disorder}` : "";
    status.textContent = `Run ${run.id}: ${run.delivery_ids.length} deliveries${disorder}`;
    await refreshRuns();
  } catch (error) {
    status.textContent = error.message;
  }
}

async function refreshRuns() {
  const { runs } = await api("GET", "/api/scenarios/runs?limit=5");
  const box = $("#scenario-runs");
  if (!runs.length) {
    box.replaceChildren(el("p", { class: "empty hint", text: "No runs yet." }));
  } else {
    box.replaceChildren(...runs.map(runCard));
  }
  tick("scenarioRefreshes");
}

function runCard(run) {
  const report = run.disorder;
  const said = report
    ? `${report.disorder}: duplicated ${report.duplicated.length}, reordered ${report.reordered.length}, delayed ${report.delayed.length}`
    : "in story order";
  const rows = run.deliveries.map((d) => el("tr", {},
    el("td", { text: d.id }), el("td", { text: d.event_type || "" }), el("td", { class: "mono", text: d.call_id || "" }),
    el("td", {}, badge(d.status)), el("td", { class: "num", text: d.attempts })));
  return el("details", { class: "run", open: true, dataset: { testid: "scenario-run-card", run: run.id } },
    el("summary", {}, el("strong", { text: `Run ${run.id} · ${run.scenario} (seed ${run.seed})` }), " ", el("span", { class: "hint", text: said })),
    el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", { text: "#" }), el("th", { text: "Event" }), el("th", { text: "Id" }),
        el("th", { text: "Status" }), el("th", { class: "num", text: "Tries" }))),
      el("tbody", {}, rows)));
}

document.addEventListener("DOMContentLoaded", () => {
  const form = scenarioForm();
  if (!form) return;
  form.addEventListener("submit", runScenario);
  form.name.addEventListener("change", showScenario);
  $("#scenario-show").addEventListener("click", showScenario);
  loadScenarios();
  every(refreshRuns, POLL_MS * 2);
});
