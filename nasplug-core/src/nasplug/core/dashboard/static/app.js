// nasplug dashboard: a small single-page front end over the JSON API (read-only).
"use strict";
const view = document.getElementById("view");
let timer = null;
const POLL_MS = 2000;

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
function esc(text) {
  return String(text ?? "").replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}
function num(v, digits = 4) {
  if (v === null || v === undefined) return "";
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(digits)) : esc(v);
}
function when(t) { return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }
function duration(s) {
  if (s === null || s === undefined) return "";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}
function poll(fn) { clearInterval(timer); fn(); timer = setInterval(fn, POLL_MS); }
function plot(id, traces, layout) {
  const el = document.getElementById(id);
  // Plotly.js 3 takes titles as {text: ...} only
  if (typeof layout.title === "string") layout.title = {text: layout.title};
  for (const axis of ["xaxis", "yaxis"]) {
    if (layout[axis] && typeof layout[axis].title === "string") layout[axis].title = {text: layout[axis].title};
  }
  if (el) Plotly.react(el, traces, Object.assign({margin: {t: 36, r: 10, b: 46, l: 56}}, layout), {displaylogo: false, responsive: true});
}

// --- runs table --------------------------------------------------------------------------------
const filters = {kind: "", status: "", q: ""};
function runsView() {
  view.innerHTML = `
    <div class="filters">
      <select id="f-kind"><option value="">every kind</option>${["search", "predict", "score", "tune", "oneshot"].map(k => `<option>${k}</option>`).join("")}</select>
      <select id="f-status"><option value="">every status</option>${["running", "interrupted", "finished", "failed"].map(k => `<option>${k}</option>`).join("")}</select>
      <input id="f-q" placeholder="filter by id, name, part">
      <button id="compare-selected">compare selected</button>
    </div>
    <table id="runs"><thead><tr><th></th><th>id</th><th>kind</th><th>name</th><th>parts</th><th>status</th><th>progress</th><th>best</th><th>started</th><th>duration</th></tr></thead><tbody></tbody></table>`;
  for (const key of ["kind", "status", "q"]) {
    const el = document.getElementById(`f-${key}`);
    el.value = filters[key];
    el.addEventListener("input", () => { filters[key] = el.value; refreshRuns(); });
  }
  document.getElementById("compare-selected").addEventListener("click", () => {
    const ids = [...document.querySelectorAll("input.pick:checked")].map(el => el.value);
    location.hash = `#/compare?runs=${ids.join(",")}`;
  });
  poll(refreshRuns);
}
const picked = new Set();
async function refreshRuns() {
  const params = new URLSearchParams(filters);
  const body = await api(`/api/runs?${params}`);
  document.getElementById("store").textContent = body.store;
  const tbody = document.querySelector("#runs tbody");
  if (!tbody) return;
  tbody.innerHTML = body.runs.map(r => `
    <tr class="clickable" data-id="${r.id}">
      <td><input type="checkbox" class="pick" value="${r.id}" ${picked.has(String(r.id)) ? "checked" : ""}></td>
      <td>${r.id}</td><td>${esc(r.kind)}</td><td>${esc(r.name)}</td><td>${esc(r.parts)}</td>
      <td class="status-${esc(r.status)}">${esc(r.status)}</td>
      <td class="progress">${r.progress}${r.total ? " / " + r.total : ""}</td>
      <td class="best">${num(r.best)}</td><td>${when(r.started)}</td><td>${duration(r.duration)}</td>
    </tr>`).join("") || `<tr><td colspan="10" class="muted">no runs match</td></tr>`;
  for (const row of tbody.querySelectorAll("tr.clickable")) {
    row.addEventListener("click", ev => {
      if (ev.target.classList.contains("pick")) {
        ev.target.checked ? picked.add(ev.target.value) : picked.delete(ev.target.value);
        return;
      }
      location.hash = `#/run/${row.dataset.id}`;
    });
  }
}

