// Zenoti webhook emulator dashboard: plain JavaScript over the JSON API, no build step.
// Everything from the server or a receiver is put on the page as text, never as HTML.
"use strict";

const POLL_MS = Number(document.body.dataset.pollMs || 1000);
const $ = (sel, root = document) => root.querySelector(sel);

// -- the API --------------------------------------------------------------------------

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "DELETE") {
    // Same-origin JSON writes: the server refuses anything else (see security.py).
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const err = (data && data.error) || { message: `${response.status} ${response.statusText}` };
    const error = new Error(err.message);
    error.details = err.details;
    error.status = response.status;
    throw error;
  }
  return data;
}

// -- small DOM helpers ----------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || text}`, text });
}

function statusBadge(code) {
  if (code === null || code === undefined) return "";
  return badge(String(code), `s${String(code)[0]}xx`);
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false });
}

function ms(value) {
  return value === null || value === undefined ? "" : `${Math.round(value)} ms`;
}

// JSON with colours, built from text nodes so nothing in it can become markup.
function renderJson(target, value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  target.replaceChildren();
  const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (const match of text.matchAll(token)) {
    target.append(text.slice(last, match.index));
    if (match[1]) {
      target.append(el("span", { class: match[2] ? "k" : "s", text: match[1] }));
      if (match[2]) target.append(match[2]);
    } else if (match[3]) {
      target.append(el("span", { class: "b", text: match[3] }));
    } else {
      target.append(el("span", { class: "n", text: match[4] }));
    }
    last = match.index + match[0].length;
  }
  target.append(text.slice(last));
}

function prettyBody(text) {
  if (text === null || text === undefined || text === "") return "(empty)";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function say(text, kind) {
  const line = $("#fire-status");
  line.textContent = text;
  line.className = `status-line ${kind || ""}`;
}

function errorText(error) {
  let text = error.message;
  if (Array.isArray(error.details) && error.details.length && error.details[0].pointer !== undefined) {
    text += " [" + error.details.map((d) => d.pointer || "/").slice(0, 3).join(", ") + "]";
  }
  return text;
}

// -- firing ---------------------------------------------------------------------------

function formRequest(withTarget) {
  const form = $("#fire-form");
  const data = new FormData(form);
  const body = {
    event_type: data.get("event_type"),
    count: Number(data.get("count") || 1),
    profile: data.get("profile") || "realistic",
  };
  if (data.get("seed") !== "") body.seed = Number(data.get("seed"));
  const lines = String(data.get("set") || "").split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length) body.set = lines;
  if (withTarget) {
    const mode = data.get("mode");
    if (mode === "webhook") body.webhooks = [Number(data.get("webhook"))];
    if (mode === "url") {
      body.target = { url: String(data.get("url") || ""), verb: data.get("verb") };
      if (data.get("secret")) body.target.secret = String(data.get("secret"));
    }
  }
  return body;
}

async function preview() {
  const body = formRequest(false);
  body.count = 1;
  try {
    const result = await api("POST", "/api/events/generate", body);
    renderJson($("#preview"), result.events[0]);
    say("");
  } catch (error) {
    $("#preview").textContent = errorText(error);
    say(errorText(error), "bad");
  }
}

async function fire(event) {
  event.preventDefault();
  const button = $("#fire-button");
  button.disabled = true;
  try {
    const result = await api("POST", "/api/events", formRequest(true));
    const n = result.events.length;
    const d = result.deliveries.length;
    say(`Fired ${n} event${n === 1 ? "" : "s"}: ${d} deliver${d === 1 ? "y" : "ies"} queued.`, "ok");
    if (d === 0) say(`Fired ${n} event${n === 1 ? "" : "s"}, but no active webhook is subscribed to it.`, "bad");
    refreshDeliveries();
  } catch (error) {
    say(errorText(error), "bad");
  } finally {
    button.disabled = false;
  }
}

// -- deliveries -----------------------------------------------------------------------

const seenDeliveries = new Set();
let firstLoad = true;
let openDelivery = null;
let webhookNames = {};

