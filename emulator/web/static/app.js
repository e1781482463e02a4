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
  const details = Array.isArray(error.details) ? error.details : [];
  // The API calls the overrides field `set`; on this page it is "Overrides".
  if (details.length && details.every((d) => String(d.pointer || "").startsWith("/set"))) {
    return `Overrides: ${text.replace(/^'?set'?\b[:,]?\s*/i, "")}`;
  }
  if (details.length && details[0].pointer !== undefined) {
    text += " [" + details.map((d) => d.pointer || "/").slice(0, 3).join(", ") + "]";
  }
  return text;
}

// Each non-empty line of Overrides is PATH=VALUE; say which line is not, in the page's words.
function overrideLines() {
  const lines = String($("#fire-form").set.value || "").split("\n").map((l) => l.trim());
  const out = [];
  lines.forEach((line, i) => {
    if (!line) return;
    if (!line.includes("=") || line.startsWith("=")) {
      const error = new Error(`Overrides, line ${i + 1}: "${line.slice(0, 60)}" is not PATH=VALUE; write e.g. data.guest.email=null`);
      error.local = true;
      throw error;
    }
    out.push(line);
  });
  return out;
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
  const lines = overrideLines();
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
  try {
    const body = formRequest(false);
    body.count = 1;
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
let renderedDetail = "";
let webhookNames = {};
// Paging: the cursors of the pages before this one (newest first); null is the first page.
let pageCursors = [];
let pageCursor = null;
let nextCursor = null;

function filterQuery() {
  const data = new FormData($("#delivery-filters"));
  const query = new URLSearchParams();
  for (const [key, value] of data.entries()) {
    const text = String(value).trim();
    if (!text) continue;
    // datetime-local is the browser's local time; the API takes ISO 8601 (UTC).
    query.set(key, key === "since" || key === "until" ? new Date(text).toISOString() : text);
  }
  return query;
}

function filtersChanged() {
  pageCursors = [];
  pageCursor = null;
  firstLoad = true;
  refreshDeliveries();
}

async function refreshDeliveries() {
  const query = filterQuery();
  query.set("limit", "50");
  if (pageCursor !== null) query.set("cursor", pageCursor);
  let page;
  try {
    page = await api("GET", `/api/deliveries?${query}`);
  } catch (error) {
    $("#delivery-range").textContent = errorText(error);
    return;
  }
  nextCursor = page.next_cursor;
  const first = pageCursors.length * 50;
  $("#delivery-range").textContent = page.total
    ? `${first + 1}–${first + page.deliveries.length} of ${page.total}`
    : (query.toString() === "limit=50" ? "" : "No delivery matches these filters.");
  $("#page-older").disabled = nextCursor === null;
  $("#page-newer").disabled = pageCursors.length === 0;
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
      el("td", { class: "actions-cell" }, d.status !== "pending" ? el("button", {
        class: "small ghost", type: "button", text: "Replay", dataset: { testid: "replay" },
        onclick: (e) => { e.stopPropagation(); replay(d.id); },
      }) : ""),
    );
  });
  const tbody = $("#deliveries-table tbody");
  if (rows.length) tbody.replaceChildren(...rows);
  else tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 9, text: query.toString() === "limit=50" ? "Nothing delivered yet. Fire an event." : "No delivery matches these filters." })));
  firstLoad = false;
  if (openDelivery !== null) await showDelivery(openDelivery, true);
  tick("deliveryRefreshes");
}

// Counts live refreshes on <body data-*>: lets a test wait for "two more refreshes" instead of sleeping.
function tick(name) {
  document.body.dataset[name] = String(Number(document.body.dataset[name] || 0) + 1);
}

function pageOlder() {
  if (nextCursor === null) return;
  pageCursors.push(pageCursor);
  pageCursor = nextCursor;
  refreshDeliveries();
}

function pageNewer() {
  if (!pageCursors.length) return;
  pageCursor = pageCursors.pop();
  refreshDeliveries();
}

