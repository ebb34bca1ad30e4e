// The console's live chat page (templates/live.html, bot/console/live.py). Everything that a
// person or a colleague changes arrives through the server-sent events; what this page changes it
// POSTs, and then sees it come back through the events. Only textContent: nothing typed can run.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var csrf = root.getAttribute("data-csrf");
  var after = parseInt(root.getAttribute("data-after"), 10) || 0;
  var presenceSeconds = parseInt(root.getAttribute("data-presence"), 10) || 20;
  var openChat = null, openStatus = null, shown = {}, since = {}, lastTyping = 0;
  var $ = function (id) { return document.getElementById(id); };

  function problem(text) {
    var p = $("live-problem");
    p.textContent = text || "";
    p.hidden = !text;
  }

  function post(path, fields) {
    var body = new FormData();
    body.append("csrf_token", csrf);
    Object.keys(fields || {}).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(path, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      if (r.redirected || r.status === 403) { window.location.reload(); throw new Error("login"); }
      return r.json().catch(function () { return { ok: false, message: "Dat ging niet goed. Probeer het opnieuw." }; });
    });
  }

  function minutes(seconds) {
    var m = Math.floor(seconds / 60);
    return m < 1 ? "wacht net" : "wacht " + m + (m === 1 ? " minuut" : " minuten");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- the queue -----------------------------------------------------------------------------
  function renderQueue(q) {
    var list = $("queue"), active = $("active"), now = Date.now();
    list.textContent = "";
    q.waiting.forEach(function (c) {
      since[c.id] = now - c.waiting_seconds * 1000;
      var li = el("li", c.crisis ? "crisis" : "");
      li.setAttribute("data-chat", c.id);
      li.appendChild(el("strong", "", c.topic));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "muted small", c.region + " · " + c.channel));
      li.appendChild(el("span", "wait small", minutes(c.waiting_seconds)));
      var b = el("button", "pickup", "Oppakken");
      b.type = "button";
      li.appendChild(b);
      list.appendChild(li);
    });
    $("queue-count").textContent = q.waiting.length;
    $("queue-empty").hidden = q.waiting.length > 0;
    active.textContent = "";
    q.active.forEach(function (c) {
      var li = el("li", (c.mine ? "mine" : "") + (c.crisis ? " crisis" : ""));
      li.setAttribute("data-chat", c.id);
      li.appendChild(el("strong", "", c.topic));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "muted small", c.staff_name + " · " + c.channel));
      var b = el("button", "open", "Openen");
      b.type = "button";
      li.appendChild(b);
      active.appendChild(li);
    });
    setAvailability(q.available);
    if (openChat !== null) {
      var still = q.waiting.concat(q.active).filter(function (c) { return c.id === openChat; })[0];
      var changed = still ? still.status !== openStatus : (openStatus === "waiting" || openStatus === "active");
      if (changed) loadChat(openChat);
    }
  }

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("#queue li"), function (li) {
      var id = li.getAttribute("data-chat");
      if (since[id]) li.querySelector(".wait").textContent = minutes((now - since[id]) / 1000);
    });
  }

  function setAvailability(available) {
    var b = $("availability");
    b.setAttribute("data-available", available ? "1" : "0");
    b.textContent = available ? "Ik stop met live chat" : "Ik ben beschikbaar";
    $("availability-state").textContent = available ? "Je bent beschikbaar voor live chat."
                                                    : "Je bent niet beschikbaar voor live chat.";
  }

  // --- the chat pane -------------------------------------------------------------------------
  function addMessage(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    var li = el("li", "author-" + m.author + (m.crisis ? " crisis" : ""));
    li.setAttribute("data-id", m.id);
    var who = { person: "Persoon", gids: "Gids", system: "", staff: m.name || "Medewerker" }[m.author];
    if (!m.to_person) who = "Alleen voor jou";
    if (who) li.appendChild(el("span", "who", who + (m.at ? " · " + m.at : "")));
    li.appendChild(document.createTextNode(m.text));
    if (m.error) li.appendChild(el("span", "who", "Niet bezorgd: " + m.error));
    $("messages").appendChild(li);
    $("messages").scrollTop = $("messages").scrollHeight;
    if (m.crisis && !m.to_person) {
      $("pane-crisis").textContent = m.text;
      $("pane-crisis").hidden = false;
    }
  }

  function loadChat(id) {
    return fetch("/live/" + id, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (d) {
      if (d.chat.id !== openChat) $("pane-note").textContent = "";  // a note belongs to its chat
      openChat = d.chat.id;
      openStatus = d.chat.status;
      try { sessionStorage.setItem("gids-live-chat", String(openChat)); } catch (e) { /* private mode */ }
      shown = {};
      $("pane").hidden = false;
      $("pane-title").textContent = d.chat.topic;
      var state = { waiting: "wacht", active: "loopt" + (d.chat.staff_name ? " (" + d.chat.staff_name + ")" : ""),
                    returned: "terug bij de gids", ended: "gestopt", handover: "overgedragen" }[d.chat.status] || d.chat.status;
      $("pane-facts").textContent = [d.chat.region, d.chat.gemeente, d.chat.channel, "chat " + state]
        .filter(Boolean).join(" · ");
      $("pane-crisis").hidden = !d.chat.crisis;
      $("before").textContent = "";
      d.before.forEach(function (line) {
        var li = el("li");
        li.appendChild(el("span", "who", line.speaker === "persoon" ? "Persoon" : "Gids"));
        li.appendChild(document.createTextNode(line.text));
        $("before").appendChild(li);
      });
      $("messages").textContent = "";
      d.messages.forEach(addMessage);
      $("send").hidden = !d.chat.can_write;
      $("pane-actions").hidden = !d.chat.can_write;
      $("handover").hidden = true;
      var select = $("partner");
      select.textContent = "";
      d.partners.forEach(function (p) {
        var o = el("option", "", p.name + " (" + p.type + ")");
        o.value = p.id;
        select.appendChild(o);
      });
      $("contact-method").value = d.contact.method;
      $("contact-value").value = d.contact.value;
      if (d.chat.status === "waiting") $("pane-note").textContent = "Deze persoon wacht. Pak hem of haar eerst op.";
    }).catch(function () { problem("Deze chat kan ik niet openen."); });
  }

  // --- events from the server ----------------------------------------------------------------
  function listen() {
    var source = new EventSource("/live/events?after=" + after);
    source.addEventListener("queue", function (e) { problem(""); renderQueue(JSON.parse(e.data)); });
    source.addEventListener("message", function (e) {
      var m = JSON.parse(e.data);
      after = Math.max(after, m.id);
      if (m.chat === openChat) addMessage(m);
      else if (m.crisis && !m.to_person) problem("Let op: iemand in een chat noemt acuut gevaar. Open de chat.");
    });
    source.onerror = function () { problem("De verbinding is even weg. De pagina probeert het opnieuw."); };
  }

  // --- what staff do -------------------------------------------------------------------------
  function clientRef() {
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof HTMLElement)) return;
    var li = t.closest("li[data-chat]");
    if (t.classList.contains("pickup") && li) {
      var id = parseInt(li.getAttribute("data-chat"), 10);
      t.disabled = true;
      post("/live/" + id + "/pickup").then(function (r) {
        if (r.ok) loadChat(id); else { problem(r.message); t.disabled = false; }
      });
    } else if (t.classList.contains("open") && li) {
      loadChat(parseInt(li.getAttribute("data-chat"), 10));
    } else if (t.classList.contains("quick-text")) {
      $("text").value = t.getAttribute("data-text");
      $("text").focus();
    }
  });

  $("availability").addEventListener("click", function () {
    var next = $("availability").getAttribute("data-available") === "1" ? "0" : "1";
    post("/live/presence", { available: next }).then(function (r) { if (r.ok) setAvailability(r.available); });
  });

  var pendingRef = null;
  $("send").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("text").value.trim();
    if (!text || openChat === null) return;
    // The same reference when the same text is sent again after a failure: stored once.
    pendingRef = pendingRef || clientRef();
    post("/live/" + openChat + "/send", { text: text, client_ref: pendingRef }).then(function (r) {
      if (r.ok) { $("text").value = ""; pendingRef = null; $("pane-note").textContent = ""; }
      else $("pane-note").textContent = r.message;
    }).catch(function () { $("pane-note").textContent = "Niet verstuurd. Je tekst staat er nog. Probeer het opnieuw."; });
  });
  $("text").addEventListener("input", function () {
    pendingRef = null;
    if (openChat !== null && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      post("/live/" + openChat + "/typing").catch(function () {});
    }
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("send").requestSubmit(); }
  });

  function finish(action) {
    post("/live/" + openChat + "/" + action).then(function (r) {
      if (r.ok) loadChat(openChat); else problem(r.message);
    });
  }
  $("back").addEventListener("click", function () { finish("back"); });
  $("end").addEventListener("click", function () { finish("end"); });
  $("handover-open").addEventListener("click", function () { $("handover").hidden = false; $("partner").focus(); });
  $("handover").addEventListener("submit", function (e) {
    e.preventDefault();
    post("/live/" + openChat + "/handover", {
      partner_id: $("partner").value, contact_name: $("contact-name").value,
      contact_method: $("contact-method").value, contact_value: $("contact-value").value
    }).then(function (r) {
      if (r.ok) { $("handover").hidden = true; $("pane-note").textContent = "Overdracht gemaakt: " + r.reference + "."; loadChat(openChat); }
      else $("pane-note").textContent = r.message;
    });
  });

  // Presence: while this page is open, the gids may offer a chat with this staff member.
  setInterval(function () { post("/live/presence").catch(function () {}); }, presenceSeconds * 1000);
  setInterval(tick, 1000);
  tick();
  listen();
  var reopen = null;
  try { reopen = sessionStorage.getItem("gids-live-chat"); } catch (e) { /* private mode */ }
  if (reopen) loadChat(parseInt(reopen, 10));
})();