async function refreshDeliveries() {
  const status = $("#delivery-filter").value;
  let page;
  try {
    page = await api("GET", `/api/deliveries?limit=50${status ? `&status=${status}` : ""}`);
  } catch {
    return;
  }
  const rows = page.deliveries.map((d) => {
    const fresh = !firstLoad && !seenDeliveries.has(d.id);
    seenDeliveries.add(d.id);
    const hook = d.webhook_id !== null && webhookNames[d.webhook_id] ? webhookNames[d.webhook_id] : d.url;
    const response = d.response_excerpt || d.last_error || "";
    return el("tr", {
      class: `clickable${fresh ? " fresh" : ""}${openDelivery === d.id ? " selected" : ""}`,
      dataset: { id: d.id, status: d.status },
      onclick: () => showDelivery(d.id),
    },
      el("td", { class: "num", text: d.id }),
      el("td", { class: "mono", text: when(d.created_at) }),
      el("td", { title: `id ${d.call_id} · event_id ${d.event_id}` }, el("div", { text: d.event_type }), el("div", { class: "mono muted small", text: `…${(d.call_id || "").slice(-8)}` })),
      el("td", { class: "hook", title: d.url, text: hook }),
      el("td", { class: "nowrap" }, badge(d.status), " ", d.last_status_code !== null ? statusBadge(d.last_status_code) : ""),
      el("td", { class: "num", text: d.attempts }),
      el("td", { class: "num", text: ms(d.latency_ms) }),
      el("td", { class: "excerpt", title: response, text: response }),
      el("td", {}, d.status !== "pending" ? el("button", {
        class: "small ghost", type: "button", text: "Replay",
        onclick: (e) => { e.stopPropagation(); replay(d.id); },
      }) : ""),
    );
  });
  const tbody = $("#deliveries-table tbody");
  if (rows.length) tbody.replaceChildren(...rows);
  else tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 9, text: "Nothing delivered yet. Fire an event." })));
  firstLoad = false;
  if (openDelivery !== null) showDelivery(openDelivery, true);
}

async function showDelivery(id, quiet) {
  const pane = $("#delivery-detail");
  let d;
  try {
    d = await api("GET", `/api/deliveries/${id}`);
  } catch (error) {
    if (!quiet) { pane.hidden = false; pane.textContent = errorText(error); }
    return;
  }
  openDelivery = id;
  const attempts = d.attempt_log.map((a) => el("tr", {},
    el("td", { class: "num", text: a.number }),
    el("td", { class: "mono", text: when(a.started_at) }),
    el("td", {}, statusBadge(a.status_code)),
    el("td", { class: "num", text: ms(a.latency_ms) }),
    el("td", { class: "excerpt", title: a.response_excerpt || "", text: a.error || a.response_excerpt || "" }),
  ));
  const body = el("pre", { class: "payload mono" });
  renderJson(body, prettyBody(d.body));
  pane.replaceChildren(
    el("div", { class: "card-head" },
      el("h3", { text: `Delivery #${d.id} · ${d.event_type} · ` }, badge(d.status)),
      el("button", { class: "small ghost", type: "button", text: "Close", onclick: () => { openDelivery = null; pane.hidden = true; } }),
    ),
    el("p", { class: "hint" }, badge(d.verb, "verb"), " ", el("span", { class: "mono", text: d.url }),
      d.next_attempt_at ? ` · next attempt ${when(d.next_attempt_at)}` : ""),
    el("div", { class: "table-wrap" }, el("table", { class: "table" },
      el("thead", {}, el("tr", {}, ["#", "Started", "Status", "Latency", "Response / error"].map((h) => el("th", { text: h })))),
      el("tbody", {}, attempts.length ? attempts : el("tr", { class: "empty" }, el("td", { colspan: 5, text: "No attempt yet." }))),
    )),
    el("h3", { class: "spaced", text: "Body sent" }),
    body,
  );
  pane.hidden = false;
}