function headerList(headers) {
  const entries = Object.entries(headers || {});
  if (!entries.length) return el("p", { class: "hint", text: "(none)" });
  return el("ul", { class: "headers" }, entries.map(([k, v]) => el("li", {}, el("b", { text: `${k}: ` }), v)));
}

// A part of the detail that the user may open or scroll: `key` finds it again after a redraw.
function keep(node, key) {
  node.dataset.keep = key;
  return node;
}

async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    say(`${what} copied.`, "ok");
  } catch {
    say(`Could not copy (the browser refused); select the text instead.`, "bad");
  }
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
  if (quiet && openDelivery !== id) return;  // closed (or another opened) while this was loading
  openDelivery = id;
  // The live refresh asks again every second: redraw only when something changed, and
  // then keep what the reader opened and where they scrolled.
  const key = JSON.stringify(d);
  if (quiet && key === renderedDetail && !pane.hidden) return;
  renderedDetail = key;
  const kept = {};
  for (const node of pane.querySelectorAll("[data-keep]")) {
    kept[node.dataset.keep] = { open: node.open, top: node.scrollTop, left: node.scrollLeft };
  }
  const attempts = d.attempt_log.map((a) => el("details", { class: "attempt" },
    el("summary", {},
      el("span", { class: "num", text: `#${a.number}` }), " ",
      el("span", { class: "mono", text: when(a.started_at) }), " ",
      statusBadge(a.status_code), " ",
      el("span", { class: "muted", text: `${a.outcome} · ${ms(a.latency_ms)}` }), " ",
      el("span", { class: "excerpt", text: a.error || a.response_excerpt || "" }),
    ),
    el("div", { class: "both-ways" },
      el("div", {}, el("h4", { text: `Request: ${a.verb} ` }, el("span", { class: "mono", text: a.url })), headerList(a.request_headers)),
      el("div", {}, el("h4", { text: "Response headers" }), headerList(a.response_headers),
        el("h4", { text: "Response body" }), keep(el("pre", { class: "payload mono small-pre", text: a.response_body === null ? "(empty)" : prettyBody(a.response_body) }), `resp-${a.number}`)),
    ),
  ));
  attempts.forEach((node, i) => keep(node, `attempt-${d.attempt_log[i].number}`));
  const body = keep(el("pre", { class: "payload mono", dataset: { testid: "body-sent" } }), "body");
  renderJson(body, prettyBody(d.body));
  const verdicts = {
    valid: "verifies with the webhook's secret",
    invalid: "does not verify with the webhook's secret now (it changed since)",
    unsigned: "none sent: the webhook has no secret",
    unknown: "cannot be checked: the webhook is gone or has no secret now",
  };
  pane.replaceChildren(
    el("div", { class: "card-head" },
      el("h3", { text: `Delivery #${d.id} · ${d.event_type} · ` }, badge(d.status)),
      el("div", { class: "buttons" },
        d.status !== "pending" ? el("button", { class: "small primary", type: "button", text: "Replay", dataset: { testid: "detail-replay" }, onclick: () => replay(d.id) }) : "",
        d.curl ? el("button", { class: "small secondary", type: "button", text: "Copy as curl", dataset: { testid: "copy-curl" }, onclick: () => copyText(d.curl, "curl command") }) : "",
        el("button", { class: "small ghost", type: "button", text: "Close", onclick: () => { openDelivery = null; renderedDetail = ""; pane.hidden = true; } }),
      ),
    ),
    el("p", { class: "hint" }, badge(d.verb, "verb"), " ", el("span", { class: "mono", text: d.url }),
      ` · id ${d.call_id} · event_id ${d.event_id}`,
      d.next_attempt_at ? ` · next attempt ${when(d.next_attempt_at)}` : ""),
    el("p", { class: "signature", dataset: { testid: "signature" } },
      el("b", { text: "Signature " }),
      d.signature ? el("code", { class: "mono", text: d.signature }) : "",
      " ", badge(d.signature_check, d.signature_check === "valid" ? "valid" : d.signature_check === "invalid" ? "invalid" : "pending"),
      " ", el("span", { class: "hint", text: verdicts[d.signature_check] || "" }),
    ),
    el("h3", { class: "spaced", text: `Attempts (${d.attempt_log.length})` }),
    attempts.length ? el("div", { class: "attempts", dataset: { testid: "attempts" } }, attempts) : el("p", { class: "hint", text: "No attempt yet." }),
    d.curl ? keep(el("details", { class: "curl" }, el("summary", { text: "The last attempt as curl (the same bytes)" }),
      keep(el("pre", { class: "payload mono small-pre", text: d.curl, dataset: { testid: "curl" } }), "curl-pre")), "curl") : "",
    el("h3", { class: "spaced", text: "Body sent" }),
    body,
    zenotiSection(d.body),
  );
  for (const node of pane.querySelectorAll("[data-keep]")) {
    const state = kept[node.dataset.keep];
    if (!state) continue;
    if (node.tagName === "DETAILS") node.open = state.open;
    node.scrollTop = state.top;
    node.scrollLeft = state.left;
  }
  pane.hidden = false;
}

