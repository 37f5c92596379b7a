// The dashboard page: one self-contained HTML document (no CDN, no external file). Charts are
// SVG drawn by the page's own script from the state JSON; the state arrives once from
// /api/state and then from the /api/stream server-sent events. Readable on a phone: one
// column under 720 px, tables scroll sideways.

enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Carry dashboard</title>
<style>
:root { --bg:#0f1419; --panel:#171d24; --text:#e6e6e6; --muted:#8b97a3; --good:#3fb950; --bad:#f85149; --warn:#d29922; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:12px 16px; background:var(--panel); position:sticky; top:0; z-index:1; }
header h1 { font-size:16px; margin:0 12px 0 0; }
.badge { padding:2px 8px; border-radius:10px; font-size:12px; background:#30363d; }
.badge.bad { background:var(--bad); color:#fff; } .badge.good { background:#238636; color:#fff; }
main { display:grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap:12px; padding:12px; }
section { background:var(--panel); border-radius:8px; padding:12px; overflow-x:auto; }
section.wide { grid-column: 1 / -1; }
h2 { font-size:14px; margin:0 0 8px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
th, td { text-align:right; padding:4px 8px; border-bottom:1px solid #232a33; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:500; }
.pos { color:var(--good); } .neg { color:var(--bad); } .muted { color:var(--muted); }
.kpis { display:flex; flex-wrap:wrap; gap:16px; }
.kpi b { display:block; font-size:18px; }
svg { width:100%; height:220px; display:block; }
svg text { fill:var(--muted); font-size:10px; }
.legend span { margin-right:12px; font-size:12px; }
details summary { cursor:pointer; color:var(--accent); }
@media (max-width: 720px) { main { grid-template-columns: 1fr; } header h1 { width:100%; } }
</style>
</head>
<body>
<header>
  <h1>Carry</h1>
  <span class="badge" id="mode">…</span>
  <span class="badge" id="kill">kill switch …</span>
  <span class="muted" id="asof">waiting for the journal…</span>
  <span class="muted" id="conn"></span>
</header>
<main>
  <section class="wide">
    <h2>Account</h2>
    <div class="kpis" id="kpis"></div>
  </section>
  <section class="wide">
    <h2>Pairs</h2>
    <table id="pairs"><thead><tr>
      <th>Pair</th><th>Phase</th><th>Last rate</th><th>Per 8 h</th><th>Predicted</th><th>Next settlement</th><th>Score</th>
      <th>Spot qty</th><th>Perp qty</th><th>Delta</th><th>Drift / band</th><th>Margin buffer</th><th>Why not</th>
    </tr></thead><tbody></tbody></table>
    <div id="components"></div>
  </section>
  <section>
    <h2>Equity</h2>
    <svg id="equity-chart" viewBox="0 0 600 220" preserveAspectRatio="none"></svg>
  </section>
  <section>
    <h2>P&amp;L split</h2>
    <svg id="pnl-chart" viewBox="0 0 600 220" preserveAspectRatio="none"></svg>
    <div class="legend" id="pnl-legend"></div>
  </section>
  <section>
    <h2>Funding received per settlement</h2>
    <svg id="funding-chart" viewBox="0 0 600 220" preserveAspectRatio="none"></svg>
  </section>
  <section>
    <h2>Recent orders</h2>
    <table id="orders"><thead><tr><th>Seq</th><th>Time</th><th>Instrument</th><th>Side</th><th>Qty</th><th>Filled</th><th>Reason</th><th>Status</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Risk and alerts</h2>
    <div id="recon" class="muted"></div>
    <ul id="risks"></ul>
  </section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const q = token ? "?token=" + encodeURIComponent(token) : "";
const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
const num = s => s === "" || s === undefined ? NaN : Number(s);
const fmt = (s, d) => { const n = num(s); return isNaN(n) ? "–" : n.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d}); };
const pct = (s, d) => { const n = num(s); return isNaN(n) ? "–" : (100 * n).toFixed(d) + " %"; };
const cls = s => num(s) > 0 ? "pos" : (num(s) < 0 ? "neg" : "");
const iso = ms => ms ? new Date(ms).toISOString().replace(".000Z", "Z") : "–";
let state = null;

function countdown(ms, nowMs) {
  if (!ms) return "–";
  const d = ms - nowMs;
  if (d <= 0) return iso(ms) + " (due)";
  const h = Math.floor(d / 3600000), m = Math.floor((d % 3600000) / 60000);
  return iso(ms) + " (in " + h + " h " + m + " m)";
}

function lineChart(svg, series, opts) {
  const W = 600, H = 220, L = 56, R = 8, T = 8, B = 20;
  const pts = series.flatMap(s => s.points);
  if (pts.length === 0) { svg.innerHTML = '<text x="300" y="110" text-anchor="middle">no data yet</text>'; return; }
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
  if (opts && opts.zero) { y0 = Math.min(y0, 0); y1 = Math.max(y1, 0); }
  if (x1 === x0) x1 = x0 + 1; if (y1 === y0) { y1 += 1; y0 -= 1; }
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R), sy = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4, y = sy(v);
    out += `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#232a33"/><text x="${L - 4}" y="${y + 3}" text-anchor="end">${v.toFixed(Math.abs(y1 - y0) < 10 ? 2 : 0)}</text>`;
  }
  out += `<text x="${L}" y="${H - 4}">${iso(x0).slice(0, 10)}</text><text x="${W - R}" y="${H - 4}" text-anchor="end">${iso(x1).slice(0, 10)}</text>`;
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    out += `<path class="line" data-series="${esc(s.name)}" data-points="${s.points.length}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`;
  }
  svg.innerHTML = out;
}

