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

  function emptyRow(columns) {
    const tr = el("tr", null, "empty");
    const td = el("td", "none");
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

  function renderAlarms(items) {
    keyed(document.getElementById("alarms"), items,
      function (a) { return a.code; },
      function (a) { return [a.code, a.message, a.priority, a.acknowledged_by]; },
      function (a) {
        const ack = page.can_operate && !a.acknowledged_by ? button("Acknowledge", { "data-ack": a.code }) : "";
        return row([a.code, a.message, a.priority, "", "", a.acknowledged_by || "", ack]);
      },
      function (tr, a) {
        setCell(tr, 3, String(a.count));
        setCell(tr, 4, a.active ? "active" : "cleared");
      }, 7);
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
    state.loops.forEach(renderLoop);
    renderApprovals(state.approvals);
    renderAlarms(state.alarms);
    renderEngines(state.engines);
    const c = state.counters;
    document.getElementById("counters").textContent = "recommendations " + c.recommendations +
      ", accepted " + c.accepted + ", rejected " + c.rejected + ", fallbacks " + c.fallbacks;
    Object.keys(state.trend || {}).forEach(function (name) { addPoint(name, state.trend[name]); });
  }

  // ------------------------------------------------------------------------------ trends
  function makeChart(node, data) {
    const width = Math.max(280, node.clientWidth || 420);
    const opts = {
      width: width, height: 170,
      scales: { x: { time: true } },
      legend: { live: false },
      series: [{}, { label: "PV", stroke: "#1f6feb", width: 1.5, points: { show: false } },
        { label: "SP", stroke: "#d97706", width: 1.5, points: { show: false } }],
      axes: [{}, { size: 60 }],
    };
    return new uPlot(opts, data, node);
  }

  function addPoint(name, point) {
    const chart = charts[name];
    if (!chart || !point) return;
    const d = chart.data;
    if (d[0].length && point[0] <= d[0][d[0].length - 1]) return;
    d[0].push(point[0]); d[1].push(point[1]); d[2].push(point[2]);
    while (d[0].length && point[0] - d[0][0] > WINDOW_S) { d[0].shift(); d[1].shift(); d[2].shift(); }
    chart.setData(d);
  }

  function startCharts() {
    if (typeof uPlot === "undefined") return;
    const initial = JSON.parse(document.getElementById("trend-data").textContent);
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      const name = node.dataset.chart;
      const series = initial[name] || [[], [], []];
      charts[name] = makeChart(node, [series[0].slice(), series[1].slice(), series[2].slice()]);
    });
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
    else if (b.dataset.engineFallback) act("fallback " + b.dataset.engineFallback, "/hmi/api/engines/" + encodeURIComponent(b.dataset.engineFallback) + "/fallback", {});
    else if (b.dataset.lift) {
      const input = b.parentNode.querySelector(".lift-reason");
      const reason = input ? input.value.trim() : "";
      if (!reason) { say("lift quarantine " + b.dataset.lift + ": a reason is required", true); return; }
      act("lift quarantine " + b.dataset.lift, "/hmi/api/engines/" + encodeURIComponent(b.dataset.lift) + "/lift-quarantine", { reason: reason });
    } else if (b.id === "reload") {
      const pw = document.getElementById("reload-password");
      act("reload config", "/hmi/api/config/reload", { password: pw.value }).then(function () { pw.value = ""; });
    } else if (b.id === "logout") {
      post("/hmi/api/session/logout").then(function () { window.location.assign("/hmi/login"); });
    }
  });

  startCharts();
  connect();
})();
