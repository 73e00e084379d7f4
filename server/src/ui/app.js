// The faas dashboard: one page, no dependencies. It reads the REST API
// with the key its user gives it (kept in this tab's sessionStorage) and
// refreshes the view on show once a second, and not at all while the
// tab is hidden.
"use strict";

const TOKEN_KEY = "faas-token";
const HISTORY_SECONDS = 300;
const LATENCY_WINDOW = 5;
const RATE_SECONDS = 10;
const COLORS = { submitted: "#1565c0", completed: "#2e7d32", failed: "#c62828",
                 p50: "#2e7d32", p95: "#ef6c00", p99: "#c62828" };

const $ = (id) => document.getElementById(id);

// ---- the API ---------------------------------------------------------

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    const error = new Error(`${path}: ${response.status} ${detail}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- formatting ------------------------------------------------------

function fmtCount(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n));
}

function fmtRate(n) {
  return n >= 100 ? fmtCount(n) : n.toFixed(1);
}

function fmtMs(ms) {
  if (ms == null) return "-";
  if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + " s";
  if (ms >= 10) return ms.toFixed(0) + " ms";
  return ms.toFixed(1) + " ms";
}

function fmtBytes(n) {
  if (n == null) return "-";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function fmtTime(ms) {
  if (!ms) return "-";
  const d = new Date(ms);
  return d.toLocaleDateString() + " " + d.toLocaleTimeString([], { hour12: false }) + "." + String(ms % 1000).padStart(3, "0");
}

function fmtAgo(ms) {
  if (ms == null) return "-";
  return ms < 1000 ? ms + " ms ago" : (ms / 1000).toFixed(1) + " s ago";
}

// Text-only DOM building: nothing the API returns is ever parsed as HTML.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
  }
  return node;
}

function fillTable(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

// ---- latency quantiles (as the server's faas_contract computes them) --

function quantile(counts, bounds, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(q * total, 1);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (n === 0) continue;
    if (seen + n >= rank) {
      const low = i === 0 ? 0 : bounds[i - 1];
      if (i >= bounds.length) return low;
      return low + ((rank - seen) / n) * (bounds[i] - low);
    }
    seen += n;
  }
  return null;
}

function sumCounts(seconds) {
  const out = [];
  for (const s of seconds) {
    s.latency_counts.forEach((n, i) => { out[i] = (out[i] || 0) + n; });
  }
  return out;
}

// ---- charts ----------------------------------------------------------

// Lines over a shared x axis; `series` maps a name to values (null: gap).
function drawChart(canvas, legend, series, labels, unit) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, w, h);
  const pad = { left: 52, right: 8, top: 8, bottom: 22 };
  const values = Object.values(series).flat().filter((v) => v != null);
  const top = niceMax(Math.max(1, ...values));
  const x = (i) => pad.left + (i / Math.max(1, labels.length - 1)) * (w - pad.left - pad.right);
  const y = (v) => h - pad.bottom - (v / top) * (h - pad.top - pad.bottom);
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#e3e7ee"; g.fillStyle = "#667085"; g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4, yy = y(v);
    g.beginPath(); g.moveTo(pad.left, yy); g.lineTo(w - pad.right, yy); g.stroke();
    g.fillText((top < 10 ? v.toFixed(1) : fmtCount(v)) + unit, 4, yy + 4);
  }
  const step = Math.max(1, Math.floor(labels.length / 5));
  for (let i = 0; i < labels.length; i += step) g.fillText(labels[i], x(i) - 16, h - 6);
  for (const [name, points] of Object.entries(series)) {
    g.strokeStyle = COLORS[name]; g.lineWidth = 1.6; g.beginPath();
    let open = false;
    points.forEach((v, i) => {
      if (v == null) { open = false; return; }
      if (open) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      open = true;
    });
    g.stroke();
  }
  legend.replaceChildren(...Object.keys(series).map((name) => {
    const swatch = el("i"); swatch.style.background = COLORS[name];
    return el("span", {}, swatch, name);
  }));
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function clock(second) {
  return new Date(second * 1000).toLocaleTimeString([], { hour12: false });
}

// ---- views -----------------------------------------------------------

const state = {
  seconds: new Map(), // second -> SecondStats
  fetchedAt: 0, // Date.now() at the last /stats
  bounds: [],
  functions: new Map(), // id -> name
  functionsAt: 0, // Date.now() when the functions were read
  statsDenied: false,
};

async function refreshOverview() {
  await Promise.all([refreshStats(), refreshWorkers()]);
}

async function refreshStats() {
  if (state.statsDenied) return;
  let stats;
  try {
    // What was missed since the last fetch (another view, a hidden tab).
    const missed = state.fetchedAt ? Math.ceil((Date.now() - state.fetchedAt) / 1000) + 2 : HISTORY_SECONDS;
    stats = await api(`/stats?seconds=${Math.min(HISTORY_SECONDS, Math.max(5, missed))}`);
  } catch (e) {
    if (e.status === 403) {
      state.statsDenied = true;
      $("stats-note").hidden = false;
      $("stats-note").textContent = "Throughput, latency and the queue need an admin key.";
      return;
    }
    throw e;
  }
  state.bounds = stats.latency_bounds_ms;
  state.fetchedAt = Date.now();
  for (const s of stats.seconds) state.seconds.set(s.second, s);
  const now = Math.floor(stats.now_ms / 1000);
  for (const second of state.seconds.keys()) {
    if (second <= now - HISTORY_SECONDS) state.seconds.delete(second);
  }
  // The current second is still counting: rates come from the one before.
  const window = [];
  for (let s = now - HISTORY_SECONDS + 1; s <= now; s++) {
    window.push(state.seconds.get(s) || { second: s, submitted: 0, completed: 0, failed: 0, latency_counts: [] });
  }
  // Rates over the last complete seconds (the current one is counting).
  const recent = window.slice(-1 - RATE_SECONDS, -1);
  const rate = (k) => recent.reduce((a, s) => a + s[k], 0) / recent.length;
  $("rate-submitted").textContent = fmtRate(rate("submitted"));
  $("rate-completed").textContent = fmtRate(rate("completed"));
  $("rate-failed").textContent = fmtRate(rate("failed"));
  $("queued").textContent = fmtCount(stats.queued);
  $("running").textContent = fmtCount(stats.running);
  const minute = sumCounts(window.slice(-60));
  $("latency").textContent = [0.5, 0.95, 0.99].map((q) => fmtMs(quantile(minute, state.bounds, q))).join(" / ");
  const total = (k) => window.reduce((a, s) => a + s[k], 0);
  $("totals").textContent = `${total("submitted")} submitted · ${total("completed")} completed · ${total("failed")} failed`;
  $("totals").dataset.submitted = total("submitted");
  $("totals").dataset.completed = total("completed");
  $("totals").dataset.failed = total("failed");

  const shown = window.slice(0, -1);
  drawChart($("chart-throughput"), $("legend-throughput"), {
    submitted: shown.map((s) => s.submitted),
    completed: shown.map((s) => s.completed),
    failed: shown.map((s) => s.failed),
  }, shown.map((s) => clock(s.second)), "");
  // Windows end at the last complete second.
  const windows = [];
  for (let end = shown.length; end >= LATENCY_WINDOW; end -= LATENCY_WINDOW) {
    windows.unshift(shown.slice(end - LATENCY_WINDOW, end));
  }
  const latency = { p50: [], p95: [], p99: [] };
  for (const w of windows) {
    const counts = sumCounts(w);
    latency.p50.push(quantile(counts, state.bounds, 0.5));
    latency.p95.push(quantile(counts, state.bounds, 0.95));
    latency.p99.push(quantile(counts, state.bounds, 0.99));
  }
  drawChart($("chart-latency"), $("legend-latency"), latency,
    windows.map((w) => clock(w[0].second)), "");
}

async function refreshWorkers() {
  const { workers } = await api("/workers");
  fillTable($("workers"), workers.map((w) => el("tr", { "data-worker-id": w.id },
    el("td", {}, el("code", {}, w.id)), el("td", {}, w.name), el("td", {}, w.dispatcher),
    el("td", {}, w.mode), el("td", {}, w.draining ? "draining" : "serving"),
    el("td", {}, w.slots), el("td", {}, w.running), el("td", {}, w.completed),
    el("td", {}, fmtAgo(w.last_heartbeat_ms_ago)))));
  const slots = workers.reduce((a, w) => a + w.slots, 0);
  // A push worker may hold more tasks than it has slots (queued there).
  const free = workers.reduce((a, w) => a + Math.max(w.slots - w.running, 0), 0);
  $("workers-note").textContent = workers.length
    ? `${workers.length} workers, ${free} of ${slots} slots free`
    : "No push or pull workers: tasks run on the dispatchers' own slots (local mode).";
}

async function refreshFunctions() {
  const { functions } = await api("/functions?limit=1000");
  state.functionsAt = Date.now();
  state.functions.clear();
  for (const f of functions) state.functions.set(f.function_id, f.name);
  fillTable($("function-list"), functions.map((f) => el("tr", { "data-function-id": f.function_id },
    el("td", {}, f.name), el("td", {}, el("code", {}, f.function_id)),
    el("td", {}, f.kind || "-"), el("td", {}, f.entry), el("td", {}, fmtBytes(f.module_size)),
    el("td", {}, fmtTime(f.created_at_ms)),
    el("td", {}, f.invocations == null ? "-" : f.invocations),
    el("td", {}, f.failures == null ? "-" : f.failures))));
  const select = $("filter-function");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "any"),
    ...functions.map((f) => el("option", { value: f.function_id }, `${f.name} (${f.function_id.slice(0, 8)})`)));
  select.value = chosen;
}

async function refreshTasks() {
  if (Date.now() - state.functionsAt > 10000) await refreshFunctions();
  const status = $("filter-status").value;
  const fid = $("filter-function").value;
  const { tasks } = await api("/tasks?limit=1000" + (status ? "&status=" + status : ""));
  const rows = tasks.filter((t) => !fid || t.function_id === fid).slice(0, 200);
  fillTable($("task-list"), rows.map((t) => el("tr", { "data-task-id": t.task_id },
    el("td", {}, el("a", { href: "#/tasks/" + t.task_id }, el("code", {}, t.task_id))),
    el("td", {}, state.functions.get(t.function_id) || t.function_id.slice(0, 8)),
    el("td", { class: "status-" + t.status }, t.status + (t.failure_kind ? ` (${t.failure_kind})` : "")),
    el("td", {}, fmtTime(t.created_at_ms)), el("td", {}, fmtMs(t.queue_wait_ms)),
    el("td", {}, t.usage ? fmtMs(t.usage.run_us / 1000) : "-"),
    el("td", {}, t.usage ? fmtBytes(t.usage.peak_memory_bytes) : "-"),
    el("td", {}, t.attempts))));
}

async function refreshTask(id) {
  const [task, logs] = await Promise.all([api("/tasks/" + id), api(`/tasks/${id}/logs`)]);
  $("task-id").textContent = task.id;
  const fields = [
    ["status", task.status + (task.failure_kind ? ` (${task.failure_kind})` : "")],
    ["function", `${state.functions.get(task.function_id) || ""} ${task.function_id}`],
    ["attempts", task.attempts],
    ["created", fmtTime(task.created_at_ms)],
    ["started", fmtTime(task.started_at_ms)],
    ["finished", fmtTime(task.finished_at_ms)],
    ["queue wait", fmtMs(task.queue_wait_ms)],
  ];
  if (task.usage) {
    fields.push(["run time", fmtMs(task.usage.run_us / 1000)],
      ["peak memory", fmtBytes(task.usage.peak_memory_bytes)],
      ["output", fmtBytes(task.usage.output_bytes)],
      ["log", fmtBytes(task.usage.log_bytes)],
      ["ran on", task.usage.executor]);
  }
  $("task-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  $("task-fields").dataset.status = task.status;
  $("task-payload").textContent = JSON.stringify(task.payload, null, 2);
  $("task-result").textContent = task.status === "COMPLETED" || task.status === "FAILED"
    ? JSON.stringify(task.result, null, 2) : "(not finished)";
  $("task-logs").textContent = logs.logs
    ? (logs.dropped_bytes ? `(${logs.dropped_bytes} earlier bytes dropped)\n` : "") + logs.logs
    : "(no output)";
}

// ---- routing and the refresh loop ------------------------------------

const VIEWS = ["sign-in", "overview", "functions", "tasks", "task"];

function route() {
  const hash = location.hash || "#/";
  const task = hash.match(/^#\/tasks\/([0-9a-f-]{36})$/);
  if (task) return { view: "task", id: task[1] };
  if (hash === "#/functions") return { view: "functions" };
  if (hash.startsWith("#/tasks")) return { view: "tasks" };
  return { view: "overview" };
}

function show(view) {
  for (const v of VIEWS) $(v).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === view || (view === "task" && a.dataset.view === "tasks"));
  }
}

let signedIn = false;

async function refresh() {
  if (!signedIn && !(await signIn())) return;
  const r = route();
  show(r.view);
  try {
    if (r.view === "overview") await refreshOverview();
    else if (r.view === "functions") await refreshFunctions();
    else if (r.view === "tasks") await refreshTasks();
    else if (r.view === "task") await refreshTask(r.id);
    $("error").hidden = true;
  } catch (e) {
    if (e instanceof Unauthorized) { signedIn = false; sessionStorage.removeItem(TOKEN_KEY); show("sign-in"); return; }
    $("error").hidden = false;
    $("error").textContent = e.message;
  }
}

async function signIn() {
  try {
    const me = await api("/whoami");
    signedIn = true;
    $("who").textContent = me.auth ? `${me.tenant}${me.admin ? " (admin)" : ""}` : "no authentication";
    $("sign-out").hidden = !me.auth;
    state.statsDenied = false;
    return true;
  } catch (e) {
    if (e instanceof Unauthorized) { show("sign-in"); return false; }
    $("error").hidden = false;
    $("error").textContent = e.message;
    return false;
  }
}

function takeTokenFromUrl() {
  // `faas dashboard` prints /ui#token=...: the fragment never reaches a server.
  const m = location.hash.match(/^#token=([^&]+)/);
  if (m) {
    let token = m[1];
    try { token = decodeURIComponent(token); } catch (e) { /* keep it as written */ }
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + "#/");
  }
}

let busy = false;
async function tick() {
  if (busy || document.hidden) return;
  busy = true;
  try { await refresh(); } finally { busy = false; }
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromUrl();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("key").value.trim());
    $("key").value = "";
    tick();
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    signedIn = false;
    state.seconds.clear();
    state.fetchedAt = 0;
    state.functions.clear();
    state.functionsAt = 0;
    tick();
  });
  $("filter-status").addEventListener("change", tick);
  $("filter-function").addEventListener("change", tick);
  window.addEventListener("hashchange", tick);
  document.addEventListener("visibilitychange", tick);
  tick();
  setInterval(tick, 1000);
});