async function replay(id) {
  try {
    await api("POST", `/api/deliveries/${id}/replay`, {});
    say(`Replaying delivery #${id}.`, "ok");
    refreshDeliveries();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

// -- webhooks -------------------------------------------------------------------------

async function refreshWebhooks() {
  let data;
  try { data = await api("GET", "/api/webhooks"); } catch { return; }
  webhookNames = Object.fromEntries(data.webhooks.map((h) => [h.id, h.name]));
  const rows = data.webhooks.map((h) => el("tr", { dataset: { id: h.id, state: h.active ? "active" : "inactive" } },
    el("td", { class: "num", text: h.id }),
    el("td", { text: h.name }),
    el("td", { text: h.event_types.length ? h.event_types.join(", ") : "(one-off target)" }),
    el("td", {}, badge(h.verb, "verb")),
    el("td", { class: "url mono", title: h.url, text: h.url }),
    el("td", { class: "mono", text: h.secret || "—" }),
    el("td", {}, badge(h.active ? "active" : "inactive")),
    el("td", { class: "num", text: h.failure_count }),
    el("td", { class: "num" },
      h.active ? "" : el("button", { class: "small primary", type: "button", text: "Reactivate", dataset: { testid: "reactivate" }, onclick: () => webhookAction(h.id, "reactivate") }),
      " ",
      el("button", { class: "small secondary", type: "button", text: "Ping", onclick: () => webhookAction(h.id, "ping") }),
      " ",
      el("button", { class: "small ghost", type: "button", text: "Delete", onclick: () => deleteWebhook(h.id, h.name) }),
    ),
  ));
  const tbody = $("#webhooks-table tbody");
  if (rows.length) tbody.replaceChildren(...rows);
  else tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 9, text: "No webhooks. Add one below." })));
  const select = $("#fire-webhook");
  const chosen = select.value;
  select.replaceChildren(...data.webhooks.map((h) => el("option", { value: h.id, text: `${h.name}${h.active ? "" : " (inactive)"}` })));
  if (chosen) select.value = chosen;
}

