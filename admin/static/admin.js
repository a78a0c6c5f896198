// admin.js is the Herald admin UI: one page over the admin API
// (docs/admin.md), with no dependency. The admin secret is kept in
// sessionStorage (this tab only, gone when it closes) and sent as the
// Authorization header; it never goes in a URL or a cookie. Everything
// the server sends is shown with textContent, never parsed as HTML: user
// agents, channel names and publications are the clients' words.

const secretKey = "herald-admin-secret";
const $ = (sel, root = document) => root.querySelector(sel);

/** el builds an element: attributes (class, data-*, ...) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");
const clock = (t) => {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};
const hhmm = (t) => {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
const dateTime = (t) => {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t)}`;
};
function duration(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// --- the API -----------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const secret = () => sessionStorage.getItem(secretKey);

async function request(path, init = {}) {
  const s = secret();
  if (!s) throw new APIError(401, 101, "log in with the admin secret");
  const r = await fetch(path, { ...init, headers: { ...init.headers, Authorization: `admin ${s}` }, cache: "no-store" });
  if (r.ok) return r;
  let body;
  try {
    body = await r.json();
  } catch {
    body = { error: { message: `${r.status} ${r.statusText}` } };
  }
  const err = new APIError(r.status, body.error?.code, body.error?.message || `${r.status} ${r.statusText}`);
  if (r.status === 401 || r.status === 403) logout(err.message);
  throw err;
}

const get = async (path) => (await request(path)).json();

/** stream reads newline-delimited JSON from path, calling onLine for each, until signal aborts or the server ends it. */
async function stream(path, onLine, signal) {
  const r = await request(path, { signal });
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) onLine(JSON.parse(line));
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") throw e;
  }
}

// --- errors and login ----------------------------------------------------

function showError(err) {
  const p = $("#error");
  if (!err) {
    p.hidden = true;
    return;
  }
  p.textContent = err.code ? `${err.message} (code ${err.code})` : err.message || String(err);
  p.hidden = false;
}

function logout(message) {
  sessionStorage.removeItem(secretKey);
  for (const s of Object.values(streams)) s?.abort();
  clearInterval(refreshTimer);
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#secret").value = "";
  $("#secret").focus();
}

$("#login").addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem(secretKey, $("#secret").value.trim());
  try {
    await get("/admin/api/nodes");
  } catch (err) {
    if (!$("#login").hidden) {
      $("#login-error").textContent = err.message;
      return;
    }
    logout(err.message);
    return;
  }
  start();
});
$("#logout").addEventListener("click", () => logout("logged out"));

// --- pages ---------------------------------------------------------------

const pages = {};
let refreshTimer;
const streams = { trace: null, tap: null };

function route() {
  const [name, query] = (location.hash.slice(1) || "nodes").split("?");
  const page = pages[name] ? name : "nodes";
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clearInterval(refreshTimer);
  showError(null);
  const p = pages[page];
  const run = () => p.load(new URLSearchParams(query || "")).catch(showError);
  run();
  if (p.every) refreshTimer = setInterval(() => !document.hidden && run(), p.every);
}

function updated(section) {
  $(".updated", section).textContent = `updated ${clock(Date.now())}`;
}

function missing(p, nodes) {
  p.hidden = !nodes?.length;
  p.textContent = nodes?.length ? `No answer in time from node ${nodes.join(", ")}: its part is missing.` : "";
}

// Nodes.

pages.nodes = {
  every: 5000,
  async load() {
    const { nodes } = await get("/admin/api/nodes");
    const sum = { c: 0, u: 0, ch: 0, s: 0 };
    $("#nodes tbody").replaceChildren(
      ...nodes.map((n, i) => {
        sum.c += n.num_clients;
        sum.u += n.num_users;
        sum.ch += n.num_channels;
        sum.s += n.num_subscriptions;
        return el("tr", { "data-node": n.name },
          el("td", {}, n.name, i === 0 ? el("small", { class: "hint" }, " (answering)") : null),
          el("td", { class: "mono" }, n.id), el("td", {}, n.version), el("td", {}, duration(n.uptime_seconds)),
          el("td", { class: "num" }, n.num_clients), el("td", { class: "num" }, n.num_users),
          el("td", { class: "num" }, n.num_channels), el("td", { class: "num" }, n.num_subscriptions));
      }),
    );
    // A user or a channel on two nodes counts on both: only clients and
    // subscriptions add up.
    $("#nodes tfoot").replaceChildren(
      el("tr", {}, el("td", { colspan: 4 }, `${nodes.length} node${nodes.length === 1 ? "" : "s"}`),
        el("td", { class: "num" }, sum.c), el("td", { class: "num", title: "a user on two nodes counts on both" }, "·"),
        el("td", { class: "num", title: "a channel on two nodes counts on both" }, "·"), el("td", { class: "num" }, sum.s)),
    );
    $("#summary").textContent = `${nodes.length} node${nodes.length === 1 ? "" : "s"} · ${sum.c} clients`;
    updated($("#page-nodes"));
  },
};