// --- one run -------------------------------------------------------------------------------------
const table = {order: "seq", desc: false, offset: 0};
function runView(id) {
  Object.assign(table, {order: "seq", desc: false, offset: 0});
  view.innerHTML = `
    <h2 id="run-title">run ${id}</h2>
    <div id="run-summary" class="muted"></div>
    <div class="grid"><div id="chart-a" class="chart"></div><div id="chart-b" class="chart"></div></div>
    <h3>evaluations <a id="csv" href="/api/runs/${id}/evaluations.csv" download>download CSV</a></h3>
    <div id="eval-nav"></div>
    <table id="evals"><thead><tr>${["seq", "arch", "value", "fitness", "cost", "wall"].map(c => `<th class="sortable" data-col="${c}">${c}</th>`).join("")}</tr></thead><tbody></tbody></table>
    <div id="arch-view"></div>
    <h3>config</h3><pre class="config" id="config"></pre>`;
  for (const th of document.querySelectorAll("th.sortable")) {
    th.addEventListener("click", () => {
      table.desc = table.order === th.dataset.col ? !table.desc : false;
      table.order = th.dataset.col; table.offset = 0; refreshEvaluations(id);
    });
  }
  poll(() => refreshRun(id));
}
async function refreshRun(id) {
  const [run, charts] = await Promise.all([api(`/api/runs/${id}`), api(`/api/runs/${id}/charts`)]);
  document.getElementById("run-title").textContent = `run ${run.id} (${run.kind}) ${run.name}`;
  const best = run.result && run.result.best_value !== undefined ? `, best ${num(run.result.best_value)}` : "";
  document.getElementById("run-summary").innerHTML =
    `<span class="status-${esc(run.status)}" id="run-status">${esc(run.status)}</span> · ${esc(run.parts)} · seed ${run.seed} · ` +
    `<span id="run-evaluations">${run.evaluations}</span> evaluations${esc(best)}`;
  document.getElementById("config").textContent = run.config_toml;
  drawCharts(charts);
  refreshEvaluations(id);
}
function drawCharts(c) {
  if (c.best_so_far) {
    const b = c.best_so_far;
    plot("chart-a", [{x: b.queries, y: b.best, mode: "lines+markers", line: {shape: "hv"}, name: "best"}],
         {title: "best so far", xaxis: {title: "queries"}, yaxis: {title: "value"}});
    if (c.pareto) {
      const p = c.pareto;
      plot("chart-b", [{x: p.x, y: p.y, text: p.arch, mode: "lines+markers", line: {shape: "hv"}, name: "front"}],
           {title: `Pareto front: value against ${p.secondary}`, xaxis: {title: p.secondary}, yaxis: {title: "value"}});
    } else if (b.seconds.some(v => v > 0)) {
      plot("chart-b", [{x: b.seconds, y: b.best, mode: "lines", line: {shape: "hv"}, name: "best"}],
           {title: "best so far against simulated seconds", xaxis: {title: "seconds"}});
    } else {
      plot("chart-b", [{x: b.wall, y: b.best, mode: "lines", line: {shape: "hv"}}], {title: "best so far against wall seconds", xaxis: {title: "seconds"}});
    }
  }
  if (c.rounds) {
    const r = c.rounds;
    const rank = ["kendall_tau", "spearman", "holdout_kendall_tau"].filter(k => r[k]);
    plot("chart-a", rank.map(k => ({x: r.labels, y: r[k], mode: "lines+markers", name: k})), {title: "rank correlation against labels", xaxis: {title: "labels"}});
    plot("chart-b", ["mse", "holdout_mse"].filter(k => r[k]).map(k => ({x: r.labels, y: r[k], mode: "lines+markers", name: k})), {title: "MSE against labels", xaxis: {title: "labels"}});
  }
  if (c.scatter) {
    c.scatter.slice(0, 2).forEach((s, i) => {
      const corr = c.correlations && c.correlations[s.metric] ? c.correlations[s.metric] : {};
      plot(i ? "chart-b" : "chart-a", [{x: s.x, y: s.y, mode: "markers", marker: {size: 4}}],
           {title: `${s.metric}: Spearman ${num(corr.spearman, 3)}, Kendall ${num(corr.kendall_tau, 3)}`, xaxis: {title: "proxy"}, yaxis: {title: s.metric}});
    });
  }
  if (c.epochs) {
    const e = c.epochs, keys = Object.keys(e).filter(k => k !== "epoch");
    const acc = keys.filter(k => /acc|tau|loss/.test(k)), shares = keys.filter(k => /share|alpha|hessian|gap/.test(k));
    plot("chart-a", (acc.length ? acc : keys).map(k => ({x: e.epoch, y: e[k], mode: "lines+markers", name: k})), {title: "training", xaxis: {title: "epoch"}});
    if (c.alpha) {
      const a = c.alpha;
      plot("chart-b", a.ops.map(op => ({x: a.epoch, y: a.share[op], mode: "lines+markers", name: op})),
           {title: "mean architecture weight per op", xaxis: {title: "epoch"}});
      let heat = document.getElementById("chart-c");
      if (!heat) {
        heat = document.createElement("div"); heat.id = "chart-c"; heat.className = "chart";
        document.querySelector(".grid").after(heat);
      }
      plot("chart-c", [{z: a.last, x: a.ops, y: a.last.map((_, i) => `edge ${i}`), type: "heatmap", colorscale: "Blues", reversescale: true}],
           {title: "op distribution per edge, last epoch"});
    } else {
      plot("chart-b", shares.map(k => ({x: e.epoch, y: e[k], mode: "lines+markers", name: k})), {title: "op shares and collapse diagnostics", xaxis: {title: "epoch"}});
    }
  }
}
async function refreshEvaluations(id) {
  const q = new URLSearchParams({order: table.order, desc: table.desc ? "1" : "0", offset: table.offset, limit: 50});
  const page = await api(`/api/runs/${id}/evaluations?${q}`);
  const tbody = document.querySelector("#evals tbody");
  if (!tbody) return;
  tbody.innerHTML = page.rows.map(r => `<tr class="clickable" data-arch="${esc(r.arch)}"><td>${r.seq}</td><td class="arch">${esc(r.arch)}</td>` +
    `<td>${num(r.value)}</td><td>${num(r.fitness)}</td><td>${num(r.cost)}</td><td>${num(r.wall, 3)}</td></tr>`).join("");
  for (const row of tbody.querySelectorAll("tr")) row.addEventListener("click", () => showArchitecture(id, row.dataset.arch));
  const nav = document.getElementById("eval-nav");
  const last = Math.min(page.offset + page.rows.length, page.total);
  nav.innerHTML = `${page.total ? page.offset + 1 : 0}-${last} of ${page.total} ` +
    `<button id="prev" ${page.offset ? "" : "disabled"}>previous</button> <button id="next" ${last < page.total ? "" : "disabled"}>next</button>`;
  document.getElementById("prev").onclick = () => { table.offset = Math.max(0, table.offset - 50); refreshEvaluations(id); };
  document.getElementById("next").onclick = () => { table.offset += 50; refreshEvaluations(id); };
}
async function showArchitecture(id, arch) {
  const out = document.getElementById("arch-view");
  const body = await api(`/api/runs/${id}/architecture?arch=${encodeURIComponent(arch)}`);
  if (!body.graph) { out.innerHTML = `<p class="muted">${esc(arch)}: this space has no graph form</p>`; return; }
  const n = body.graph.ops.length, w = 110 * n, h = 150;
  const x = i => 50 + i * 105, y = i => (i === 0 || i === n - 1) ? 75 : (i % 2 ? 40 : 110);
  const edges = body.graph.edges.map(([a, b]) => `<line x1="${x(a)}" y1="${y(a)}" x2="${x(b)}" y2="${y(b)}" stroke="#888" marker-end="url(#arrow)"/>`).join("");
  const nodes = body.graph.ops.map((op, i) => `<g><rect x="${x(i) - 48}" y="${y(i) - 14}" width="96" height="28" rx="6" fill="${op === "none" ? "#eee" : "#d9e8fb"}" stroke="#456"/>` +
    `<text x="${x(i)}" y="${y(i) + 4}" font-size="11" text-anchor="middle">${esc(op)}</text></g>`).join("");
  out.innerHTML = `<h3>architecture</h3><p class="arch">${esc(arch)}</p><svg id="arch-svg" width="${w}" height="${h}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>${edges}${nodes}</svg>`;
}