// -- what Zenoti's read API (/v1) answers for an event's guest, group and invoice ----------

function zenotiLinks(bodyText) {
  let event;
  try { event = JSON.parse(bodyText); } catch { return []; }
  const data = (event && typeof event.data === "object" && event.data) || {};
  const invoice = (data.invoice && typeof data.invoice === "object") ? data.invoice : {};
  const guest = (data.guest && data.guest.id) || data.guest_id || (invoice.guest && invoice.guest.id)
    || (event.event_resource === "Guest" ? data.id : null);
  const group = data.appointment_group_id || invoice.appointment_group_id;
  const invoiceId = data.invoice_id || invoice.id;
  const links = [];
  if (guest) links.push(["Guest", `/v1/guests/${encodeURIComponent(guest)}`]);
  if (group) links.push(["Appointment group", `/v1/appointment_groups/${encodeURIComponent(group)}`]);
  if (invoiceId) links.push(["Invoice", `/v1/invoices/${encodeURIComponent(invoiceId)}`]);
  return links;
}

async function askZenoti(path, target) {
  const key = document.body.dataset.zenotiKey || "";
  let text;
  try {
    const response = await fetch(path, { headers: { Accept: "application/json", Authorization: `apikey ${key}` } });
    text = `// GET ${path} -> ${response.status}\n` + JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    text = `GET ${path} failed: ${error.message}`;
  }
  target.hidden = false;
  renderJson(target, text);
}

function zenotiSection(bodyText) {
  const links = zenotiLinks(bodyText);
  if (!links.length) return "";
  const answer = el("pre", { class: "payload mono small-pre", hidden: true, dataset: { testid: "zenoti-answer" } });
  return el("div", { class: "zenoti", dataset: { testid: "zenoti-links" } },
    el("h3", { class: "spaced", text: "What Zenoti's API answers now" }),
    el("p", { class: "hint" }, ...links.map(([what, path]) => el("button", {
      class: "small secondary", type: "button", text: what, title: `GET ${path}`,
      dataset: { testid: `zenoti-${what.split(" ")[0].toLowerCase()}` }, onclick: () => askZenoti(path, answer),
    }))),
    answer,
  );
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
  const filter = $("#filter-webhook");
  const filtered = filter.value;
  filter.replaceChildren(el("option", { value: "", text: "any webhook" }), ...data.webhooks.map((h) => el("option", { value: h.id, text: `#${h.id} ${h.name}` })));
  filter.value = filtered;
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
    $("#sink-info").textContent = `${sink.url} · ${sink.has_secret ? "checks signatures" : "no secret: signatures not checked"}`;
    sinkUrl = sink.url;
    revealedSecret = null;
    $("#sink-secret").hidden = !sink.has_secret;
    maskedSecret = sink.secret || "";
    $("#sink-secret code").textContent = maskedSecret;
    $("#sink-reveal").textContent = "Reveal";
    $("#sink-sign-hint").hidden = true;
  } catch (error) {
    $("#sink-info").textContent = errorText(error);
  }
  sinkSeen = new Set();
  sinkFirst = true;
  $("#sink-requests").replaceChildren();
  refreshSinkRequests();
}

