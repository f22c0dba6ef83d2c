// otgate operator HMI: live updates (server-sent events), trends (uPlot) and the action buttons.
// Every text from the server is put in the page with textContent, never as HTML: AI rationale in
// particular is untrusted and must show as the characters it is.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const WINDOW_S = 600;
  const charts = {};

  function num(v) {
    if (typeof v !== "number" || !isFinite(v)) return "—";
    return Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(2);
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function say(text, bad) {
    const m = document.getElementById("message");
    m.textContent = text;
    m.className = "message " + (bad ? "bad" : "ok");
  }
  function field(root, name) { return root.querySelector('[data-field="' + name + '"]'); }
  function setText(root, name, text) { const f = field(root, name); if (f) f.textContent = text; }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* empty body */ }
    if (response.status === 401) window.location.assign("/hmi/login");
    return { ok: response.ok, status: response.status, data: data };
  }

  function untrusted(text) {
    const box = el("div", null, "untrusted");
    box.appendChild(el("span", "AI-generated, unverified", "badge"));
    box.appendChild(el("p", text || "", "rationale"));
    return box;
  }

  function renderReasons(list, reasons) {
    list.replaceChildren();
    (reasons || []).forEach(function (r) {
      const li = el("li");
      li.appendChild(el("code", r.code));
      li.appendChild(document.createTextNode(" " + (r.detail || "")));
      list.appendChild(li);
    });
  }

  function renderLoop(loop) {
    const card = document.querySelector('article.loop[data-loop="' + CSS.escape(loop.name) + '"]');
    if (!card) return;
    setText(card, "pv", num(loop.pv));
    setText(card, "sp", num(loop.sp));
    setText(card, "autonomy", loop.autonomy || "");
    const mode = field(card, "mode");
    mode.textContent = loop.mode + (loop.latched ? " (latched)" : "");
    mode.className = "mode mode-" + loop.mode;
    const plc = field(card, "plc_mode");
    plc.textContent = loop.plc_mode || "—";
    plc.className = "plc plc-" + loop.plc_mode;
    setText(card, "mode_reason", loop.mode_reason);
    const last = loop.last || {};
    setText(card, "rec_value", num(last.value));
    setText(card, "rec_engine", last.engine || "—");
    setText(card, "decision", last.decision || "—");
    setText(card, "approval", last.approval ? "(" + last.approval.outcome + " by " + last.approval.by + ")" : "");
    renderReasons(field(card, "reasons"), last.reasons);
    setText(card, "rationale", last.rationale || "");
    renderHistory(field(card, "history"), loop.history || []);
    renderInterlocks(field(card, "interlocks"), loop.interlocks || []);
    renderButtons(card, loop.actions || {});
  }

  function clock(at) {
    return typeof at === "number" && isFinite(at) ? new Date(at * 1000).toISOString().slice(11, 19) : "";
  }

  function renderHistory(body, items) {
    if (!body) return;
    body.replaceChildren();
    items.forEach(function (h) {
      const reasons = el("span");
      (h.reasons || []).forEach(function (r) {
        const c = el("code", r.code);
        c.title = r.detail || "";
        reasons.appendChild(c);
        reasons.appendChild(document.createTextNode(" "));
      });
      const tr = row([clock(h.at), num(h.value), h.engine || "", h.decision || "—", reasons,
        h.approval ? h.approval.outcome + " by " + h.approval.by : ""]);
      tr.children[3].className = "decision-" + (h.decision || "none");
      body.appendChild(tr);
    });
    if (!items.length) body.appendChild(emptyRow(6, "no recommendations yet"));
  }

  function renderInterlocks(list, items) {
    if (!list) return;
    list.replaceChildren();
    items.forEach(function (il) {
      const li = el("li", null, il.active ? "active" : "clear");
      li.appendChild(el("b", il.name));
      li.appendChild(document.createTextNode(" " + (il.active ? "ACTIVE" : "clear") + ": blocks " + il.blocks + " "));
      li.appendChild(el("small", "(when " + il.when + ")"));
      list.appendChild(li);
    });
    if (!items.length) list.appendChild(el("li", "no gateway interlocks on this setpoint", "none"));
  }

  // A button that cannot do anything now is disabled, and says why on hover (ISA-101: no dead buttons).
  function renderButtons(card, actions) {
    Object.keys(actions).forEach(function (name) {
      const b = card.querySelector('button[data-action="' + name + '"]');
      if (!b) return;
      b.disabled = !actions[name].enabled;
      if (b.disabled) b.title = actions[name].why; else b.removeAttribute("title");
    });
  }

  function button(text, attrs) {
    const b = el("button", text);
    b.type = "button";
    Object.keys(attrs).forEach(function (k) { b.setAttribute(k, attrs[k]); });
    return b;
  }

  function row(cells) {
    const tr = el("tr");
    cells.forEach(function (c) {
      const td = el("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "" : String(c);
      tr.appendChild(td);
    });
    return tr;
  }

  function emptyRow(columns, text) {
    const tr = el("tr", null, "empty");
    const td = el("td", text || "none");
    td.colSpan = columns;
    tr.appendChild(td);
    return tr;
  }

  // Rows keyed by id: a row is rebuilt only when its stable part changes, so that a live update never
  // replaces the button under the operator's pointer or a reason half typed.
  function keyed(container, items, key, stable, build, update, columns) {
    const seen = new Set();
    container.querySelectorAll(":scope > .empty").forEach(function (n) { n.remove(); });
    items.forEach(function (item) {
      const k = key(item);
      const sig = JSON.stringify(stable(item));
      seen.add(k);
      let node = Array.prototype.find.call(container.children, function (n) { return n.dataset.key === k; });
      if (!node || node.dataset.sig !== sig) {
        const fresh = build(item);
        fresh.dataset.key = k;
        fresh.dataset.sig = sig;
        if (node) container.replaceChild(fresh, node); else container.appendChild(fresh);
        node = fresh;
      }
      if (update) update(node, item);
    });
    Array.prototype.slice.call(container.children).forEach(function (n) {
      if (!seen.has(n.dataset.key)) n.remove();
    });
    if (!items.length && columns) container.appendChild(emptyRow(columns));
  }

  function setCell(tr, index, text) { tr.children[index].textContent = text; }

  // Risk class, dual-approval progress and predicted effect, as the server template writes them.
  function oversight(a) {
    const by = a.approved_by || [];
    let text = (a.risk ? a.risk + " risk" : "risk not tiered") + " · " + by.length + " of " + a.approvals_required + " approvals";
    if (by.length) text += " (" + by.join(", ") + ")";
    (a.predicted_effect || []).forEach(function (e) {
      text += " · predicted " + e.variable + " " + (e.change >= 0 ? "+" : "") + Number(e.change.toPrecision(3)) + " " + e.unit;
    });
    return text;
  }

  function renderApprovals(items) {
    keyed(document.getElementById("approvals"), items,
      function (a) { return a.id; },
      function (a) { return [a.id, a.digest, a.engine, a.tag, a.value, a.rationale, a.limits]; },
      function (a) {
        const act = el("span");
        if (page.can_operate) {
          act.appendChild(button("Approve", { "data-approve": a.id, "data-digest": a.digest }));
          act.appendChild(button("Reject", { "data-reject": a.id, "data-digest": a.digest }));
        }
        const limits = a.limits ? num(a.limits.lo) + " … " + num(a.limits.hi) : "";
        const tr = row([a.id, a.engine, a.tag, "", "", num(a.value), "", limits, untrusted(a.rationale), "", "", act]);
        tr.children[10].className = "oversight";
        tr.dataset.id = a.id;
        return tr;
      },
      function (tr, a) {
        setCell(tr, 3, num(a.pv));
        setCell(tr, 4, num(a.sp));
        setCell(tr, 6, num(a.move));
        setCell(tr, 9, Math.floor(a.expires_in_s) + " s");
        setCell(tr, 10, oversight(a));
      }, 12);
  }

  function shelveControls(a) {
    const span = el("span", null, "shelve");
    if (!page.can_operate) return span;
    if (!a.acknowledged_by) span.appendChild(button("Acknowledge", { "data-ack": a.code }));
    if (a.shelved) return span;
    if (!a.shelvable) {
      const b = button("Shelve", { "data-shelve": a.code });
      b.disabled = true;
      b.title = "safety-class alarm (priority high): it cannot be shelved";
      span.appendChild(b);
      return span;
    }
    const reason = el("input", null, "shelve-reason");
    reason.type = "text"; reason.maxLength = 500; reason.placeholder = "reason to shelve";
    reason.setAttribute("aria-label", "reason to shelve " + a.code);
    const minutes = el("select", null, "shelve-minutes");
    minutes.setAttribute("aria-label", "how long to shelve " + a.code);
    [["15", "15 min"], ["60", "1 h"], ["240", "4 h"], ["480", "8 h"]].forEach(function (o) {
      const opt = el("option", o[1]); opt.value = o[0]; minutes.appendChild(opt);
    });
    span.appendChild(reason); span.appendChild(minutes);
    span.appendChild(button("Shelve", { "data-shelve": a.code }));
    return span;
  }

  function renderAlarms(items) {
    keyed(document.getElementById("alarms"), items,
      function (a) { return a.code; },
      function (a) { return [a.code, a.message, a.priority, a.acknowledged_by, a.shelved, a.shelvable]; },
      function (a) {
        const prio = el("span", a.priority, "prio prio-" + a.priority);
        const tr = row([prio, a.code, a.message, clock(a.raised_at), "", "", "", "", "", shelveControls(a)]);
        tr.className = "alarm prio-row-" + a.priority;
        tr.dataset.code = a.code;
        return tr;
      },
      function (tr, a) {
        setCell(tr, 4, String(a.count));
        setCell(tr, 5, a.active ? "ACTIVE" : "cleared");
        setCell(tr, 6, a.acknowledged_by ? clock(a.acknowledged_at) + " " + a.acknowledged_by : "");
        setCell(tr, 7, clock(a.cleared_at));
        setCell(tr, 8, a.shelved ? "until " + clock(a.shelved_until) + " by " + a.shelved_by + ": " + a.shelved_reason : "");
        tr.classList.toggle("inactive", !a.active);
      }, 10);
    // keyed() appends new rows at the end: put them back in the server's order (high priority first).
    const body = document.getElementById("alarms");
    items.forEach(function (a) {
      const node = Array.prototype.find.call(body.children, function (n) { return n.dataset.key === a.code; });
      if (node) body.appendChild(node);
    });
  }

  function renderAlarmHistory(events, hours) {
    const body = document.getElementById("alarm-history");
    body.replaceChildren();
    (events || []).forEach(function (e) {
      body.appendChild(row([new Date(e.at * 1000).toISOString().slice(0, 19).replace("T", " "), e.event, e.code, e.priority || "", e.by]));
    });
    if (!(events || []).length) body.appendChild(emptyRow(5));
    const perHour = document.getElementById("alarms-per-hour");
    perHour.replaceChildren();
    (hours || []).forEach(function (h) {
      const tr = row([h.hour, String(h.count)]);
      if (h.count > 10) tr.className = "flood";  // ISA-18.2: more than 10 in 10 min is a flood
      perHour.appendChild(tr);
    });
    if (!(hours || []).length) perHour.appendChild(emptyRow(2));
  }

  function clockOffset(seconds) {
    return typeof seconds === "number" ? ", clock offset " + (seconds >= 0 ? "+" : "") + seconds.toFixed(1) + " s" : "";
  }

  function renderEngines(items) {
    keyed(document.getElementById("engines"), items,
      function (e) { return e.name; },
      function (e) { return [e.name, e.quarantined, clockOffset(e.clock_offset_s)]; },
      function (e) {
        const li = el("li", e.name + ": " + (e.quarantined ? "QUARANTINED" : "allowed") + clockOffset(e.clock_offset_s) + " ");
        if (page.can_operate) {
          const off = button("Fallback its loops", { "data-engine-fallback": e.name });
          off.className = "safe";
          li.appendChild(off);
        }
        if (page.can_operate && e.quarantined) {
          const reason = el("input", null, "lift-reason");
          reason.type = "text";
          reason.placeholder = "reason";
          reason.maxLength = 500;
          li.appendChild(reason);
          li.appendChild(button("Lift quarantine", { "data-lift": e.name }));
        }
        return li;
      }, 0);
  }

  function render(state) {
    const plc = document.getElementById("plc");
    plc.textContent = state.plc_available ? "connected" : "UNAVAILABLE";
    plc.className = "pill " + (state.plc_available ? "ok" : "bad");
    document.getElementById("scan-at").textContent =
      state.at ? new Date(state.at * 1000).toISOString().slice(11, 19) + " UTC" : "—";
    state.loops.forEach(function (loop) { renderLoop(loop); setPrediction(loop.name, loop, state.at); });
    renderApprovals(state.approvals);
    renderAlarms(state.alarms);
    renderAlarmHistory(state.alarm_history, state.alarms_per_hour);
    renderEngines(state.engines);
    const c = state.counters;
    document.getElementById("counters").textContent = "recommendations " + c.recommendations +
      ", accepted " + c.accepted + ", rejected " + c.rejected + ", fallbacks " + c.fallbacks;
    Object.keys(state.trend || {}).forEach(function (name) { addPoint(name, state.trend[name]); });
  }

  // ------------------------------------------------------------------------------ trends
  // Muted lines (ISA-101): the process in dark grey and slate, limits as dashed lines that say what
  // they are in the legend; colour is kept for what is abnormal.
  const LINE_STYLE = {
    hard_limit: { stroke: "#8a1c1c", dash: [6, 4] },
    alarm: { stroke: "#a35a00", dash: [3, 3] },
    envelope: { stroke: "#6b7785", dash: [1, 3] },
  };
  let spanS = WINDOW_S;

  function timeAxis(u, splits) {
    return splits.map(function (t) { return new Date(t * 1000).toISOString().slice(11, 19); });
  }

  function makeChart(node, data, lines) {
    const width = Math.max(280, node.clientWidth || 420);
    const series = [{}, { label: "PV", stroke: "#2b2f33", width: 1.5, points: { show: false } },
      { label: "SP", stroke: "#4f6d8f", width: 1.5, points: { show: false } }];
    // Each line is a series (so it is in the legend and in the y range) drawn by the hook below across
    // the whole plot, not only under the samples there are.
    lines.forEach(function (line) {
      const style = LINE_STYLE[line.kind] || LINE_STYLE.envelope;
      series.push({ label: line.label + " " + num(line.value), stroke: style.stroke, dash: style.dash, width: 1,
        points: { show: false }, paths: function () { return null; } });
    });
    const opts = {
      width: width, height: 150,
      scales: { x: { time: true } },
      legend: { live: false },
      series: series,
      axes: [{ space: 90, values: timeAxis, label: "time (UTC)", labelSize: 18 },
        { size: 60, label: node.dataset.unit || "", labelSize: 18 }],
      hooks: { draw: [function (u) { drawLines(u, lines); drawPrediction(u); }] },
    };
    return new uPlot(opts, data, node);
  }

  function drawLines(u, lines) {
    const ctx = u.ctx, ratio = window.devicePixelRatio || 1;
    lines.forEach(function (line) {
      const style = LINE_STYLE[line.kind] || LINE_STYLE.envelope;
      const y = u.valToPos(line.value, "y", true);
      ctx.save();
      ctx.strokeStyle = style.stroke;
      ctx.lineWidth = ratio;
      ctx.setLineDash(style.dash.map(function (d) { return d * ratio; }));
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.restore();
    });
  }

  // The predicted band of the loop's PV, when the state carries one (`loops[].prediction`, computed by
  // the gateway from its process models; the page computes nothing): a translucent band from the scan
  // into the future with the expected path dashed in it. The x axis then reaches the horizon.
  function drawPrediction(u) {
    const p = u.prediction;
    if (!p || !p.t_s || !p.t_s.length) return;
    const ctx = u.ctx, ratio = window.devicePixelRatio || 1;
    const x = function (i) { return u.valToPos(p.at + p.t_s[i], "x", true); };
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.beginPath();
    p.band_hi.forEach(function (v, i) { const y = u.valToPos(v, "y", true); if (i) ctx.lineTo(x(i), y); else ctx.moveTo(x(i), y); });
    for (let i = p.band_lo.length - 1; i >= 0; i--) ctx.lineTo(x(i), u.valToPos(p.band_lo[i], "y", true));
    ctx.closePath();
    ctx.fillStyle = "rgba(79, 109, 143, 0.22)";
    ctx.fill();
    ctx.beginPath();
    p.expected.forEach(function (v, i) { const y = u.valToPos(v, "y", true); if (i) ctx.lineTo(x(i), y); else ctx.moveTo(x(i), y); });
    ctx.strokeStyle = "#4f6d8f";
    ctx.lineWidth = ratio;
    ctx.setLineDash([4 * ratio, 2 * ratio]);
    ctx.stroke();
    ctx.restore();
  }

  function setPrediction(name, loop, at) {
    const chart = charts[name];
    if (!chart || !("prediction" in loop)) return;  // a gateway without the field: nothing to draw
    const mine = (loop.prediction || []).filter(function (p) { return p.variable === loop.pv_tag; })[0];
    chart.prediction = mine && at ? Object.assign({ at: at }, mine) : null;
  }

  function withLines(times, lines) {
    return lines.map(function (line) { return times.map(function () { return line.value; }); });
  }

  function showSpan(chart) {
    const t = chart.data[0];
    const ahead = chart.prediction ? chart.prediction.horizon_s : 0;
    if (t.length) chart.setScale("x", { min: t[t.length - 1] - spanS, max: t[t.length - 1] + ahead });
  }

  function addPoint(name, point) {
    const chart = charts[name];
    if (!chart || !point) return;
    const d = chart.data;
    if (d[0].length && point[0] <= d[0][d[0].length - 1]) return;
    d[0].push(point[0]); d[1].push(point[1]); d[2].push(point[2]);
    chart.lineValues.forEach(function (v, i) { d[3 + i].push(v); });
    while (d[0].length && point[0] - d[0][0] > WINDOW_S) { d.forEach(function (s) { s.shift(); }); }
    chart.setData(d);
    showSpan(chart);
  }

  function startCharts() {
    if (typeof uPlot === "undefined") return;
    const initial = JSON.parse(document.getElementById("trend-data").textContent);
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      const name = node.dataset.chart;
      const lines = JSON.parse(node.dataset.lines || "[]");
      const s = initial[name] || [[], [], []];
      const data = [s[0].slice(), s[1].slice(), s[2].slice()].concat(withLines(s[0], lines));
      charts[name] = makeChart(node, data, lines);
      charts[name].lineValues = lines.map(function (line) { return line.value; });
      node.uplot = charts[name];  // read by the browser tests (scales, series)
      showSpan(charts[name]);
    });
    document.getElementById("span").addEventListener("change", function (event) {
      spanS = Number(event.target.value) || WINDOW_S;
      Object.keys(charts).forEach(function (name) { showSpan(charts[name]); });
    });
  }

  // ------------------------------------------------------------------------------ managed change
  let runningConfig = "";

  function changeCard(c) {
    const box = el("article", null, "change change-" + c.state);
    box.dataset.change = c.id;
    box.appendChild(el("h3", c.id + ": " + c.state));
    box.appendChild(el("p", "proposed by " + c.proposed_by + (c.approved_by ? ", approved by " + c.approved_by : "") +
      (c.decided_by && c.state !== "approved" ? ", " + c.state + " by " + c.decided_by : "") + ". Reason: " + c.reason));
    box.appendChild(el("p", "candidate " + c.file + " (sha256 " + c.candidate_sha256.slice(0, 16) + "…)", "note"));
    const diff = el("pre", c.diff || "(no difference)", "diff");
    diff.setAttribute("aria-label", "diff of " + c.id);
    box.appendChild(diff);
    const r = c.replay || {};
    const reasons = Object.keys(r.by_reason || {}).map(function (k) { return k + " " + r.by_reason[k]; }).join(", ");
    box.appendChild(el("p", "Replay on the trail: " + r.replayed + " recommendations re-decided, " + r.changed +
      " decided differently" + (reasons ? " (" + reasons + ")" : "") +
      ((r.affected_loops || []).length ? "; loops: " + r.affected_loops.join(", ") : ""), "replay"));
    if ((r.decisions || []).length) {
      const table = el("table", null, "list");
      table.setAttribute("aria-label", "recommendations decided differently under " + c.id);
      const head = el("thead");
      head.appendChild(row(["Time", "Id", "Tag", "Value", "Was", "Would be", "Reasons"]));
      table.appendChild(head);
      const body = el("tbody");
      r.decisions.forEach(function (d) {
        body.appendChild(row([clock(d.at), d.id, d.tag, String(d.value), d.was, d.now, (d.now_codes || []).join(", ")]));
      });
      table.appendChild(body);
      box.appendChild(table);
    }
    const bar = el("div", null, "moc-bar");
    const pw = el("input", null, "moc-password");
    pw.type = "password"; pw.autocomplete = "current-password";
    pw.setAttribute("aria-label", "your password, to approve or apply " + c.id);
    pw.placeholder = "your password";
    const approve = button("Approve", { "data-change": c.id, "data-change-action": "approve" });
    const apply = button("Apply (reload)", { "data-change": c.id, "data-change-action": "apply" });
    const reject = button("Reject", { "data-change": c.id, "data-change-action": "reject" });
    approve.disabled = c.state !== "proposed" || c.proposed_by === page.user;
    if (c.state === "proposed" && c.proposed_by === page.user) approve.title = "two-person rule: another engineer must approve your change";
    apply.disabled = c.state !== "approved";
    if (apply.disabled) apply.title = "only an approved change can be applied";
    reject.disabled = c.state !== "proposed" && c.state !== "approved";
    [pw, approve, apply, reject].forEach(function (n) { bar.appendChild(n); });
    box.appendChild(bar);
    return box;
  }

  async function loadChanges() {
    if (!page.can_engineer) return;
    const response = await fetch("/hmi/api/changes", { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    runningConfig = data.running.text;
    const list = document.getElementById("moc-changes");
    list.replaceChildren();
    data.changes.forEach(function (c) { list.appendChild(changeCard(c)); });
    if (!data.changes.length) list.appendChild(el("p", "no changes proposed", "note"));
  }

  async function proposeChange() {
    const problems = document.getElementById("moc-problems");
    problems.replaceChildren();
    const result = await post("/hmi/api/changes", {
      text: document.getElementById("moc-text").value,
      reason: document.getElementById("moc-reason").value,
    });
    if (!result.ok) {
      (result.data.fields || []).forEach(function (f) { problems.appendChild(el("li", f.msg)); });
      say("propose change: " + describe(result), true);
      return;
    }
    say("proposed " + result.data.id + ": waiting for a second engineer's approval", false);
    await loadChanges();
  }

  async function changeAction(b) {
    const card = b.closest("article[data-change]");
    const pw = card.querySelector(".moc-password");
    const result = await post("/hmi/api/changes/" + encodeURIComponent(b.dataset.change) + "/" + b.dataset.changeAction,
      { password: pw.value });
    pw.value = "";
    const d = result.data || {};
    say(b.dataset.changeAction + " " + b.dataset.change + ": " +
      (result.ok ? d.state : (d.error || "") + (d.fields ? ": " + d.fields.map(function (f) { return f.msg; }).join("; ") : "")), !result.ok);
    await loadChanges();
  }

  // ------------------------------------------------------------------------------ live updates
  function connect() {
    const live = document.getElementById("live");
    const source = new EventSource("/hmi/events");
    source.addEventListener("state", function (event) {
      live.textContent = "live";
      live.className = "pill ok";
      render(JSON.parse(event.data));
    });
    source.addEventListener("expired", function () { source.close(); window.location.assign("/hmi/login"); });
    source.onerror = function () { live.textContent = "reconnecting"; live.className = "pill bad"; };
  }

  // ------------------------------------------------------------------------------ actions
  function describe(result) {
    const d = result.data || {};
    if (d.outcome && typeof d.outcome === "object") {
      return Object.keys(d.outcome).map(function (k) { return k + ": " + d.outcome[k]; }).join(", ");
    }
    if (d.decision) {
      return d.decision + (d.reasons && d.reasons.length ? " (" + d.reasons.map(function (r) { return r.code; }).join(", ") + ")" : "");
    }
    if (d.error) return d.error + (d.fields ? ": " + d.fields.map(function (f) { return f.msg; }).join("; ") : "");
    return d.outcome || JSON.stringify(d);
  }

  async function act(label, url, body) {
    const result = await post(url, body);
    say(label + ": " + describe(result), !result.ok);
  }

  async function onModeButton(b) {
    const action = b.dataset.action;
    const card = b.closest("article.loop");
    const scope = b.dataset.loop ? "/hmi/api/loops/" + encodeURIComponent(b.dataset.loop) : "/hmi/api/plant";
    const label = (b.dataset.loop || "plant") + " " + action;
    if (action === "setpoint") {
      const input = card.querySelector(".sp-input");
      const value = input.value.trim() === "" ? NaN : Number(input.value);
      if (!isFinite(value)) { say(label + ": enter a number", true); return; }
      return act(label, scope + "/setpoint", { value: value });
    }
    const reasonInput = card ? card.querySelector(".reason-input") : document.getElementById("plant-reason");
    const reason = reasonInput ? reasonInput.value.trim() : "";
    if (action === "reset" && !reason) { say(label + ": a reason is required", true); reasonInput.focus(); return; }
    await act(label, scope + "/" + action, { reason: reason });
    if (action === "reset" && reasonInput) reasonInput.value = "";
  }

  document.addEventListener("click", function (event) {
    const b = event.target.closest("button");
    if (!b) return;
    if (b.dataset.action) onModeButton(b);
    else if (b.dataset.approve) act("approve " + b.dataset.approve, "/hmi/api/approvals/" + encodeURIComponent(b.dataset.approve) + "/approve", { digest: b.dataset.digest });
    else if (b.dataset.reject) act("reject " + b.dataset.reject, "/hmi/api/approvals/" + encodeURIComponent(b.dataset.reject) + "/reject", { digest: b.dataset.digest });
    else if (b.dataset.ack) act("acknowledge " + b.dataset.ack, "/hmi/api/alarms/" + encodeURIComponent(b.dataset.ack) + "/acknowledge", {});
    else if (b.dataset.shelve) {
      const cell = b.parentNode;
      const reason = cell.querySelector(".shelve-reason").value.trim();
      if (!reason) { say("shelve " + b.dataset.shelve + ": a reason is required", true); return; }
      const minutes = Number(cell.querySelector(".shelve-minutes").value);
      act("shelve " + b.dataset.shelve, "/hmi/api/alarms/" + encodeURIComponent(b.dataset.shelve) + "/shelve", { reason: reason, duration_s: minutes * 60 });
    }
    else if (b.dataset.engineFallback) act("fallback " + b.dataset.engineFallback, "/hmi/api/engines/" + encodeURIComponent(b.dataset.engineFallback) + "/fallback", {});
    else if (b.dataset.lift) {
      const input = b.parentNode.querySelector(".lift-reason");
      const reason = input ? input.value.trim() : "";
      if (!reason) { say("lift quarantine " + b.dataset.lift + ": a reason is required", true); return; }
      act("lift quarantine " + b.dataset.lift, "/hmi/api/engines/" + encodeURIComponent(b.dataset.lift) + "/lift-quarantine", { reason: reason });
    } else if (b.id === "reload") {
      const pw = document.getElementById("reload-password");
      act("reload config", "/hmi/api/config/reload", { password: pw.value }).then(function () { pw.value = ""; });
    } else if (b.dataset.changeAction) {
      changeAction(b);
    } else if (b.id === "moc-propose") {
      proposeChange();
    } else if (b.id === "moc-load") {
      document.getElementById("moc-text").value = runningConfig;
    } else if (b.id === "logout") {
      post("/hmi/api/session/logout").then(function () { window.location.assign("/hmi/login"); });
    }
  });

  startCharts();
  render(JSON.parse(document.getElementById("state-data").textContent));
  loadChanges();
  connect();
})();