async function webhookAction(id, action) {
  try {
    const result = await api("POST", `/api/webhooks/${id}/${action}`, {});
    if (action === "ping") {
      say(result.ok ? `Ping answered ${result.status_code} in ${ms(result.latency_ms)}.` : `Ping failed: ${result.error || result.status_code}.`, result.ok ? "ok" : "bad");
    } else {
      say(`Webhook #${id} is active again.`, "ok");
    }
    refreshWebhooks();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

async function deleteWebhook(id, name) {
  if (!window.confirm(`Delete webhook #${id} (${name})? Its deliveries stay in the log.`)) return;
  try {
    await api("DELETE", `/api/webhooks/${id}`);
    refreshWebhooks();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

async function addWebhook(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = { name: data.get("name"), url: data.get("url"), verb: data.get("verb"), event_types: [data.get("event_types")] };
  if (data.get("secret")) body.secret = data.get("secret");
  try {
    await api("POST", "/api/webhooks", body);
    event.target.reset();
    say(`Webhook ${body.name} added.`, "ok");
    refreshWebhooks();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

// -- sinks ----------------------------------------------------------------------------

let sinkSeen = new Set();
let sinkFirst = true;

async function loadSink() {
  const name = $("#sink-select").value;
  if (!name) return;
  try {
    const sink = await api("GET", `/api/sinks/${encodeURIComponent(name)}`);
    const form = $("#sink-form");
    form.status.value = sink.status;
    form.delay_ms.value = sink.delay_ms;
    form.script.value = sink.script.join(", ");
    $("#sink-info").textContent = `${sink.url} · ${sink.has_secret ? `checks signatures (secret ${sink.secret})` : "no secret: signatures not checked"}`;
  } catch (error) {
    $("#sink-info").textContent = errorText(error);
  }
  sinkSeen = new Set();
  sinkFirst = true;
  refreshSinkRequests();
}

async function saveSink(event) {
  event.preventDefault();
  const name = $("#sink-select").value;
  const form = event.target;
  const script = form.script.value.split(/[\s,]+/).filter(Boolean).map(Number);
  const body = { status: Number(form.status.value), delay_ms: Number(form.delay_ms.value), script };
  try {
    // Fields left out (the secret) keep their value.
    await api("PUT", `/api/sinks/${encodeURIComponent(name)}`, body);
    say(`Sink ${name} saved.`, "ok");
    loadSink();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

async function clearSink() {
  const name = $("#sink-select").value;
  try {
    await api("DELETE", `/api/sinks/${encodeURIComponent(name)}/requests`);
    refreshSinkRequests();
  } catch (error) {
    say(errorText(error), "bad");
  }
}

async function refreshSinkRequests() {
  const name = $("#sink-select").value;
  if (!name) return;
  let data;
  try { data = await api("GET", `/api/sinks/${encodeURIComponent(name)}/requests?limit=30`); } catch { return; }
  const items = data.requests.map((r) => {
    const fresh = !sinkFirst && !sinkSeen.has(r.id);
    sinkSeen.add(r.id);
    const body = el("pre", { class: "payload mono" });
    renderJson(body, prettyBody(r.body));
    return el("li", { class: fresh ? "fresh" : "", dataset: { id: r.id, signature: r.signature } },
      el("div", { class: "req-head" },
        el("span", { class: "when", text: when(r.received_at) }),
        badge(r.method, "verb"),
        el("span", { text: "signature" }), badge(r.signature),
        el("span", { text: "answered" }), statusBadge(r.status),
        el("span", { class: "muted", text: `${r.body_size} bytes` }),
        r.json && r.json.event_type ? el("span", { class: "mono", text: `${r.json.event_type} ${r.json.id || ""}` }) : "",
      ),
      el("details", {},
        el("summary", { text: "headers and body" }),
        el("ul", { class: "headers" }, r.headers.map(([k, v]) => el("li", {}, el("b", { text: `${k}: ` }), v))),
        body,
      ),
    );
  });
  const list = $("#sink-requests");
  if (items.length) list.replaceChildren(...items);
  else list.replaceChildren(el("li", { class: "empty", text: "No requests yet." }));
  sinkFirst = false;
}

// -- schema ---------------------------------------------------------------------------

async function loadSchema(type) {
  try {
    const data = await api("GET", `/api/event-types/${encodeURIComponent(type)}/fields`);
    $("#schema-type").textContent = type;
    $("#schema-link").href = `/api/event-types/${encodeURIComponent(type)}/schema`;
    $("#schema-table tbody").replaceChildren(...data.fields.map((f) => el("tr", {},
      el("td", { class: "mono", text: f.path }),
      el("td", {}, el("span", { class: "type", text: f.type }), f.format ? " " : "", f.format ? el("span", { class: "fmt", text: f.format }) : ""),
      el("td", { text: f.required ? "✓" : "" }),
      el("td", { text: f.description || "" }),
    )));
  } catch { /* the select only offers known types */ }
}

// -- health ---------------------------------------------------------------------------

async function refreshHealth() {
  const badgeEl = $("#health");
  try {
    const h = await api("GET", "/api/health");
    badgeEl.classList.remove("down");
    badgeEl.title = `Database ${h.database}`;
    $("#delivery-counts").textContent = Object.entries(h.deliveries).map(([k, v]) => `${v} ${k}`).join(" · ");
  } catch {
    badgeEl.classList.add("down");
    badgeEl.title = "The server does not answer";
  }
}

// -- wiring ---------------------------------------------------------------------------

function debounce(fn, wait) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
}

function every(fn, period) {
  // One poll at a time: the next starts only once the previous has answered.
  const loop = async () => { await fn(); setTimeout(loop, period); };
  loop();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#fire-form").addEventListener("submit", fire);
  $("#preview-button").addEventListener("click", preview);
  $("#event-type").addEventListener("change", (e) => { preview(); loadSchema(e.target.value); });
  $("#fire-form").set.addEventListener("input", debounce(preview, 500));
  $("#fire-form").url.addEventListener("focus", () => { $("#fire-form").querySelector("input[value=url]").checked = true; });
  $("#fire-webhook").addEventListener("focus", () => { $("#fire-form").querySelector("input[value=webhook]").checked = true; });
  $("#delivery-filter").addEventListener("change", () => { firstLoad = true; refreshDeliveries(); });
  $("#webhook-form").addEventListener("submit", addWebhook);
  $("#sink-select").addEventListener("change", loadSink);
  $("#sink-form").addEventListener("submit", saveSink);
  $("#sink-clear").addEventListener("click", clearSink);
  preview();
  loadSink();
  every(refreshWebhooks, POLL_MS * 2);
  every(refreshDeliveries, POLL_MS);
  every(refreshSinkRequests, POLL_MS * 2);
  every(refreshHealth, POLL_MS * 2);
});