// The secret is masked until asked for; then shown with the command that signs for it.
let sinkUrl = "";
let maskedSecret = "";
let revealedSecret = null;

async function sinkSecret() {
  if (revealedSecret !== null) return revealedSecret;
  const data = await api("GET", `/api/sinks/${encodeURIComponent($("#sink-select").value)}/secret`);
  revealedSecret = data.secret || "";
  return revealedSecret;
}

async function toggleSecret() {
  const code = $("#sink-secret code");
  const hint = $("#sink-sign-hint");
  if (!hint.hidden) {
    code.textContent = maskedSecret;
    hint.hidden = true;
    $("#sink-reveal").textContent = "Reveal";
    return;
  }
  try {
    const secret = await sinkSecret();
    code.textContent = secret;
    hint.textContent = `zenoti-emulator fire -t ${sinkUrl} --secret '${secret.replace(/'/g, "'\\''")}'`;
    hint.hidden = false;
    $("#sink-reveal").textContent = "Hide";
  } catch (error) {
    say(errorText(error), "bad");
  }
}

async function copySecret() {
  try {
    copyText(await sinkSecret(), "Sink secret");
  } catch (error) {
    say(errorText(error), "bad");
  }
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
  if ($("#sink-select").value !== name) return;  // another sink was chosen meanwhile
  // Captured requests never change: new ones go on top, gone ones (cleared, or past the
  // 30 shown) are removed, and the rest stay the same nodes, open or scrolled as they were.
  const list = $("#sink-requests");
  const existing = new Map([...list.querySelectorAll(":scope > li[data-id]")].map((li) => [Number(li.dataset.id), li]));
  const wanted = new Set(data.requests.map((r) => r.id));
  for (const [id, li] of existing) if (!wanted.has(id)) li.remove();
  list.querySelector(":scope > li.empty")?.remove();
  let anchor = list.firstElementChild;
  for (const r of data.requests) {
    const li = existing.get(r.id);
    if (li) { anchor = li.nextElementSibling; continue; }
    list.insertBefore(sinkItem(r, !sinkFirst && !sinkSeen.has(r.id)), anchor);
    sinkSeen.add(r.id);
  }
  if (!data.requests.length) list.replaceChildren(el("li", { class: "empty", text: "No requests yet." }));
  sinkFirst = false;
  tick("sinkRefreshes");
}

function sinkItem(r, fresh) {
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
}

// -- validate -------------------------------------------------------------------------

const MAX_CAPTURE_BYTES = 1024 * 1024;

async function loadCaptureFile(event) {
  const file = event.target.files[0];
  if (!file) return;
  if (file.size > MAX_CAPTURE_BYTES) {
    showValidateError(`${file.name} is ${Math.round(file.size / 1024)} KiB; the page takes up to 1 MiB. For more, run: zenoti-emulator validate ${file.name}`);
    event.target.value = "";
    return;
  }
  $("#validate-form").capture.value = await file.text();
  $("#validate-result").replaceChildren(el("p", { class: "hint", text: `${file.name} loaded (${file.size} bytes). Press Validate.` }));
}

function showValidateError(text) {
  $("#validate-result").replaceChildren(el("p", { class: "status-line bad", text }));
}

async function validateCapture(event) {
  event.preventDefault();
  const form = event.target;
  const text = form.capture.value;
  if (!text.trim()) {
    showValidateError("Paste a capture or choose a file first.");
    return;
  }
  if (new Blob([text]).size > MAX_CAPTURE_BYTES) {
    showValidateError("The capture is over 1 MiB; run zenoti-emulator validate FILE for bigger ones.");
    return;
  }
  const query = new URLSearchParams();
  if (form.event_type.value) query.set("event_type", form.event_type.value);
  if (form.strict.checked) query.set("strict", "true");
  if (form.fail_on_drift.checked) query.set("fail_on_drift", "true");
  let report;
  try {
    // The capture goes as it is, not re-encoded: a HAR or JSON Lines is not one JSON value.
    const response = await fetch(`/api/validate?${query}`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: text,
    });
    report = await response.json().catch(() => null);
    if (!response.ok) {
      showValidateError((report && report.error && report.error.message) || `${response.status} ${response.statusText}`);
      return;
    }
  } catch (error) {
    showValidateError(String(error.message || error));
    return;
  }
  renderReport(report);
}