// Connections and their timelines.

const badKinds = new Set(["connect_refused", "subscribe_refused", "refresh_refused", "no_pong", "slow", "expired", "disconnect", "client_last_disconnect"]);

function timeline(c) {
  const dl = el("dl", { class: "details" });
  const add = (k, v) => v && dl.append(el("dt", {}, k), el("dd", {}, v));
  add("client", c.client);
  add("user", c.user || "(anonymous or not connected)");
  add("node", `${c.node_name} (${c.node})`);
  add("transport", c.transport);
  add("socket address", c.remote);
  add("forwarded for", c.forwarded);
  add("origin", c.origin);
  add("user agent", c.user_agent);
  add("started", dateTime(c.started));
  add("closed", c.closed && dateTime(c.closed));
  add("channels", c.channels?.join(", "));
  const events = el("ol", { class: "events" },
    ...(c.events || []).map((e) =>
      el("li", { class: badKinds.has(e.kind) && (e.code || e.kind !== "disconnect") ? "bad" : "", "data-kind": e.kind },
        el("span", { class: "time" }, clock(e.time)), el("span", { class: "kind" }, e.kind),
        el("span", { class: "code" }, e.code ?? ""), el("span", {}, e.channel ? `${e.channel}: ` : "", e.text || "")),
    ),
  );
  if (c.dropped) events.prepend(el("li", {}, el("span"), el("span", { class: "kind" }, `${c.dropped} older events dropped`)));
  return el("td", { colspan: 8 }, dl, events);
}

pages.connections = {
  async load(q) {
    const by = q.has("client") ? "client" : "user";
    const id = q.get(by) || "";
    $("#conn-by").value = by;
    $("#conn-q").value = id;
    const res = await get(`/admin/api/connections${id ? `?${by}=${encodeURIComponent(id)}` : ""}`);
    missing($("#conn-missing"), res.missing);
    const rows = [];
    for (const c of res.connections) {
      const closed = !!c.closed;
      const last = [...(c.events || [])].reverse().find((e) => e.kind === "disconnect");
      const state = closed ? `closed${last?.code ? ` ${last.code}` : " (no close frame)"}` : "live";
      const tl = el("tr", { class: "timeline", hidden: true }, timeline(c));
      const row = el("tr", {
        class: "conn", "data-client": c.client, "data-user": c.user || "", tabindex: 0,
        onclick: () => {
          tl.hidden = !tl.hidden;
          row.classList.toggle("open", !tl.hidden);
        },
        onkeydown: (e) => e.key === "Enter" && row.click(),
      },
      el("td", { class: "mono" }, c.client), el("td", {}, c.user || ""), el("td", {}, c.node_name),
      el("td", {}, c.transport), el("td", { class: "mono" }, c.forwarded || c.remote),
      el("td", {}, dateTime(c.started)), el("td", { class: closed ? "state-closed" : "state-live" }, state),
      el("td", {}, c.channels?.join(", ") || ""));
      rows.push(row, tl);
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 8, class: "hint" }, id ? `No connection of ${by} ${id} on any node (closed ones are kept for admin.timeline_keep_for).` : "No connection on any node.")));
    $("#conns tbody").replaceChildren(...rows);
    // One match: open its timeline at once.
    if (res.connections.length === 1) rows[0].click();
  },
};

$("#conn-search").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = $("#conn-q").value.trim();
  const target = id ? `#connections?${$("#conn-by").value}=${encodeURIComponent(id)}` : "#connections";
  if (location.hash === target) route(); // the same search again: no hashchange
  else location.hash = target;
});

function streamLine(box, ...parts) {
  const ol = $(".lines", box);
  ol.append(el("li", {}, ...parts));
  while (ol.children.length > 1000) ol.firstChild.remove();
  box.scrollTop = box.scrollHeight;
}

