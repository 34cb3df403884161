// The dispatcher's page: cases, one case's timeline, the chat. No build step, no dependencies.
// Everything that comes from a case (notes above all) is put on the page as text, never as HTML.
"use strict";

const KEY_STORE = "recourse.key";
const REFRESH_MS = 3000;
const state = { key: localStorage.getItem(KEY_STORE) || "", caseId: null, caseUpdated: null, busy: false };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- the API ---------------------------------------------------------------------------------------
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Authorization": `Bearer ${state.key}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (!response.ok) {
    let detail = `${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();

// -- words -----------------------------------------------------------------------------------------
const pretty = (status) => String(status || "").replace(/_/g, " ");
const time = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : "");
const when = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "");

function windowText(w) {
  if (!w || typeof w !== "object") return "a new window";
  const start = String(w.start || "").replace("T", " ").slice(0, 16);
  const end = String(w.end || "").replace("T", " ").slice(0, 16);
  return `${start}–${start.slice(0, 10) === end.slice(0, 10) ? end.slice(11) : end} UTC`;
}

function describe(tool, args = {}) {
  switch (tool) {
    case "reassign_driver": return `Reassign ${args.pickup_id} to driver ${args.driver_id}`;
    case "reschedule_pickup": return `Reschedule ${args.pickup_id} to ${windowText(args.window)}`;
    case "notify_customer": return `Notify customer ${args.customer_id} about ${args.pickup_id}`;
    case "issue_credit": return `Credit customer ${args.customer_id} ${Number(args.amount_usd).toFixed(2)} USD`;
    case "cancel_pickup": return `Cancel ${args.pickup_id}`;
    default: return `${tool} ${JSON.stringify(args)}`;
  }
}

const badge = (status) => el("span", { class: `badge s-${status}` }, pretty(status));
const reasons = (list) => (list || []).map((r) => el("li", {}, r.msg, " ", el("code", {}, r.rule)));

// -- cases list ------------------------------------------------------------------------------------
async function refreshCases() {
  if (!state.key) return;
  const status = $("status-filter").value;
  try {
    const page = await getJSON(`/v1/cases?limit=200${status ? `&status=${status}` : ""}`);
    const items = page.items.slice().reverse();  // newest first
    const list = $("case-list");
    list.replaceChildren(...items.map((c) => el("li", {},
      el("button", { type: "button", class: `case-item${c.id === state.caseId ? " active" : ""}`, dataset: { caseId: c.id },
                     onclick: () => openCase(c.id) },
        el("span", { class: "row" }, el("span", { class: "case-id" }, c.id), el("span", { class: "muted small" }, time(c.updated_at))),
        el("span", { class: "row" }, badge(c.status), el("span", { class: "case-sub muted" }, `pickup ${c.pickup_id} · ${pretty(c.category || "unclassified")}`))))));
    if (!items.length) list.replaceChildren(el("li", { class: "muted small pad" }, "No cases yet."));
    $("refreshed").textContent = `Refreshed ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
    setKeyState(`${page.items.length} case${page.items.length === 1 ? "" : "s"}`);
    const open = items.find((c) => c.id === state.caseId);
    if (open && open.updated_at !== state.caseUpdated && !state.busy) await openCase(open.id, true);
  } catch (error) {
    setKeyState(error.status === 401 ? "key rejected" : error.status === 403 ? "this key may not list cases" : error.message, true);
  }
}

function setKeyState(text, bad = false) {
  $("key-state").textContent = text;
  $("key-state").className = bad ? "bad-text" : "muted";
}

// -- one case --------------------------------------------------------------------------------------
async function openCase(caseId, quiet = false) {
  const [view, audit] = await Promise.all([getJSON(`/v1/cases/${encodeURIComponent(caseId)}`),
                                           getJSON(`/v1/cases/${encodeURIComponent(caseId)}/audit`)]);
  const switched = state.caseId !== caseId;
  state.caseId = caseId;
  state.caseUpdated = view.updated_at;
  $("case-empty").hidden = true;
  $("case").hidden = false;
  $("case-title").textContent = view.id;
  $("case-meta").textContent = `event ${view.event_id} · pickup ${view.pickup_id} · ${pretty(view.category || "unclassified")} · opened ${when(view.created_at)}`;
  $("case-status").replaceWith(Object.assign(badge(view.status), { id: "case-status" }));
  renderApproval(view);
  renderEscalation(view);
  $("timeline").replaceChildren(...audit.map(entryNode));
  for (const item of document.querySelectorAll(".case-item")) item.classList.toggle("active", item.dataset.caseId === caseId);
  setScope();
  if (switched && !quiet) $("chat-input").focus();
}

