// claude-workers dashboard: reads the JSON API, follows GET /events, renders with textContent only
// (a prompt or a worker's message is data, never markup).
"use strict";

const EVENT_KINDS = [
  "job.queued", "job.started", "job.waiting", "job.retried", "job.finished", "job.failed", "job.canceled",
  "fleet.gate_closed", "fleet.gate_opened", "fleet.probe", "worker.joined", "worker.left",
];
const STALE_AFTER_S = 60; // a worker beats every few seconds; a minute of silence is not healthy

const $ = (id) => document.getElementById(id);
const state = { fleet: null, jobs: [], detail: null, refreshTimer: null };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

async function api(path) {
  const answer = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (answer.status === 401) { location.reload(); throw new Error("signed out"); }
  if (!answer.ok) throw new Error(`${path}: HTTP ${answer.status}`);
  return answer.json();
}

// --- words and numbers ---------------------------------------------------------------
function clock(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
}
function span(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  seconds = Math.max(0, seconds);
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${String(Math.floor(seconds % 3600 / 60)).padStart(2, "0")}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor(seconds % 86400 / 3600)}h`;
}
const now = () => Date.now() / 1000;
const ago = (t) => (t ? `${span(now() - t)} ago` : "");
const money = (usd) => (usd == null ? "" : usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`);
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
const isoSeconds = (iso) => (iso ? Date.parse(iso.endsWith("Z") || iso.includes("+") ? iso : iso + "Z") / 1000 : null);
const badge = (word, cls = word) => el("span", { class: `badge ${cls}` }, word);
const short = (id) => id.slice(0, 8);

function jobCost(job) {
  const cost = job.result && job.result.cost_usd;
  return typeof cost === "number" ? cost : null;
}
function jobDuration(job) {
  if (!job.started_at) return null;
  return (job.ended_at || now()) - job.started_at;
}

// --- the fleet -------------------------------------------------------------------------
function renderFleet(fleet) {
  state.fleet = fleet;
  const card = $("fleet");
  card.dataset.state = fleet.state;
  $("fleet-state").textContent = fleet.label;
  $("fleet-reason").textContent = fleet.state === "ready" ? "" : fleet.gate.reason || "";
  $("fleet-action").textContent = fleet.action;
  $("fleet-command").textContent = fleet.command || "";
  $("fleet-command-box").hidden = !fleet.command;
  renderCountdown();

  const q = fleet.queues;
  $("q-runnable").textContent = q.runnable;
  $("q-waiting").textContent = q.waiting;
  $("q-scheduled").textContent = q.scheduled;
  $("q-started").textContent = q.started;
  $("q-failed").textContent = q.failed;
  $("spend-today").textContent = money(fleet.spend.today_usd);
  $("spend-week").textContent = money(fleet.spend.this_week_usd);
  $("spend-week-label").textContent = `this week (${fleet.spend.timezone})`;

  $("workers-count").textContent = `(${fleet.workers.length})`;
  const rows = fleet.workers.map((w) => {
    const beat = isoSeconds(w.last_heartbeat);
    const stale = beat == null || now() - beat > STALE_AFTER_S;
    const health = stale ? badge("stale") : w.credential === false ? badge("no login", "no-login") : badge("healthy");
    const job = w.current_job ? el("a", { href: `#/jobs/${w.current_job}`, class: "id" }, short(w.current_job)) : "";
    const born = isoSeconds(w.started_at);
    return el("tr", {}, el("td", { class: "id" }, w.name), el("td", {}, health), el("td", {}, w.state),
      el("td", {}, job), el("td", {}, born ? span(now() - born) : ""));
  });
  $("workers").tBodies[0].replaceChildren(...rows);
}

function renderCountdown() {
  const fleet = state.fleet;
  const box = $("fleet-countdown");
  if (!fleet || fleet.gate.open || fleet.state === "ready") { box.textContent = ""; return; }
  const until = fleet.gate.until;
  const resets = fleet.gate.resets_at;
  let text = "";
  if (until) {
    const left = until - now();
    const verb = fleet.state === "quota_exceeded" || fleet.state === "budget_exceeded" ? "resumes" : "next probe";
    text = left > 0 ? `${verb} in ${clock(left)}` : "probing now";
  } else if (fleet.state === "auth_required" || fleet.state === "billing_required") {
    text = "waiting for you";
  }
  if (resets) text += ` · limit resets ${new Date(resets * 1000).toLocaleTimeString()}`;
  box.textContent = text;
}

// --- batches and jobs ------------------------------------------------------------------
function renderBatches(list) {
  $("batches-card").hidden = list.batches.length === 0;
  $("batches").replaceChildren(...list.batches.map((b) => el("li", {},
    el("span", { class: "id" }, b.id),
    el("span", { class: "muted" }, `${b.ended}/${b.total}${b.complete ? " · done" : ""} · ${ago(b.submitted_at)}`),
    el("progress", { max: String(b.total), value: String(b.ended) }))));
}

function jobRow(job) {
  const attempts = job.attempts.length;
  const open = () => { location.hash = `#/jobs/${job.id}`; };
  return el("tr", { class: "row", "data-job": job.id, onclick: open },
    el("td", { class: "id" }, el("a", { href: `#/jobs/${job.id}` }, short(job.id))),
    el("td", {}, badge(job.status)),
    el("td", {}, ago(job.submitted_at)),
    el("td", {}, span(jobDuration(job))),
    el("td", {}, attempts ? String(attempts) : ""),
    el("td", {}, money(jobCost(job))),
    el("td", { class: "prompt" }, (job.spec.prompt || "").slice(0, 120)));
}