$("#conn-trace").addEventListener("click", () => {
  const id = $("#conn-q").value.trim();
  const by = $("#conn-by").value;
  if (!id) {
    showError(new Error(`type a ${by} id to trace`));
    return;
  }
  streams.trace?.abort();
  const ctl = (streams.trace = new AbortController());
  const box = $("#trace");
  box.hidden = false;
  box.dataset.state = "starting";
  $(".title", box).textContent = `Live trace of ${by} ${id}`;
  $(".lines", box).replaceChildren();
  // Lines name nodes by id: show their names.
  const names = {};
  get("/admin/api/nodes").then(({ nodes }) => nodes.forEach((n) => (names[n.id] = n.name)), () => {});
  stream(`/admin/api/trace?${by}=${encodeURIComponent(id)}`, (l) => {
    box.dataset.state = "tracing";
    const who = el("span", { class: "t" }, `${names[l.node] || l.node || ""} ${l.client ? l.client.slice(0, 8) : ""}`);
    if (l.dropped) streamLine(box, el("span", { class: "drop" }, `${l.dropped} lines dropped`));
    if (l.event?.kind === "trace_started") {
      const n = l.event.code || 0;
      streamLine(box, el("span", { class: "t" }, clock(l.time)), who, el("span", { class: "ev" }, `${l.event.text}: ${n} connection${n === 1 ? "" : "s"} now, and those that connect`));
    } else if (l.event) {
      streamLine(box, el("span", { class: "t" }, clock(l.time)), who, el("span", { class: "ev" }, `${l.event.kind}${l.event.code ? ` ${l.event.code}` : ""} ${l.event.text || ""}`));
    } else {
      streamLine(box, el("span", { class: "t" }, clock(l.time)), who, el("span", { class: l.dir }, `${l.dir === "in" ? "→" : "←"} ${l.frame}`));
    }
  }, ctl.signal)
    .then(() => streamLine(box, el("span", { class: "ev" }, ctl.signal.aborted ? "trace stopped" : "trace ended by the server")))
    .catch(showError)
    .finally(() => {
      if (streams.trace === ctl) box.dataset.state = "stopped";
    });
});
$("#trace .stop").addEventListener("click", () => streams.trace?.abort());
$("#trace .clear").addEventListener("click", () => $("#trace .lines").replaceChildren());

// Channels, tap and publish.

pages.channels = {
  every: 5000,
  async load() {
    const pattern = $("#chan-pattern").value.trim();
    const res = await get(`/admin/api/channels${pattern ? `?pattern=${encodeURIComponent(pattern)}` : ""}`);
    missing($("#chan-missing"), res.missing);
    const list = Object.entries(res.channels).sort((a, b) => b[1].num_clients - a[1].num_clients || a[0].localeCompare(b[0]));
    $("#channels tbody").replaceChildren(
      ...list.map(([name, info]) =>
        el("tr", { "data-channel": name },
          el("td", { class: "mono" }, name), el("td", { class: "num" }, info.num_clients),
          el("td", {}, el("button", { type: "button", onclick: () => tap(name) }, "Tap"))),
      ),
    );
    if (!list.length) $("#channels tbody").append(el("tr", {}, el("td", { colspan: 3, class: "hint" }, "No channel with subscribers.")));
    updated($("#page-channels"));
  },
};

$("#chan-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  pages.channels.load().catch(showError);
});

function tap(channel) {
  streams.tap?.abort();
  const ctl = (streams.tap = new AbortController());
  const box = $("#tap");
  $("#tap-channel").value = channel;
  $("#pub-channel").value ||= channel;
  $(".lines", box).replaceChildren();
  $("#tap-stop").disabled = false;
  box.dataset.channel = channel;
  stream(`/admin/api/tap?channel=${encodeURIComponent(channel)}`, (l) => {
    if (l.dropped) streamLine(box, el("span", { class: "drop" }, `${l.dropped} publications dropped: the page did not keep up`));
    if (l.event === "tap_started") {
      box.dataset.state = "tapping";
      streamLine(box, el("span", { class: "t" }, clock(l.time)), el("span", { class: "ev" }, `tapping ${l.channel}`));
      return;
    }
    if (l.event === "publications_lost") {
      streamLine(box, el("span", { class: "t" }, clock(l.time)), el("span", { class: "drop" }, "the broker may have lost publications on their way to this node; its subscribers reconnect to recover"));
      return;
    }
    streamLine(box, el("span", { class: "t" }, clock(l.time)), el("span", { class: "t" }, l.offset ? `#${l.offset}` : ""), el("span", { class: "out" }, JSON.stringify(l.data)));
  }, ctl.signal)
    .then(() => streamLine(box, el("span", { class: "ev" }, ctl.signal.aborted ? "tap stopped" : "tap ended by the server")))
    .catch(showError)
    .finally(() => {
      if (streams.tap === ctl) {
        $("#tap-stop").disabled = true;
        box.dataset.state = "stopped";
      }
    });
}

