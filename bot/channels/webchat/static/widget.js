/*!
 * Werkcentrum Gids — web chat widget.
 *
 * One script tag on the Werkcentrum's site:
 *   <script src="https://gids.example.nl/widget.js" data-server="https://gids.example.nl:5005"
 *           data-name="Werkcentrum Groningen" data-color="#00617f" data-accent="#f39200" defer></script>
 *
 * Loads widget.css and the vendored socket.io client from next to itself and talks to Rasa's
 * socket.io channel (user_uttered / bot_uttered, session_request / session_confirm).
 *
 * Safety rule for this file: text from the bot or the person is only ever put on the page as
 * text (textContent, createTextNode). Links are <a> elements built with DOM APIs and only get
 * http(s), tel: or mailto: addresses. tests/webchat/test_server.py checks this file for HTML
 * sinks.
 */
(function () {
  "use strict";

  if (window.WerkcentrumGids && window.WerkcentrumGids.version) {
    return; // the tag is on the page twice: one widget is enough
  }

  var VERSION = "1.0.0";
  // Subresource Integrity of vendor/socket.io.min.js (see vendor/VENDOR.md).
  var VENDOR_FILE = "vendor/socket.io.min.js";
  var VENDOR_SRI = "sha384-fBrXvbDtHoeKWJ/hcA6M+YGueiDW+h45I7V6F2kD1S8bOkrF9rZYPLVkCR6BLR/1";
  // Longer messages are not sent (the gids reads the first 1,500 characters anyway). The box
  // has no maxlength: a long paste stays whole, so the person can shorten it and lose nothing.
  var MAX_CHARS = 2000;
  var WARN_CHARS = 1800;         // from here on the person sees how many characters are left
  var MAX_HISTORY = 200;         // messages kept for a reload; older ones are dropped
  var ANSWER_TIMEOUT_MS = 30000; // no answer at all after this long: say so
  var DEFAULT_COLOR = "#00617f";
  var DEFAULT_ACCENT = "#f39200";
  var DEFAULT_REMEMBER_MINUTES = 60; // Rasa's session_expiration_time in domain.yml
  var SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;
  var HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  // Where the message list is light grey (bot bubbles): text colours are checked against it.
  var BOT_BUBBLE_BG = "#eef1f3";

  var TEXT = {
    launcher: "Stel je vraag",
    dialog: "Chat met de digitale gids van {name}",
    subtitle: "Digitale gids",
    close: "Chat sluiten",
    newChat: "Nieuw gesprek",
    confirmQuestion: "Wil je opnieuw beginnen? Dan wis ik dit gesprek op dit apparaat.",
    confirmYes: "Ja, wis het",
    confirmNo: "Nee, ga terug",
    log: "Gesprek",
    empty: "Stel hier je vraag over werk, leren, geld of taal. Je chat met een computer.",
    inputLabel: "Je bericht",
    placeholder: "Typ je vraag",
    send: "Stuur",
    you: "Jij:",
    bot: "Gids:",
    typing: "De gids typt",
    emptyInput: "Typ eerst een bericht.",
    tooLong: "Je bericht is te lang: {n} tekens. Je kunt er {max} sturen. Maak het wat korter.",
    charsLeft: "Nog {n} tekens.",
    unreachable: "Ik kan de gids nu niet bereiken. Ik probeer het steeds opnieuw.",
    lost: "De verbinding is weg. Ik probeer het opnieuw.",
    restored: "De verbinding is terug.",
    queued: "Je bericht gaat weg zodra de verbinding terug is.",
    noAnswer: "Er komt geen antwoord. Probeer het over een paar minuten opnieuw.",
    newWindow: "(opent in een nieuw venster)",
    image: "Afbeelding van de gids",
    cleared: "Het gesprek is gewist. Je kunt een nieuwe vraag stellen.",
    card: { phone: "Bel", phone_hours: "Bereikbaar", website: "Website", email: "Mail",
            address: "Adres", opening_hours: "Open" },
    // The live chat with a staff member (bot/gateway/live.py).
    liveWaiting: "Je wacht op iemand van het Werkcentrum.",
    liveWith: "Je praat nu met {name} van het Werkcentrum",
    staff: "{name} van het Werkcentrum:",
    staffTyping: "{name} typt"
  };

  // ---------------------------------------------------------------- configuration
  function findScript() {
    if (document.currentScript) return document.currentScript;
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(scripts[i].src || "")) return scripts[i];
    }
    return null;
  }

  function httpUrl(raw) {
    try {
      var u = new URL(raw, window.location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u : null;
    } catch (e) {
      return null;
    }
  }

  function readConfig(script) {
    var data = script ? script.dataset : {};
    var base = httpUrl(script && script.src ? script.src : window.location.href);
    var server = httpUrl(data.server || "") || (base ? new URL(base.origin) : null);
    var problems = [];
    if (data.server && !httpUrl(data.server)) problems.push("data-server is not an http(s) URL");
    var color = data.color || DEFAULT_COLOR;
    if (!HEX.test(color)) { problems.push("data-color is not a #rrggbb colour"); color = DEFAULT_COLOR; }
    var accent = data.accent || DEFAULT_ACCENT;
    if (!HEX.test(accent)) { problems.push("data-accent is not a #rrggbb colour"); accent = DEFAULT_ACCENT; }
    var mode = data.mode === "inline" ? "inline" : "launcher";
    var remember = parseInt(data.rememberMinutes || "", 10);
    if (!(remember >= 0 && remember <= 7 * 24 * 60)) remember = DEFAULT_REMEMBER_MINUTES;
    problems.forEach(function (p) { console.warn("Werkcentrum Gids: " + p + "; the default is used."); });
    return {
      base: base,
      server: server,
      path: data.path && data.path.charAt(0) === "/" ? data.path : "/socket.io",
      name: (data.name || "het Werkcentrum").slice(0, 80),
      color: color,
      accent: accent,
      mode: mode,
      target: data.target || null,
      rememberMs: remember * 60000,
      script: script
    };
  }

  // ---------------------------------------------------------------- colours (WCAG 2.1)
  function rgb(hex) {
    var h = hex.slice(1);
    if (h.length === 3) h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16) / 255; });
  }

  function luminance(hex) {
    var c = rgb(hex).map(function (v) { return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  // The Werkcentrum chooses its colours; the widget makes sure text stays readable (4.5:1) and
  // the focus ring visible (3:1). A brand colour that is too light for text on white is kept
  // for surfaces and replaced by the safe default where it would colour text.
  function theme(color, accent) {
    var onColor = contrast(color, "#ffffff") >= 4.5 ? "#ffffff" : "#000000";
    var textColor = contrast(color, BOT_BUBBLE_BG) >= 4.5 ? color : DEFAULT_COLOR;
    var focus = contrast(accent, "#ffffff") >= 3 ? accent : textColor;
    var onAccent = contrast(accent, "#ffffff") >= 4.5 ? "#ffffff" : "#000000";
    return { color: color, onColor: onColor, text: textColor, accent: accent, onAccent: onAccent,
             focus: focus, focusOnColor: onColor };
  }

  // ---------------------------------------------------------------- storage
  function storage(kind) {
    try {
      var s = window[kind];
      var probe = "wcgids:probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null; // storage blocked (private mode, cookie settings): the chat still works
    }
  }

  function Store(cfg) {
    var prefix = "wcgids:" + (cfg.server ? cfg.server.origin : "") + ":";
    var local = storage("localStorage");
    var tab = storage("sessionStorage");

    function read(s, key) {
      if (!s) return null;
      try { return JSON.parse(s.getItem(prefix + key)); } catch (e) { return null; }
    }
    function write(s, key, value) {
      if (!s) return;
      try { s.setItem(prefix + key, JSON.stringify(value)); } catch (e) { /* full: keep going */ }
    }

    this.load = function () {
      var saved = read(local, "conversation");
      var none = { sessionId: null, history: [], pending: [] };
      if (!saved || typeof saved !== "object") return none;
      var fresh = cfg.rememberMs > 0 && typeof saved.at === "number" && Date.now() - saved.at < cfg.rememberMs;
      if (!fresh || (saved.sessionId && !SESSION_ID.test(saved.sessionId))) {
        this.forget();
        return none;
      }
      var pending = Array.isArray(saved.pending) ? saved.pending.filter(function (p) { return typeof p === "string"; }) : [];
      return { sessionId: saved.sessionId || null, history: Array.isArray(saved.history) ? saved.history : [],
               pending: pending.slice(0, 20) };
    };
    // pending: messages typed while offline, not yet sent; they go out after a reload too.
    this.save = function (sessionId, history, pending) {
      if (cfg.rememberMs <= 0) return;
      write(local, "conversation", { sessionId: sessionId, history: history.slice(-MAX_HISTORY),
                                     pending: pending || [], at: Date.now() });
    };
    this.forget = function () {
      if (local) try { local.removeItem(prefix + "conversation"); } catch (e) { /* ignore */ }
    };
    this.isOpen = function () { return read(tab, "open") === true; };
    this.setOpen = function (open) { write(tab, "open", !!open); };
  }

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) return;
        if (k === "text") node.textContent = attrs[k];
        else if (k === "className") node.className = attrs[k];
        else node.setAttribute(k, attrs[k] === true ? "" : String(attrs[k]));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function hiddenText(text) {
    return el("span", { className: "gids-vh", text: text });
  }

  function safeHref(raw, allowed) {
    if (typeof raw !== "string") return null;
    var value = raw.trim();
    if (/^www\./i.test(value)) value = "https://" + value;
    try {
      var u = new URL(value);
      return allowed.indexOf(u.protocol) >= 0 ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function externalLink(href, label) {
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer" },
              [label, " ", hiddenText(TEXT.newWindow)]);
  }

  // Markdown links [title](https://...) and bare http(s):// or www. addresses become links;
  // everything else stays text. Line breaks are kept by CSS (white-space: pre-line).
  var LINK = /\[([^\]\n]{1,200})\]\(((?:https?:\/\/|www\.)[^\s)]+)\)|((?:https?:\/\/|www\.)[^\s<>"']+[^\s<>"'.,;:!?)\]])/gi;

  function richText(parent, text) {
    var last = 0;
    var m;
    LINK.lastIndex = 0;
    while ((m = LINK.exec(text)) !== null) {
      var href = safeHref(m[2] || m[3], ["http:", "https:"]);
      if (!href) continue;
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      parent.appendChild(externalLink(href, m[1] || m[3]));
      last = LINK.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
    return parent;
  }

  function shortUrl(href) {
    var u = new URL(href);
    var path = u.pathname === "/" ? "" : u.pathname;
    return u.host.replace(/^www\./, "") + path + u.search;
  }

  // ---------------------------------------------------------------- what the bot may send
  // Only the fields the widget renders are kept (also what goes into storage).
  function str(v, max) {
    return typeof v === "string" ? v.slice(0, max || 4000) : "";
  }

  function normaliseCard(c) {
    if (!c || typeof c !== "object" || c.type !== "partner_card") return null;
    var contact = c.contact && typeof c.contact === "object" ? c.contact : {};
    var card = {
      type: "partner_card",
      partner: str(c.partner || c.name, 200),
      service: str(c.service || c.description, 1000),
      conditions: str(c.conditions, 1000),
      verified: c.verified === true,
      contact: {}
    };
    ["phone", "phone_hours", "website", "email", "address", "opening_hours"].forEach(function (k) {
      var v = contact[k] !== undefined ? contact[k] : c[k];
      if (typeof v === "string" && v.trim()) card.contact[k] = v.trim().slice(0, 300);
    });
    return card.partner ? card : null;
  }

  function normaliseBot(m) {
    if (!m || typeof m !== "object") return null;
    var out = {};
    if (typeof m.text === "string" && m.text.trim()) out.text = m.text.slice(0, 4000);
    var buttons = m.quick_replies || m.buttons;
    if (Array.isArray(buttons)) {
      out.buttons = buttons.filter(function (b) { return b && typeof b.title === "string"; })
        .slice(0, 12)
        .map(function (b) { return { title: b.title.slice(0, 80), payload: str(b.payload || b.title, 500) }; });
      if (!out.buttons.length) delete out.buttons;
    }
    var card = normaliseCard(m.custom) || normaliseCard(m);
    if (card) out.card = card;
    var image = m.attachment && m.attachment.type === "image" && m.attachment.payload
      ? m.attachment.payload.src : m.image;
    var src = safeHref(image, ["https:", "http:"]);
    if (src) out.image = src;
    return (out.text || out.card || out.image) ? out : null;
  }

  // ---------------------------------------------------------------- the widget
  function Widget(cfg) {
    this.cfg = cfg;
    this.store = new Store(cfg);
    var saved = this.store.load();
    this.sessionId = saved.sessionId;
    this.history = saved.history;
    this.outbox = saved.pending;
    this.socket = null;
    this.ready = false;        // connected and session confirmed
    this.everConnected = false;
    this.outage = null;        // "unreachable" | "lost" while there is a problem
    this.answerTimer = null;
    this.theme = theme(cfg.color, cfg.accent);
    this.build();
    this.renderHistory();
    if (cfg.mode === "inline" || this.store.isOpen()) this.open(false);
    else if (this.outbox.length) this.connect();
  }

  Widget.prototype.build = function () {
    var cfg = this.cfg;
    var self = this;
    var inline = cfg.mode === "inline";
    var container = null;
    if (inline && cfg.target) {
      try { container = document.querySelector(cfg.target); } catch (e) { container = null; }
    }
    this.host = el("div", { id: "werkcentrum-gids", "data-mode": cfg.mode });
    if (container) container.appendChild(this.host);
    else if (inline && cfg.script && cfg.script.parentNode && cfg.script.parentNode !== document.head) {
      cfg.script.parentNode.insertBefore(this.host, cfg.script.nextSibling); // where the tag stands
    } else document.body.appendChild(this.host);

    var t = this.theme;
    // CSSOM (not a style attribute), so a strict CSP on the site does not block it.
    [["--gids-color", t.color], ["--gids-on-color", t.onColor], ["--gids-text-color", t.text],
     ["--gids-accent", t.accent], ["--gids-on-accent", t.onAccent], ["--gids-focus", t.focus],
     ["--gids-focus-on-color", t.focusOnColor]].forEach(function (p) { self.host.style.setProperty(p[0], p[1]); });

    // Shadow DOM: the site's CSS cannot break the widget, and ours cannot touch the site.
    var root = this.host.attachShadow ? this.host.attachShadow({ mode: "open" }) : this.host;
    this.root = root;
    this.host.style.visibility = "hidden"; // until widget.css is there, no unstyled flash
    var css = el("link", { rel: "stylesheet", href: new URL("widget.css", cfg.base).href });
    var show = function () { self.host.style.visibility = ""; };
    css.addEventListener("load", show);
    css.addEventListener("error", function () {
      console.warn("Werkcentrum Gids: widget.css did not load; the chat works without its layout.");
      show();
    });
    root.appendChild(css);

    var dialogLabel = TEXT.dialog.replace("{name}", cfg.name);
    this.launcher = inline ? null : el("button", {
      type: "button", className: "gids-launcher", "aria-expanded": "false", "aria-controls": "gids-panel"
    }, [svgIcon(), el("span", { text: TEXT.launcher })]);

    this.closeButton = inline ? null : el("button", {
      type: "button", className: "gids-icon-button gids-close", "aria-label": TEXT.close, title: TEXT.close
    }, [closeIcon()]);
    this.newButton = el("button", { type: "button", className: "gids-text-button gids-new", text: TEXT.newChat });

    this.confirmYes = el("button", { type: "button", className: "gids-button gids-confirm-yes", text: TEXT.confirmYes });
    this.confirmNo = el("button", { type: "button", className: "gids-button gids-secondary gids-confirm-no", text: TEXT.confirmNo });
    this.confirmBox = el("div", { className: "gids-confirm", role: "group", "aria-labelledby": "gids-confirm-q", hidden: true }, [
      el("p", { id: "gids-confirm-q", text: TEXT.confirmQuestion }),
      el("div", { className: "gids-confirm-actions" }, [this.confirmYes, this.confirmNo])
    ]);

    this.list = el("ol", { className: "gids-messages" });
    this.emptyHint = el("p", { className: "gids-empty", text: TEXT.empty });
    this.typing = el("div", { className: "gids-typing", hidden: true }, [
      el("span", { className: "gids-dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
      hiddenText(TEXT.typing)
    ]);
    this.log = el("div", { className: "gids-log", role: "region", "aria-label": TEXT.log, tabindex: "0" },
                  [this.emptyHint, this.list, this.typing]);
    // New bot messages and connection news are read out here; the list itself is not live,
    // so a restored conversation and the person's own messages are not read out again.
    this.live = el("div", { className: "gids-vh", "aria-live": "polite", "aria-atomic": "false" });

    this.input = el("textarea", {
      id: "gids-input", className: "gids-input", rows: "1",
      placeholder: TEXT.placeholder, "aria-describedby": "gids-note", autocomplete: "off"
    });
    this.note = el("p", { id: "gids-note", className: "gids-note", "aria-live": "polite" });
    this.sendButton = el("button", { type: "submit", className: "gids-button gids-send", text: TEXT.send });
    this.form = el("form", { className: "gids-form", novalidate: true }, [
      el("label", { for: "gids-input", className: "gids-vh", text: TEXT.inputLabel }),
      el("div", { className: "gids-input-row" }, [this.input, this.sendButton]),
      this.note
    ]);

    this.status = el("p", { className: "gids-status", hidden: true });
    this.liveBanner = el("p", { className: "gids-live-banner", role: "status", hidden: true });
    var header = el("div", { className: "gids-header" }, [
      el("div", { className: "gids-heading" }, [
        el("h2", { className: "gids-title", text: cfg.name }),
        el("p", { className: "gids-subtitle", text: TEXT.subtitle })
      ]),
      el("div", { className: "gids-header-actions" }, [this.newButton, this.closeButton])
    ]);
    this.panel = el("section", {
      id: "gids-panel", className: "gids-panel", role: "dialog", "aria-label": dialogLabel, hidden: !inline
    }, [header, this.confirmBox, this.status, this.liveBanner, this.log, this.live, this.form]);

    // lang: the widget speaks Dutch on any site (screen reader voice, hyphenation).
    this.frame = el("div", { className: "gids gids-mode-" + cfg.mode, lang: "nl" }, [this.launcher, this.panel]);
    root.appendChild(this.frame);
    this.followBottom();
    this.bind();
  };

  function svg(pathD, size) {
    var ns = "http://www.w3.org/2000/svg";
    var s = document.createElementNS(ns, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("width", size);
    s.setAttribute("height", size);
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", pathD);
    p.setAttribute("fill", "currentColor");
    s.appendChild(p);
    return s;
  }
  function svgIcon() {
    return svg("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2 5v2h12V8H6zm0 4v2h8v-2H6z", "24");
  }
  function closeIcon() {
    return svg("M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 1 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z", "22");
  }

  Widget.prototype.bind = function () {
    var self = this;
    if (this.launcher) this.launcher.addEventListener("click", function () {
      if (self.isOpen()) self.close(); else self.open(true);
    });
    if (this.closeButton) this.closeButton.addEventListener("click", function () { self.close(); });
    this.newButton.addEventListener("click", function () { self.askReset(); });
    this.confirmNo.addEventListener("click", function () { self.cancelReset(); });
    this.confirmYes.addEventListener("click", function () { self.reset(); });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.submit(); });
    this.input.addEventListener("keydown", function (e) {
      // Enter sends, Shift+Enter is a new line; not while an input method is composing.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self.submit(); }
    });
    this.input.addEventListener("input", function () { self.onInput(); });
    this.frame.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      if (!self.confirmBox.hidden) { e.stopPropagation(); self.cancelReset(); return; }
      if (self.cfg.mode !== "inline") { e.stopPropagation(); self.close(); }
    });
  };

  Widget.prototype.isOpen = function () { return !this.panel.hidden; };

  Widget.prototype.open = function (focus) {
    this.panel.hidden = false;
    if (this.launcher) this.launcher.setAttribute("aria-expanded", "true");
    this.frame.classList.add("gids-open");
    if (this.cfg.mode !== "inline") this.store.setOpen(true);
    this.connect();
    this.scrollDown();
    if (focus) this.input.focus();
  };

  Widget.prototype.close = function () {
    if (this.cfg.mode === "inline") return;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.frame.classList.remove("gids-open");
    this.store.setOpen(false);
    this.launcher.focus();
  };

  // ---------------------------------------------------------------- connection
  Widget.prototype.connect = function () {
    var self = this;
    if (this.socket || this.connecting) return;
    if (!this.cfg.server) { this.showStatus(TEXT.unreachable); return; }
    this.connecting = true;
    loadSocketIo(this.cfg.base, function (io) {
      self.connecting = false;
      if (!io) { self.problem("unreachable"); return; }
      self.socket = io(self.cfg.server.origin, {
        path: self.cfg.path,
        transports: ["websocket", "polling"],
        tryAllTransports: true,   // a proxy that blocks websockets: fall back to long polling
        reconnectionDelayMax: 10000,
        timeout: 10000
      });
      self.listen();
    });
  };

  Widget.prototype.listen = function () {
    var self = this;
    var s = this.socket;
    s.on("connect", function () {
      self.ready = false;
      s.emit("session_request", { session_id: self.sessionId });
    });
    s.on("session_confirm", function (id) {
      var sessionId = typeof id === "string" ? id : (id && id.session_id);
      if (!sessionId) return;
      self.sessionId = sessionId;
      self.ready = true;
      self.everConnected = true;
      self.persist();
      if (self.outage) {
        var was = self.outage;
        self.outage = null;
        self.showStatus(null);
        if (was === "lost") self.addNote(TEXT.restored);
      }
      self.flush();
      // What a staff member wrote while this page was away (a reload, a lost connection).
      s.emit("live_sync", { after: self.lastLiveId() });
    });
    s.on("bot_uttered", function (m) { self.receive(m); });
    s.on("live_message", function (m) { self.receiveLive(m); });
    s.on("live_typing", function () { self.showStaffTyping(); });
    s.on("disconnect", function (reason) {
      self.ready = false;
      self.hideTyping();
      if (reason === "io client disconnect") return; // we closed it ourselves (new conversation)
      self.problem(self.everConnected ? "lost" : "unreachable");
    });
    s.on("connect_error", function () {
      self.problem(self.everConnected ? "lost" : "unreachable");
    });
  };

  Widget.prototype.problem = function (kind) {
    if (this.outage) return; // say it once per outage
    this.outage = kind;
    var text = kind === "lost" ? TEXT.lost : TEXT.unreachable;
    this.showStatus(text);
    if (kind === "lost") this.addNote(text);
    else this.announce(text);
  };

  Widget.prototype.showStatus = function (text) {
    this.status.hidden = !text;
    this.status.textContent = text || "";
  };

  // ---------------------------------------------------------------- sending
  Widget.prototype.onInput = function () {
    var n = this.input.value.length;
    if (n > MAX_CHARS) this.setNote(TEXT.tooLong.replace("{n}", String(n)).replace("{max}", String(MAX_CHARS)), true);
    else if (n >= WARN_CHARS) this.setNote(TEXT.charsLeft.replace("{n}", String(MAX_CHARS - n)), false);
    else this.setNote("", false);
    if (n > MAX_CHARS) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
    this.autosize();
  };

  Widget.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 160) + "px";
  };

  Widget.prototype.setNote = function (text, warning) {
    this.note.textContent = text;
    this.note.classList.toggle("gids-warning", !!warning);
  };

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) {
      this.setNote(TEXT.emptyInput, true);
      this.input.focus();
      return;
    }
    if (text.length > MAX_CHARS) {
      this.setNote(TEXT.tooLong.replace("{n}", String(text.length)).replace("{max}", String(MAX_CHARS)), true);
      this.input.focus();
      return;
    }
    this.input.value = "";
    this.onInput();
    this.send(text, text);
    this.input.focus();
  };

  // title: what the person sees as their message; payload: what Rasa gets (a button's intent).
  Widget.prototype.send = function (title, payload) {
    this.history.forEach(function (h) { if (h.buttons) h.answered = true; });
    this.disableAllButtons();
    this.outbox.push(payload);
    this.addEntry({ who: "user", text: title }); // also stores the outbox
    if (this.ready) this.flush();
    else {
      this.connect();
      if (this.outage) this.setNote(TEXT.queued, false);
    }
  };

  Widget.prototype.flush = function () {
    // Our own queue rather than socket.io's buffer: a message must not reach Rasa before the
    // session_request that puts this connection in the session's room, or its answer is lost.
    var sent = false;
    while (this.ready && this.outbox.length) {
      this.socket.emit("user_uttered", { message: this.outbox.shift(), session_id: this.sessionId,
                                         client_ref: Date.now().toString(36) + Math.random().toString(36).slice(2, 10) });
      // A staff member answers when they answer: no "no answer" note during a live chat.
      if (!this.inLiveChat()) this.showTyping();
      sent = true;
    }
    if (sent) this.persist();
    if (!this.outbox.length && this.note.textContent === TEXT.queued) this.setNote("", false);
  };

  Widget.prototype.showTyping = function () {
    var self = this;
    this.typing.hidden = false;
    this.scrollDown();
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(function () {
      self.hideTyping();
      self.addNote(TEXT.noAnswer);
    }, ANSWER_TIMEOUT_MS);
  };

  Widget.prototype.hideTyping = function () {
    clearTimeout(this.answerTimer);
    this.typing.hidden = true;
    this.typing.lastChild.textContent = TEXT.typing;
  };

  // ---------------------------------------------------------------- receiving and rendering
  Widget.prototype.receive = function (raw) {
    var m = normaliseBot(raw);
    this.hideTyping();
    if (!m) return;
    var entry = { who: "bot" };
    Object.keys(m).forEach(function (k) { entry[k] = m[k]; });
    if (raw && raw.custom && raw.custom.type === "live_chat") {
      // "Even geduld ...": the person now waits for a staff member (the core is paused).
      this.setLiveStatus(str(raw.custom.status, 20), "");
      entry.liveStatus = this.liveStatus;
    }
    this.addEntry(entry);
    this.announce(spoken(entry));
  };

  // ---------------------------------------------------------------- the live chat with staff
  Widget.prototype.lastLiveId = function () {
    var max = 0;
    this.history.forEach(function (h) { if (h && typeof h.liveId === "number" && h.liveId > max) max = h.liveId; });
    return max;
  };

  Widget.prototype.inLiveChat = function () {
    return this.liveStatus === "waiting" || this.liveStatus === "active";
  };

  Widget.prototype.receiveLive = function (raw) {
    if (!raw || typeof raw !== "object" || typeof raw.id !== "number") return;
    // Stored messages come again after a reconnect: each one is shown once.
    if (this.history.some(function (h) { return h && h.liveId === raw.id; })) return;
    this.setLiveStatus(str(raw.status, 20), str(raw.name, 60));
    var m = normaliseBot(raw);
    if (!m) return;
    this.hideTyping();
    var entry = { who: "bot", liveId: raw.id, author: str(raw.author, 10), liveStatus: this.liveStatus,
                  liveName: this.liveName };
    if (entry.author === "staff") entry.name = str(raw.name, 60);
    Object.keys(m).forEach(function (k) { entry[k] = m[k]; });
    this.addEntry(entry);
    this.announce((entry.name ? TEXT.staff.replace("{name}", entry.name) + " " : "") + spoken(entry));
  };

  Widget.prototype.setLiveStatus = function (status, name) {
    this.liveStatus = status;
    this.persist();
    var text = status === "active" && name ? TEXT.liveWith.replace("{name}", name)
      : status === "waiting" ? TEXT.liveWaiting : "";
    this.liveBanner.textContent = text;
    this.liveBanner.hidden = !text;
    this.liveName = name;
  };

  Widget.prototype.showStaffTyping = function () {
    var self = this;
    clearTimeout(this.answerTimer);
    this.typing.hidden = false;
    this.typing.lastChild.textContent = TEXT.staffTyping.replace("{name}", this.liveName || "");
    this.scrollDown();
    clearTimeout(this.staffTypingTimer);
    this.staffTypingTimer = setTimeout(function () { self.hideTyping(); }, 4000);
  };

  function spoken(entry) {
    if (entry.card) {
      var c = entry.card;
      return [c.partner, c.service, c.conditions].concat(Object.keys(c.contact).map(function (k) {
        return TEXT.card[k] + ": " + c.contact[k];
      })).filter(Boolean).join(". ");
    }
    return entry.text || TEXT.image;
  }

  Widget.prototype.announce = function (text) {
    // One node per message: screen readers read additions to a polite region in turn.
    var node = el("p", { text: text });
    this.live.appendChild(node);
    while (this.live.childNodes.length > 5) this.live.removeChild(this.live.firstChild);
  };

  Widget.prototype.addEntry = function (entry) {
    this.history.push(entry);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    this.list.appendChild(this.render(entry, this.history.length - 1));
    this.emptyHint.hidden = true;
    this.persist();
    this.scrollDown();
  };

  Widget.prototype.addNote = function (text) {
    // Connection news: shown in the conversation and read out, not stored.
    this.list.appendChild(el("li", { className: "gids-msg gids-note-msg", text: text }));
    this.emptyHint.hidden = true;
    this.announce(text);
    this.scrollDown();
  };

  Widget.prototype.persist = function () { this.store.save(this.sessionId, this.history, this.outbox); };

  Widget.prototype.renderHistory = function () {
    var self = this;
    this.list.textContent = "";
    this.history = this.history.filter(function (h) { return h && (h.who === "user" || h.who === "bot"); });
    this.history.forEach(function (h, i) { self.list.appendChild(self.render(h, i)); });
    this.emptyHint.hidden = this.history.length > 0;
    // After a reload: still in a live chat? The last live message says (live_sync brings newer).
    var last = this.history.filter(function (h) { return typeof h.liveStatus === "string"; }).pop();
    if (last) this.setLiveStatus(last.liveStatus, last.liveName);
  };

  Widget.prototype.render = function (entry, index) {
    var li = el("li", { className: "gids-msg gids-" + entry.who });
    li.appendChild(hiddenText(entry.who === "user" ? TEXT.you : TEXT.bot));
    if (entry.who === "user") {
      li.appendChild(el("p", { className: "gids-bubble", text: String(entry.text || "") }));
      return li;
    }
    if (entry.author === "system") li.className += " gids-live-note";
    if (entry.author === "staff") {
      li.className += " gids-staff";
      li.replaceChild(hiddenText(TEXT.staff.replace("{name}", entry.name || "")), li.firstChild);
      li.appendChild(el("span", { className: "gids-staff-name", "aria-hidden": "true", text: entry.name || "" }));
    }
    if (entry.card) li.appendChild(this.renderCard(entry.card));
    else if (entry.text) li.appendChild(richText(el("p", { className: "gids-bubble" }), entry.text));
    if (entry.image) {
      li.appendChild(el("img", { className: "gids-image", src: entry.image, alt: TEXT.image, loading: "lazy" }));
    }
    if (entry.buttons) li.appendChild(this.renderButtons(entry, index));
    return li;
  };

  Widget.prototype.renderButtons = function (entry, index) {
    var self = this;
    var group = el("div", { className: "gids-choices", role: "group", "aria-label": entry.text ? entry.text.slice(0, 120) : TEXT.bot });
    entry.buttons.forEach(function (b) {
      var button = el("button", { type: "button", className: "gids-choice", text: b.title, disabled: !!entry.answered });
      button.addEventListener("click", function () {
        if (button.disabled) return;
        self.send(b.title, b.payload);
      });
      group.appendChild(button);
    });
    return group;
  };

  Widget.prototype.disableAllButtons = function () {
    Array.prototype.forEach.call(this.list.querySelectorAll(".gids-choice"), function (b) { b.disabled = true; });
  };

  Widget.prototype.renderCard = function (card) {
    var items = [];
    var c = card.contact;
    if (c.phone) {
      var digits = c.phone.replace(/[^\d+]/g, "");
      var label = [TEXT.card.phone + ": "];
      label.push(digits.length >= 3 ? el("a", { href: "tel:" + digits, text: c.phone }) : c.phone);
      if (c.phone_hours) label.push(" (" + c.phone_hours + ")");
      items.push(el("li", null, label));
    }
    if (c.website) {
      var site = safeHref(c.website, ["https:", "http:"]);
      items.push(el("li", null, [TEXT.card.website + ": ", site ? externalLink(site, shortUrl(site)) : c.website]));
    }
    if (c.email) {
      var mail = /^[^\s@<>()]+@[^\s@<>()]+\.[a-z]{2,}$/i.test(c.email) ? "mailto:" + c.email : null;
      items.push(el("li", null, [TEXT.card.email + ": ", mail ? el("a", { href: mail, text: c.email }) : c.email]));
    }
    if (c.address) items.push(el("li", null, [TEXT.card.address + ": " + c.address]));
    if (c.opening_hours) items.push(el("li", null, [TEXT.card.opening_hours + ": " + c.opening_hours]));
    return el("article", { className: "gids-card", "aria-label": card.partner }, [
      el("h3", { className: "gids-card-title", text: card.partner }),
      card.service ? el("p", { text: card.service }) : null,
      card.conditions ? el("p", { className: "gids-card-conditions", text: card.conditions }) : null,
      items.length ? el("ul", { className: "gids-card-contact" }, items) : null
    ]);
  };

  Widget.prototype.scrollDown = function () {
    var self = this;
    this.atBottom = true;
    window.requestAnimationFrame(function () { self.log.scrollTop = self.log.scrollHeight; });
  };

  // The newest message stays in view when the log gets smaller (a note under the input, a
  // taller input box, the phone keyboard), unless the person scrolled up to read.
  Widget.prototype.followBottom = function () {
    var self = this;
    this.atBottom = true;
    this.log.addEventListener("scroll", function () {
      var log = self.log;
      self.atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    }, { passive: true });
    if (window.ResizeObserver) {
      new ResizeObserver(function () { if (self.atBottom) self.scrollDown(); }).observe(this.log);
    }
  };

  // ---------------------------------------------------------------- a new conversation
  Widget.prototype.askReset = function () {
    this.confirmBox.hidden = false;
    this.confirmNo.focus();
  };

  Widget.prototype.cancelReset = function () {
    this.confirmBox.hidden = true;
    this.newButton.focus();
  };

  Widget.prototype.reset = function () {
    this.confirmBox.hidden = true;
    this.store.forget();
    this.sessionId = null;
    this.history = [];
    this.outbox = [];
    this.hideTyping();
    this.renderHistory();
    this.setNote("", false);
    this.announce(TEXT.cleared);
    if (this.socket) {
      // A new connection asks for a new session; the old one must not get its answers here.
      this.socket.disconnect();
      this.ready = false;
      this.socket.connect();
    }
    this.input.focus();
  };

  // ---------------------------------------------------------------- socket.io client
  var ioWaiters = null;
  var ioLoaded = null;

  function loadSocketIo(base, done) {
    if (ioLoaded) { done(ioLoaded); return; }
    if (ioWaiters) { ioWaiters.push(done); return; }
    ioWaiters = [done];
    var previous = window.io; // the site may use its own socket.io client: give it back
    var tag = document.createElement("script");
    tag.src = new URL(VENDOR_FILE, base).href;
    tag.integrity = VENDOR_SRI;
    tag.crossOrigin = "anonymous";
    tag.async = true;
    tag.addEventListener("load", function () {
      ioLoaded = window.io;
      if (previous === undefined) { try { delete window.io; } catch (e) { window.io = undefined; } }
      else window.io = previous;
      finish(ioLoaded);
    });
    tag.addEventListener("error", function () {
      console.warn("Werkcentrum Gids: " + tag.src + " did not load.");
      finish(null);
    });
    document.head.appendChild(tag);
    function finish(io) {
      var waiting = ioWaiters;
      ioWaiters = null;
      waiting.forEach(function (w) { w(io); });
    }
  }

  // ---------------------------------------------------------------- start
  // document.currentScript is only set while this file runs: read it now, build when the DOM is there.
  var SCRIPT = findScript();

  function start() {
    var cfg = readConfig(SCRIPT);
    if (!cfg.base) return;
    var widget = new Widget(cfg);
    window.WerkcentrumGids.widget = widget;
    window.WerkcentrumGids.theme = widget.theme;
  }

  // A small public API: a site can open the chat from its own "Chat met ons" link.
  window.WerkcentrumGids = {
    version: VERSION,
    open: function () { if (this.widget) this.widget.open(true); },
    close: function () { if (this.widget) this.widget.close(); }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
