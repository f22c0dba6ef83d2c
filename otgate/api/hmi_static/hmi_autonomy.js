// otgate HMI autonomy page: the sign-off and demotion buttons. Server text is shown with textContent only.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function say(text, bad) {
    const m = document.getElementById("message");
    m.textContent = text;
    m.className = "message " + (bad ? "bad" : "ok");
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* empty body */ }
    if (response.status === 401) window.location.assign("/hmi/login");
    return { ok: response.ok, data: data };
  }

  function describe(result) {
    const d = result.data || {};
    if (d.level) return d.from + " -> " + d.level;
    if (d.sha256) return "attached, sha256 " + d.sha256.slice(0, 12);
    if (d.error) return d.error + (d.fields ? ": " + d.fields.map(function (f) { return f.msg; }).join("; ") : "");
    return JSON.stringify(d);
  }

  async function act(label, url, body) {
    const result = await post(url, body);
    say(label + ": " + describe(result), !result.ok);
    if (result.ok) window.setTimeout(function () { window.location.reload(); }, 800);
  }

  document.addEventListener("click", function (event) {
    const b = event.target.closest("button");
    if (!b) return;
    const row = b.closest("tr.entry");
    if (!row) return;
    const key = { engine: row.dataset.engine, loop: row.dataset.loop, model_digest: row.dataset.digest };
    const label = key.engine + " on " + key.loop;
    if (b.dataset.signoff) {
      const pw = row.querySelector(".signoff-password");
      act("sign-off " + label, "/hmi/api/autonomy/sign-off", Object.assign({ password: pw.value }, key));
      pw.value = "";
    } else if (b.dataset.certificate) {
      const input = row.querySelector(".scorecard-file");
      const file = input.files && input.files[0];
      if (!file) { say("attach scorecard " + label + ": choose the scorecard.json of otgate hil certify", true); return; }
      file.text().then(function (text) {
        let card;
        try { card = JSON.parse(text); } catch (e) { say("attach scorecard " + label + ": not JSON", true); return; }
        act("attach scorecard " + label, "/hmi/api/autonomy/certificate", Object.assign({ scorecard: card }, key));
      });
    } else if (b.dataset.demote) {
      const input = row.querySelector(".demote-reason");
      const reason = input.value.trim();
      if (!reason) { say("demote " + label + ": a reason is required", true); input.focus(); return; }
      act("demote " + label, "/hmi/api/autonomy/demote", Object.assign({ reason: reason }, key));
    }
  });
})();