$("#tap-form").addEventListener("submit", (e) => {
  e.preventDefault();
  tap($("#tap-channel").value.trim());
});
$("#tap-stop").addEventListener("click", () => streams.tap?.abort());

$("#publish").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#pub-result");
  out.className = "";
  let data;
  try {
    data = JSON.parse($("#pub-data").value);
  } catch (err) {
    out.className = "error";
    out.textContent = `The data is not JSON: ${err.message}`;
    return;
  }
  const channel = $("#pub-channel").value.trim();
  try {
    const r = await (await request("/admin/api/publish", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ channel, data }) })).json();
    out.textContent = `Published to ${channel}${r.offset ? ` at offset ${r.offset} (epoch ${r.epoch})` : " (no history: no offset)"} at ${clock(Date.now())}.`;
  } catch (err) {
    out.className = "error";
    out.textContent = `${err.message}${err.code ? ` (code ${err.code})` : ""}`;
  }
});

// Disconnects chart.

const palette = ["#2956a3", "#d2691e", "#2e8b57", "#b3261e", "#7b4fa0", "#8a6d1f", "#1f8a8a", "#c2185b", "#5d6d7e", "#6b8e23", "#e0a800", "#333"];

function chart(res) {
  const fig = $("#chart");
  const codes = Object.keys(res.names).sort((a, b) => Number(a) - Number(b));
  const color = Object.fromEntries(codes.map((c, i) => [c, palette[i % palette.length]]));
  const W = 900, H = 260, left = 36, bottom = 22, top = 8;
  const n = res.minutes.length;
  const totals = res.minutes.map((m) => Object.values(m.codes).reduce((a, b) => a + b, 0));
  const peak = Math.max(1, ...totals);
  const step = Math.pow(10, Math.floor(Math.log10(peak)));
  let ymax = Math.ceil(peak / step) * step;
  if (ymax % 2) ymax += ymax < 10 ? 1 : step; // an even top: the middle line is a whole number
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "disconnects per minute by code" });
  const y = (v) => H - bottom - (v / ymax) * (H - bottom - top);
  for (const v of [0, ymax / 2, ymax]) {
    svg.append(s("line", { x1: left, x2: W, y1: y(v), y2: y(v), stroke: "#e4e4df" }));
    svg.append(s("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end" }, v));
  }
  const bw = (W - left) / n;
  res.minutes.forEach((m, i) => {
    let acc = 0;
    const x = left + i * bw + 1;
    for (const c of codes) {
      const k = m.codes[c];
      if (!k) continue;
      const r = s("rect", { x, y: y(acc + k), width: Math.max(1, bw - 2), height: y(acc) - y(acc + k), fill: color[c], "data-code": c, "data-count": k });
      r.append(s("title", {}, `${hhmm(m.time)}: ${k} × ${c} ${res.names[c] || ""}`));
      svg.append(r);
      acc += k;
    }
    if (i % Math.ceil(n / 12) === 0) svg.append(s("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, hhmm(m.time)));
  });
  if (!codes.length) svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "No disconnect in this range."));
  fig.replaceChildren(svg);

  const sum = {};
  for (const m of res.minutes) for (const [c, k] of Object.entries(m.codes)) sum[c] = (sum[c] || 0) + k;
  $("#disc-codes tbody").replaceChildren(
    ...codes.map((c) =>
      el("tr", { "data-code": c },
        el("td", {}, swatch(color[c])),
        el("td", { class: "mono" }, c), el("td", {}, res.names[c] || ""), el("td", { class: "num" }, sum[c] || 0)),
    ),
  );
}

// swatch is a square of color, set through the CSSOM: the page's
// Content-Security-Policy refuses style attributes.
function swatch(color) {
  const e = el("span", { class: "swatch" });
  e.style.background = color;
  return e;
}

pages.disconnects = {
  every: 15000,
  async load() {
    const res = await get(`/admin/api/disconnects?minutes=${$("#disc-minutes").value}`);
    missing($("#disc-missing"), res.missing);
    chart(res);
    updated($("#page-disconnects"));
  },
};
$("#disc-minutes").addEventListener("change", () => pages.disconnects.load().catch(showError));

// --- start -----------------------------------------------------------------

function start() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  route();
}

window.addEventListener("hashchange", () => secret() && route());
if (secret()) start();
else logout();