function renderApproval(view) {
  const box = $("approval");
  box.hidden = view.status !== "awaiting_approval";
  if (box.hidden) return;
  const held = (view.escalation && view.escalation.held_actions) || [];
  $("held").replaceChildren(...held.map((h) => el("li", {}, el("strong", {}, describe(h.tool, h.args)), el("ul", { class: "reasons" }, reasons(h.reasons)))));
  $("approval-state").textContent = "";
}

function renderEscalation(view) {
  const box = $("escalation");
  box.hidden = view.status !== "escalated" || !view.escalation;
  if (box.hidden) return;
  $("escalation-reason").textContent = pretty(view.escalation.reason);
  $("escalation-next").textContent = view.escalation.recommended_action || "";
}

async function answerApproval(decision) {
  if (!state.caseId) return;
  state.busy = true;
  for (const id of ["approve", "reject"]) $(id).disabled = true;
  $("approval-state").textContent = decision === "approve" ? "Approving… the actions pass the gate again and run." : "Rejecting…";
  try {
    await api(`/v1/cases/${encodeURIComponent(state.caseId)}/approvals`, {
      method: "POST", body: JSON.stringify({ decision, comment: $("approval-comment").value }),
    });
    $("approval-comment").value = "";
  } catch (error) {
    $("approval-state").textContent = `Could not ${decision}: ${error.message}`;
  } finally {
    for (const id of ["approve", "reject"]) $(id).disabled = false;
    state.busy = false;
  }
  await openCase(state.caseId, true);
  await refreshCases();
}

// -- the timeline: one node per audit entry, in the order the graph ran ---------------------------------
const STAGE = {
  "case.submitted": "reported", "evidence.joined": "reported", "classified": "classified", "planned": "planned",
  "gate.decision": "gate", "action": "action", "verified": "verified", "approval.requested": "approval",
  "approval.answered": "approval", "approval.received": "approval", "case.resolved": "resolved",
  "case.escalated": "escalated", "case.shadowed": "shadowed", "case.paused": "paused", "case.resumed": "paused",
  "case.abandoned": "escalated",
};

function entryNode(entry) {
  const p = entry.payload || {};
  const stage = STAGE[entry.kind] || "other";
  return el("li", { id: `entry-${entry.seq}`, class: `entry st-${stage}`, dataset: { seq: entry.seq } },
    el("div", { class: "entry-head" },
      el("span", { class: "seq" }, `#${entry.seq}`),
      el("span", { class: "kind" }, entry.kind),
      el("span", { class: "muted small" }, time(entry.at))),
    el("div", { class: "entry-body" }, entryBody(entry.kind, p)));
}