async function loadJobs() {
  const status = $("job-status").value;
  const prefix = $("job-search").value.trim().toLowerCase();
  const page = await api(`/jobs?limit=100${status ? `&status=${encodeURIComponent(status)}` : ""}`);
  let jobs = page.jobs.filter((j) => !prefix || j.id.startsWith(prefix));
  if (prefix.length >= 4 && jobs.length === 0 && /^[0-9a-f]+$/.test(prefix)) {
    try { jobs = [await api(`/jobs/${prefix}`)]; } catch { jobs = []; } // older than the page, or ambiguous
  }
  state.jobs = jobs;
  $("jobs").tBodies[0].replaceChildren(...jobs.map(jobRow));
  $("jobs-empty").hidden = jobs.length > 0;
}

// --- one job ---------------------------------------------------------------------------
function facts(target, pairs) {
  const items = [];
  for (const [name, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    items.push(el("dt", {}, name), el("dd", {}, value));
  }
  target.replaceChildren(...items);
}

function renderJob(job) {
  state.detail = job;
  $("job-id").textContent = job.id;
  $("job-status-badge").replaceChildren(badge(job.status));
  facts($("job-facts"), [
    ["submitted", when(job.submitted_at)],
    ["started", when(job.started_at)],
    ["ended", when(job.ended_at)],
    ["duration", span(jobDuration(job))],
    ["next attempt", job.next_attempt_at ? `${when(job.next_attempt_at)} (in ${span(job.next_attempt_at - now())})` : ""],
    ["cost", money(jobCost(job))],
    ["waited behind the gate", job.deferrals === 1 ? "once" : job.deferrals ? `${job.deferrals} times` : ""],
    ["metadata", Object.keys(job.metadata || {}).length ? JSON.stringify(job.metadata) : ""],
  ]);
  $("job-prompt").textContent = job.spec.prompt || "";
  const options = Object.entries(job.spec).filter(([k, v]) => k !== "prompt" && k !== "metadata" && v !== null
    && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0));
  facts($("job-options"), options.map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]));
  $("job-attempts").tBodies[0].replaceChildren(...job.attempts.map((a) => el("tr", {},
    el("td", {}, String(a.n)),
    el("td", {}, badge(a.outcome), a.probe ? " probe" : ""),
    el("td", { class: "id" }, a.worker || ""),
    el("td", {}, when(a.started_at)),
    el("td", {}, a.ended_at ? span(a.ended_at - a.started_at) : ""),
    el("td", { class: "prompt" }, a.message || ""))));
  const result = job.result;
  $("job-result-card").hidden = !result;
  if (result) {
    $("job-result").textContent = result.text;
    facts($("job-result-facts"), [
      ["engine", result.engine], ["model", result.model], ["turns", result.num_turns],
      ["cost", money(result.cost_usd)], ["session", result.session_id],
      ["took", result.duration_ms != null ? span(result.duration_ms / 1000) : ""],
    ]);
  }
  const changed = result && result.files;
  $("job-files-card").hidden = !changed;
  if (changed) {
    const rows = [];
    for (const [kind, paths] of Object.entries(changed)) {
      for (const path of paths) rows.push(el("li", {}, badge(kind.replace("_", " "), kind), " ", el("code", {}, path)));
    }
    $("job-files").replaceChildren(...(rows.length ? rows : [el("li", { class: "muted" }, "no file changed")]));
    $("job-diff").textContent = result.diff || "";
    $("job-diff").hidden = !result.diff;
    const link = $("job-files-link");
    link.hidden = !result.workspace_kept;
    link.href = `/jobs/${job.id}/files`;
  }
  $("job-error-card").hidden = !job.error;
  $("job-error").textContent = job.error || "";
  const hooks = job.webhooks || [];
  $("job-webhooks-card").hidden = hooks.length === 0;
  $("job-webhooks").replaceChildren(...hooks.map((t) => el("li", {},
    `${t.event} try ${t.try}: `, t.accepted ? badge(`HTTP ${t.status_code}`, "ok") : badge(t.error || `HTTP ${t.status_code}`, "failed"),
    ` ${when(t.at)}`, t.next_try_at ? ` · next try ${when(t.next_try_at)}` : "")));
}

// --- routing and refreshing ------------------------------------------------------------
function route() {
  const match = location.hash.match(/^#\/jobs\/([0-9a-zA-Z]+)$/);
  $("overview").hidden = Boolean(match);
  $("detail").hidden = !match;
  return match ? match[1] : null;
}

async function refresh() {
  const jobId = route();
  try {
    if (jobId) {
      renderJob(await api(`/jobs/${jobId}`));
      renderFleet(await api("/fleet"));
    } else {
      const [fleet, batches] = await Promise.all([api("/fleet"), api("/batches?limit=10")]);
      renderFleet(fleet);
      renderBatches(batches);
      await loadJobs();
    }
  } catch (error) {
    console.warn(error);
  }
}

function soon() { // many events arrive together (a batch): one refresh for all of them
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 150);
}

function follow() {
  const live = $("live");
  const stream = new EventSource("/events?since=now", { withCredentials: true });
  stream.addEventListener("open", () => { live.className = "live on"; live.textContent = "live"; soon(); });
  stream.addEventListener("error", () => { live.className = "live off"; live.textContent = "reconnecting"; });
  for (const kind of EVENT_KINDS) stream.addEventListener(kind, soon);
}

document.addEventListener("DOMContentLoaded", () => {
  $("logout").hidden = document.body.dataset.auth !== "token";
  $("copy-command").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("fleet-command").textContent));
  $("job-status").addEventListener("change", loadJobs);
  $("job-search").addEventListener("input", loadJobs);
  window.addEventListener("hashchange", refresh);
  setInterval(renderCountdown, 1000);
  setInterval(refresh, 15000); // a safety net under the live stream
  refresh();
  follow();
});