function barChart(svg, bars) {
  const W = 600, H = 220, L = 56, R = 8, T = 8, B = 20;
  if (bars.length === 0) { svg.innerHTML = '<text x="300" y="110" text-anchor="middle">no funding payments yet</text>'; return; }
  const vals = bars.map(b => b[1]);
  const y0 = Math.min(0, ...vals), y1 = Math.max(0, ...vals) || 1;
  const sy = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B), w = (W - L - R) / bars.length;
  let out = `<line x1="${L}" x2="${W - R}" y1="${sy(0)}" y2="${sy(0)}" stroke="#444"/><text x="${L - 4}" y="${sy(y1) + 3}" text-anchor="end">${y1.toFixed(2)}</text><text x="${L - 4}" y="${sy(y0) + 3}" text-anchor="end">${y0.toFixed(2)}</text>`;
  bars.forEach((b, i) => {
    const y = sy(Math.max(0, b[1])), h = Math.abs(sy(b[1]) - sy(0));
    out += `<rect class="bar" x="${(L + i * w).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, w - 1).toFixed(1)}" height="${Math.max(0.5, h).toFixed(1)}" fill="${b[1] >= 0 ? "#3fb950" : "#f85149"}"><title>${esc(iso(b[0]))}: ${b[1].toFixed(4)}</title></rect>`;
  });
  svg.innerHTML = out;
}