function entryBody(kind, p) {
  switch (kind) {
    case "case.submitted":
    case "evidence.joined":
      return [el("p", {}, `${pretty(p.type)} for pickup ${p.pickup_id}, from ${pretty(p.source)}`),
              p.note ? el("blockquote", { class: "note", title: "quoted as reported; never read as an instruction" }, p.note) : null];
    case "classified":
      return [el("p", {}, el("strong", {}, pretty(p.category)), ` · severity ${p.severity} · `, confidence(p.confidence),
                 p.confidence_sufficient === false ? el("span", { class: "chip bad" }, "below threshold") : null),
              el("p", { class: "muted" }, p.rationale),
              p.evidence && p.evidence.length ? el("ul", { class: "small evidence" }, p.evidence.map((e) => el("li", {}, e))) : null];
    case "planned":
      return [el("p", {}, `Revision ${p.revision}: `, el("span", { class: "muted" }, p.rationale)),
              (p.actions || []).length
                ? el("ol", { class: "plan" }, p.actions.map((a) => el("li", {}, el("strong", {}, describe(a.tool, a.args)), el("div", { class: "muted small" }, a.rationale))))
                : el("p", {}, p.escalate ? `No autonomous remedy: ${pretty(p.escalate)}` : "No action needed."),
              (p.rejected || []).length
                ? el("details", { class: "rejected", open: "" }, el("summary", {}, `${p.rejected.length} alternative${p.rejected.length === 1 ? "" : "s"} rejected`),
                     el("ul", {}, p.rejected.map((r) => el("li", {}, el("s", {}, r.option), " — ", r.rejected_because))))
                : null];
    case "gate.decision": {
      const d = p.decision || {};
      const rules = (d.deny && d.deny.length ? d.deny : d.approval) || [];
      return [el("p", {}, el("span", { class: `chip d-${p.disposition}` }, pretty(p.disposition)), " ", el("strong", {}, describe(p.tool, p.args))),
              rules.length ? el("ul", { class: "reasons" }, reasons(rules)) : el("p", { class: "muted small" }, p.why),
              el("p", { class: "muted small" }, `${d.engine || "gate"} · level ${d.level || "?"} · policy ${d.policy_revision || "?"}`)];
    }
    case "action":
      return [el("p", {}, el("span", { class: `chip a-${p.status}` }, p.status), " ", el("strong", {}, describe(p.tool, p.args))),
              el("ol", { class: "attempts small" }, (p.attempts || []).map((a) => el("li", { class: a.error ? "bad-text" : "" }, a.error ? `${a.error}${a.detail ? ` (${a.detail})` : ""}` : "ok")))];
    case "verified": {
      const checks = p.checks || [];
      return checks.length
        ? el("ul", { class: "checks" }, checks.map((c) => el("li", { class: c.holds ? "good-text" : "bad-text" }, `${c.holds ? "✓" : "✗"} ${c.observed}`)))
        : el("p", { class: "muted" }, "Nothing to check yet.");
    }
    case "approval.requested":
      return el("ul", {}, (p.held || []).map((h) => el("li", {}, describe(h.tool, h.args), el("ul", { class: "reasons" }, reasons(h.reasons)))));
    case "approval.answered":
    case "approval.received":
      return el("p", {}, `${p.decision} by ${p.by || "?"}`, p.comment ? el("q", {}, p.comment) : null);
    case "case.escalated":
      return [el("p", {}, el("strong", {}, pretty(p.reason))), el("p", { class: "muted" }, p.recommended_action)];
    case "case.resolved":
      return el("p", { class: "good-text" }, "Resolved: every action took effect and was verified.");
    default:
      return el("pre", { class: "small" }, JSON.stringify(p, null, 1));
  }
}

function confidence(value) {
  const pct = Math.round((value || 0) * 100);
  const fill = el("span");
  fill.style.width = `${pct}%`;  // CSSOM, not a style attribute: the page's CSP allows no inline style
  return el("span", { class: "conf", title: `confidence ${value}` }, el("span", { class: "bar" }, fill), ` ${pct}%`);
}

// -- chat ------------------------------------------------------------------------------------------
function setScope() {
  const scope = $("chat-scope");
  scope.replaceChildren();
  if (state.caseId) {
    scope.append(`about ${state.caseId} `, el("button", { type: "button", class: "link", title: "ask across all cases",
      onclick: () => { state.caseId = null; setScope(); for (const i of document.querySelectorAll(".case-item")) i.classList.remove("active"); } }, "×"));
  } else {
    scope.append("across all cases");
  }
}

function bubble(role, text = "") {
  const node = el("div", { class: `msg ${role}` }, el("div", { class: "text" }, text));
  $("messages").append(node);
  $("messages").scrollTop = $("messages").scrollHeight;
  return node;
}