// --- compare ---------------------------------------------------------------------------------------
function compareView(ids) {
  view.innerHTML = `<h2>compare runs</h2><p>runs: <input id="cmp-ids" value="${esc(ids)}"> <button id="cmp-go">show</button></p>
    <div id="chart-cmp" class="chart" style="height:460px"></div>`;
  document.getElementById("cmp-go").onclick = () => { location.hash = `#/compare?runs=${document.getElementById("cmp-ids").value}`; };
  if (ids) poll(async () => {
    const body = await api(`/api/compare?runs=${ids}`);
    const traces = Object.entries(body.runs).map(([id, c]) => ({x: c.queries, y: c.best, mode: "lines", line: {shape: "hv", width: 1}, opacity: 0.5, name: `run ${id}`}));
    if (body.mean) {
      const m = body.mean, up = m.mean.map((v, i) => v + m.std[i]), down = m.mean.map((v, i) => v - m.std[i]);
      traces.push({x: m.queries.concat([...m.queries].reverse()), y: up.concat([...down].reverse()), fill: "toself", fillcolor: "rgba(36,59,83,0.15)", line: {width: 0}, name: "mean +- std"});
      traces.push({x: m.queries, y: m.mean, mode: "lines", line: {width: 3, color: "#243b53"}, name: "mean"});
    }
    plot("chart-cmp", traces, {title: "best so far", xaxis: {title: "queries"}});
  });
}

function route() {
  clearInterval(timer);
  const hash = location.hash || "#/";
  const run = hash.match(/^#\/run\/(\d+)/);
  if (run) return runView(run[1]);
  if (hash.startsWith("#/compare")) return compareView(new URLSearchParams(hash.split("?")[1] || "").get("runs") || "");
  runsView();
}
window.addEventListener("hashchange", route);
route();