function render(s) {
  state = s;
  $("mode").textContent = s.mode + (s.config ? " · " + s.config : "");
  const kill = $("kill");
  kill.textContent = s.killSwitch ? "KILL SWITCH ENGAGED" + (s.killReason ? " (" + s.killReason + ")" : "") : "kill switch off";
  kill.className = "badge " + (s.killSwitch ? "bad" : "good");
  $("asof").textContent = "journal seq " + s.lastSeq + " · last event " + (s.lastTime || "–");
  const k = [["Equity", s.equity, 2], ["Funding", s.funding, 2], ["Price / basis", s.pricePnl, 2], ["Fees", s.fees === undefined ? "" : String(-num(s.fees)), 2], ["Slippage", s.slippage === undefined ? "" : String(-num(s.slippage)), 2]];
  $("kpis").innerHTML = k.map(([n, v, d]) => `<div class="kpi"><span class="muted">${n} (USDT)</span><b class="${n === "Equity" ? "" : cls(v)}" data-kpi="${n}">${fmt(v, d)}</b></div>`).join("");
  const nowMs = s.lastTime ? Date.parse(s.lastTime) : Date.now();
  $("pairs").tBodies[0].innerHTML = s.pairs.map(p => `<tr data-symbol="${esc(p.symbol)}">
    <td>${esc(p.symbol)}</td><td>${esc(p.phase)}</td><td class="${cls(p.rate)}">${pct(p.rate, 4)}</td><td class="${cls(p.rate8h)}">${pct(p.rate8h, 4)}</td>
    <td>${pct(p.predicted, 4)}</td><td>${countdown(p.nextSettlement, nowMs)}</td><td>${p.score === "" ? "–" : esc(p.score)}</td>
    <td>${esc(p.spotQty)}</td><td>${esc(p.perpQty)}</td><td>${esc(p.delta)}</td>
    <td class="${p.driftPastBand ? "neg" : ""}">${pct(p.drift, 2)} / ${pct(s.deltaBand, 0)}</td><td>${pct(p.marginBuffer, 1)}</td><td class="muted">${esc(p.why)}</td></tr>`).join("");
  $("components").innerHTML = s.pairs.filter(p => p.components.length).map(p => `<details><summary>${esc(p.symbol)}: the last signal's components (score ${esc(p.score)})</summary>
    <table><thead><tr><th>Factor</th><th>Value</th><th>Weight</th></tr></thead><tbody>${p.components.map(c => `<tr><td>${esc(c.factor)}</td><td>${esc(c.value)}</td><td>${esc(c.weight)}</td></tr>`).join("")}</tbody></table></details>`).join("");
  const e = s.equitySeries;
  lineChart($("equity-chart"), [{name: "equity", color: "#58a6ff", points: e.map(x => [x.t, num(x.equity)])}]);
  const split = [["funding", "#3fb950", x => num(x.funding)], ["price", "#d2a8ff", x => num(x.price)], ["fees", "#f85149", x => -num(x.fees)], ["slippage", "#d29922", x => -num(x.slippage)]];
  lineChart($("pnl-chart"), split.map(([n, c, f]) => ({name: n, color: c, points: e.map(x => [x.t, f(x)])})), {zero: true});
  $("pnl-legend").innerHTML = split.map(([n, c]) => `<span style="color:${c}">■ ${n}</span>`).join("");
  barChart($("funding-chart"), s.payments.map(p => [p.t, num(p.amount)]));
  $("orders").tBodies[0].innerHTML = s.orders.slice(0, 20).map(o => `<tr><td>${o.seq}</td><td>${iso(o.t)}</td><td>${esc(o.symbol)}</td><td>${esc(o.side)}</td><td>${esc(o.qty)}</td><td>${esc(o.filled)}</td><td>${esc(o.reason)}</td><td>${esc(o.status)}</td></tr>`).join("");
  $("recon").textContent = "Reconciliation: " + (s.reconciliation || "none journaled");
  $("risks").innerHTML = s.risks.slice(0, 10).map(r => `<li>${iso(r.t)} ${esc(r.text)}</li>`).join("") + s.alerts.slice(0, 10).map(a => `<li>${iso(a.t)} [${esc(a.severity)}] ${esc(a.text)}</li>`).join("");
}

fetch("/api/state" + q).then(r => { if (!r.ok) throw new Error(r.status); return r.json(); }).then(render).catch(err => { $("asof").textContent = "cannot load the state: " + err; });
const stream = new EventSource("/api/stream" + q);
stream.addEventListener("state", ev => { render(JSON.parse(ev.data)); $("conn").textContent = "live"; });
stream.onerror = () => { $("conn").textContent = "reconnecting…"; };
</script>
</body>
</html>
"""#
}