// The answer's text with its citations as links to timeline entries (only the seqs the answer lists)
// and the cases it speaks of as links that open them.
function renderAnswer(node, answer) {
  const cites = new Set(answer.citations || []);
  const cases = (answer.cases || []).slice().sort((a, b) => b.length - a.length);
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`\\[#(\\d+)\\]${cases.length ? `|(${cases.map(escape).join("|")})` : ""}`, "g");
  const text = node.querySelector(".text");
  text.replaceChildren();
  let last = 0;
  for (const match of answer.answer.matchAll(pattern)) {
    text.append(answer.answer.slice(last, match.index));
    if (match[1] && cites.has(Number(match[1]))) {
      text.append(el("a", { href: `#entry-${match[1]}`, class: "cite", dataset: { seq: match[1] }, onclick: (e) => { e.preventDefault(); showEntry(match[1]); } }, `#${match[1]}`));
    } else if (match[2]) {
      text.append(el("a", { href: "#", class: "case-link", onclick: (e) => { e.preventDefault(); openCase(match[2]); } }, match[2]));
    } else {
      text.append(match[0]);
    }
    last = match.index + match[0].length;
  }
  text.append(answer.answer.slice(last));
  const actions = answer.actions || [];
  if (actions.length) {
    node.append(el("div", { class: "offers" }, actions.map((a) => el("button", {
      type: "button", class: a.decision === "approve" ? "good" : "bad",
      onclick: () => { $("chat-input").value = a.message; $("chat-input").focus(); if (a.decision === "approve") send(); },
    }, a.label))));
  }
  if (answer.approval) node.append(el("p", { class: "small muted" }, `${answer.approval.decision} → ${pretty(answer.approval.status)}`));
}

function showEntry(seq) {
  const entry = document.getElementById(`entry-${seq}`);
  if (!entry) return;
  entry.scrollIntoView({ behavior: "smooth", block: "center" });
  entry.classList.remove("flash");
  void entry.offsetWidth;
  entry.classList.add("flash");
}

async function send() {
  const message = $("chat-input").value.trim();
  if (!message) return;
  if (!state.key) { bubble("bot", "Enter an API key first (top right)."); return; }
  $("chat-input").value = "";
  bubble("me", message);
  const reply = bubble("bot");
  reply.classList.add("pending");
  $("chat-send").disabled = true;
  try {
    const response = await api("/v1/chat", {
      method: "POST", headers: { "Accept": "text/event-stream" },
      body: JSON.stringify({ message, ...(state.caseId ? { case_id: state.caseId } : {}) }),
    });
    let done = null;
    for await (const [event, data] of sse(response)) {
      if (event === "delta") reply.querySelector(".text").append(data.text);
      else if (event === "done") done = data;
      else if (event === "error") throw new Error(data.detail);
      $("messages").scrollTop = $("messages").scrollHeight;
    }
    if (done) {
      renderAnswer(reply, done);
      reply.classList.add("answered");
      if (done.approval) { await refreshCases(); if (state.caseId) await openCase(state.caseId, true); }
    }
  } catch (error) {
    reply.querySelector(".text").textContent = error.message;
    reply.classList.add("error");
  } finally {
    reply.classList.remove("pending");
    $("chat-send").disabled = false;
    $("messages").scrollTop = $("messages").scrollHeight;
  }
}

// Server-sent events from a POST: fetch's stream, split into "event:" / "data:" blocks.
async function* sse(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      yield [event, JSON.parse(data.join("\n"))];
    }
  }
}

// -- wiring ----------------------------------------------------------------------------------------
function start() {
  $("key").value = state.key;
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("key").value.trim();
    localStorage.setItem(KEY_STORE, state.key);
    setKeyState("checking…");
    refreshCases();
  });
  $("status-filter").addEventListener("change", refreshCases);
  $("approve").addEventListener("click", () => answerApproval("approve"));
  $("reject").addEventListener("click", () => answerApproval("reject"));
  $("chat-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("chat-input").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
  for (const b of $("quick").querySelectorAll("button")) b.addEventListener("click", () => { $("chat-input").value = b.dataset.q; send(); });
  setScope();
  bubble("bot", "Ask why Recourse did something, what is waiting for your approval, or what happened today. Every answer cites audit entries (#n): click one to see it in the timeline.");
  if (state.key) refreshCases(); else setKeyState("enter a key to start");
  setInterval(refreshCases, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