function renderReport(report) {
  const s = report.summary;
  const head = el("p", { class: "report-head", dataset: { testid: "validate-summary" } },
    badge(report.ok ? "valid" : "invalid"), " ",
    `${s.total} event${s.total === 1 ? "" : "s"}: ${s.valid} valid, ${s.invalid} invalid, ${s.skipped} skipped`,
  );
  const events = report.events.map((e) => el("li", { dataset: { status: e.status } },
    el("div", {}, badge(e.status === "invalid" ? "invalid" : "pending", e.status === "invalid" ? "invalid" : "pending"), " ",
      el("span", { class: "mono", text: e.source.label }), " ",
      e.event_type ? el("span", { text: e.event_type }) : "", " ",
      e.id ? el("span", { class: "mono muted", text: `id=${e.id}` }) : ""),
    (e.errors && e.errors.length)
      ? el("ul", { class: "errors mono" }, e.errors.map((x) => el("li", { text: `${x.path}: expected ${x.expected}, found ${x.found}` })))
      : el("div", { class: "hint", text: e.message || e.reason || "" }),
  ));
  const drift = [];
  for (const [type, d] of Object.entries(report.drift.event_types || {})) {
    const lines = [
      ...(d.unknown_fields || []).map((f) => `unknown field ${f.path}: ${f.count}×`),
      ...(d.undocumented_values || []).map((v) => `undocumented value ${v.path} = ${JSON.stringify(v.value)}: ${v.count}×`),
      ...(d.varying_types || []).map((v) => `varying type ${v.path}: ${Object.keys(v.types).join(", ")} (schema: ${[].concat(v.schema).join(", ")})`),
    ];
    if (lines.length) drift.push(el("li", {}, el("b", { text: `${type}` }), el("ul", { class: "mono" }, lines.map((t) => el("li", { text: t })))));
  }
  $("#validate-result").replaceChildren(
    head,
    events.length ? el("ul", { class: "report-events", dataset: { testid: "validate-events" } }, events) : el("p", { class: "hint", text: "Every event is valid." }),
    drift.length ? el("div", {}, el("h3", { class: "spaced", text: "Drift (warnings)" }), el("ul", { class: "report-drift", dataset: { testid: "validate-drift" } }, drift)) : "",
  );
}

// -- schema ---------------------------------------------------------------------------

async function loadSchema(type) {
  try {
    const data = await api("GET", `/api/event-types/${encodeURIComponent(type)}/fields`);
    $("#schema-type").textContent = type;
    $("#schema-pick").value = type;
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
  $("#schema-pick").addEventListener("change", (e) => loadSchema(e.target.value));
  $("#fire-form").set.addEventListener("input", debounce(preview, 500));
  $("#fire-form").url.addEventListener("focus", () => { $("#fire-form").querySelector("input[value=url]").checked = true; });
  $("#fire-webhook").addEventListener("focus", () => { $("#fire-form").querySelector("input[value=webhook]").checked = true; });
  const filters = $("#delivery-filters");
  filters.addEventListener("change", filtersChanged);
  filters.addEventListener("input", debounce(filtersChanged, 400));
  filters.addEventListener("reset", () => setTimeout(filtersChanged, 0));
  filters.addEventListener("submit", (e) => { e.preventDefault(); filtersChanged(); });
  $("#page-older").addEventListener("click", pageOlder);
  $("#page-newer").addEventListener("click", pageNewer);
  $("#sink-reveal").addEventListener("click", toggleSecret);
  $("#sink-copy").addEventListener("click", copySecret);
  $("#validate-form").addEventListener("submit", validateCapture);
  $("#validate-form").file.addEventListener("change", loadCaptureFile);
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
