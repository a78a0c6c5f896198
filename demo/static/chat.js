// The chat demo of `herald serve --dev`, on the TypeScript client's browser
// bundle (the global Herald). It shows what an application writes: a
// token from its backend (here POST /demo/token), one subscription per
// room, history on join, presence, ephemeral "typing" publications, and
// what to do when the client says it could not recover (refetch history).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const TYPING_EVERY = 2000; // ms between two "typing" publications of one tab
  const TYPING_SHOWN = 3500; // ms a "typing" line stays without a new one
  const HISTORY = 50; // messages fetched on join and after a failed recovery

  // Who this browser is: a stable user id and a display name, kept in
  // localStorage so that every tab (and the shared connection) agrees.
  const store = window.localStorage;
  let user = store.getItem("herald-demo-user");
  if (!user) {
    user = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    store.setItem("herald-demo-user", user);
  }
  if (params.get("name")) store.setItem("herald-demo-name", params.get("name"));

  const rooms = ["lobby", "random"];
  let client = null;
  let room = null; // { name, sub, messages: Map(offset -> li), typing: Map(user -> {name, timer}), online: Map(client -> info) }
  let connectedOnce = false;
  let reconnects = 0;

  const badge = {
    state: "disconnected",
    recovery: "",
    render() {
      const b = $("badge");
      b.dataset.state = this.state;
      b.dataset.reconnects = String(reconnects);
      b.dataset.recovery = this.recovery;
      const parts = [this.state];
      if (reconnects > 0) parts.push(reconnects === 1 ? "1 reconnect" : reconnects + " reconnects");
      if (this.recovery) parts.push(this.recovery);
      b.textContent = parts.join(" · ");
    },
  };

  // getToken asks the "backend" for a token; null means it has no token
  // endpoint (a server without an HMAC secret), so connect anonymously.
  const myName = () => store.getItem("herald-demo-name");

  async function getToken() {
    const res = await fetch("/demo/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, name: myName() }),
    });
    if (res.status === 404) return null;
    const body = await res.json();
    if (!res.ok) throw new Error("demo token: " + (body.error ? body.error.message : res.status));
    return body.token;
  }

  async function start() {
    $("login").hidden = true;
    $("chat").hidden = false;
    const opts = { name: "herald-demo", debug: params.has("debug") };
    // The first token now, the next ones (refresh, reconnect) on demand.
    // Only a server without a token endpoint makes the page anonymous; one
    // that cannot be reached now is asked again by the client's retries.
    let token;
    try {
      token = await getToken();
    } catch (err) {
      console.warn("herald demo:", err);
    }
    if (token !== null) {
      if (token) opts.token = token;
      opts.getToken = getToken;
    }
    if (params.get("shared") !== "0") opts.shared = true; // the worker script is found next to herald-shared.min.js
    client = new Herald.Client(location.origin, opts);
    client.on("state", (e) => {
      badge.state = e.to;
      badge.render();
    });
    client.on("connected", () => {
      if (connectedOnce) reconnects++;
      connectedOnce = true;
      badge.render();
    });
    client.connect();
    renderRooms();
    join(params.get("room") || "lobby");
  }

  function renderRooms() {
    const ul = $("rooms");
    ul.replaceChildren();
    for (const name of rooms) {
      const li = document.createElement("li");
      li.textContent = "# " + name;
      li.dataset.room = name;
      if (room && room.name === name) li.className = "active";
      li.onclick = () => join(name);
      ul.append(li);
    }
  }

  function join(name) {
    if (room && room.name === name) return;
    if (room) {
      client.removeSubscription(room.sub);
      for (const t of room.typing.values()) clearTimeout(t.timer);
    }
    if (!rooms.includes(name)) rooms.push(name);
    $("room-title").textContent = "# " + name;
    $("messages").replaceChildren();
    $("online").replaceChildren();
    $("typing").textContent = "";
    const sub = client.newSubscription("chat:" + name);
    const r = { name, sub, messages: new Map(), typing: new Map(), online: new Map() };
    room = r;
    renderRooms();
    sub.on("subscribed", (e) => onSubscribed(r, e));
    sub.on("publication", (p) => onPublication(r, p));
    sub.on("join", (info) => {
      r.online.set(info.client, info);
      renderOnline(r);
    });
    sub.on("leave", (info) => {
      r.online.delete(info.client);
      renderOnline(r);
    });
    sub.on("error", (e) => console.warn("herald demo:", e.error || e));
    sub.subscribe();
  }

  // onSubscribed runs on the first subscribe and after every reconnect.
  // Recovered: the client delivers what was missed as publications, in
  // order, right after this event. Not recovered (first join, a new epoch
  // after a restart of the memory broker, or too much missed): refetch.
  async function onSubscribed(r, e) {
    if (e.wasRecovering) {
      badge.recovery = e.recovered ? "recovered" : "history refetched (new epoch)";
      badge.render();
    }
    if (!e.wasRecovering || !e.recovered) {
      // Cleared now, filled from history below; live publications that
      // arrive meanwhile land in offset order and are not repeated.
      $("messages").querySelectorAll("li:not(.pending)").forEach((li) => li.remove());
      r.messages.clear();
      try {
        const h = await r.sub.history({ limit: HISTORY, reverse: true });
        if (room !== r) return;
        for (const p of h.publications) addMessage(r, p);
      } catch (err) {
        console.warn("herald demo: history:", err);
      }
    }
    try {
      const p = await r.sub.presence();
      if (room !== r) return;
      r.online = new Map(Object.entries(p.clients));
      renderOnline(r);
    } catch (err) {
      console.warn("herald demo: presence:", err);
    }
  }

  function onPublication(r, p) {
    const d = p.data || {};
    if (d.type === "typing") return showTyping(r, p);
    if (d.type === "msg") {
      const who = whoOf(p);
      const t = r.typing.get(who);
      if (t) {
        clearTimeout(t.timer);
        r.typing.delete(who);
        renderTyping(r);
      }
      addMessage(r, p);
    }
  }

  // whoOf names a publication's author. Publications carry no sender
  // (the protocol's pub push is only the data), so the page puts its name
  // in the data; presence names come from tokens and cannot be faked.
  function whoOf(p) {
    return p.data && typeof p.data.name === "string" ? p.data.name : "server";
  }

  function addMessage(r, p) {
    if (p.offset !== undefined && r.messages.has(p.offset)) return;
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = whoOf(p);
    li.append(who, document.createTextNode(String(p.data.text)));
    if (p.offset !== undefined) {
      li.dataset.offset = String(p.offset);
      r.messages.set(p.offset, li);
    }
    const list = $("messages");
    let before = list.querySelector("li.pending");
    if (p.offset !== undefined) {
      for (const other of list.querySelectorAll("li[data-offset]")) {
        if (Number(other.dataset.offset) > p.offset) {
          before = other;
          break;
        }
      }
    }
    list.insertBefore(li, before);
    list.scrollTop = list.scrollHeight;
  }

  function showTyping(r, p) {
    const who = whoOf(p);
    const old = r.typing.get(who);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      r.typing.delete(who);
      renderTyping(r);
    }, TYPING_SHOWN);
    r.typing.set(who, { timer });
    renderTyping(r);
  }

  function renderTyping(r) {
    if (room !== r) return;
    const names = Array.from(r.typing.keys());
    $("typing").textContent =
      names.length === 0 ? "" : names.join(", ") + (names.length === 1 ? " is typing…" : " are typing…");
  }

  function renderOnline(r) {
    if (room !== r) return;
    // One line per user, however many tabs or devices they have.
    const byUser = new Map();
    for (const info of r.online.values()) {
      const key = info.user || info.client;
      const name = info.info && info.info.name ? info.info.name : "anonymous " + info.client.slice(0, 6);
      byUser.set(key, name);
    }
    const ul = $("online");
    ul.replaceChildren();
    for (const name of Array.from(byUser.values()).sort()) {
      const li = document.createElement("li");
      li.textContent = name;
      ul.append(li);
    }
  }

  // Sending: a message typed while disconnected waits (shown as pending)
  // until the client is connected again, then goes out; its echo takes its
  // place in the list.
  $("compose").onsubmit = (ev) => {
    ev.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    input.value = "";
    if (!text || !room) return;
    const li = document.createElement("li");
    li.className = "pending";
    li.textContent = text + " (sending…)";
    $("messages").append(li);
    client.publish("chat:" + room.name, { type: "msg", name: myName(), text }).then(
      () => li.remove(),
      (err) => {
        li.className = "failed";
        li.textContent = text + " (not sent: " + err.message + ")";
      },
    );
  };

  let lastTyping = 0;
  $("text").oninput = () => {
    const now = Date.now();
    if (!room || client.state !== "connected" || now - lastTyping < TYPING_EVERY) return;
    lastTyping = now;
    client.publish("chat:" + room.name, { type: "typing", name: myName() }, { ephemeral: true, echo: false }).catch(() => {});
  };

  $("new-room").onsubmit = (ev) => {
    ev.preventDefault();
    const name = $("room-name").value.trim();
    $("room-name").value = "";
    if (name) join(name);
  };

  $("login").onsubmit = (ev) => {
    ev.preventDefault();
    const name = $("name").value.trim();
    if (!name) return;
    store.setItem("herald-demo-name", name);
    start();
  };

  badge.render();
  if (store.getItem("herald-demo-name")) start();
  else $("login").hidden = false;
})();
