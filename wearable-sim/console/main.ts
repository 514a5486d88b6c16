/// <reference lib="dom" />
// The console page (wearable-sim/README.md "Console"): no framework, the DOM and two endpoints. The fleet comes
// from /console/api/state (console.ts), refreshed after every event of /events (SSE) and
// after every action; actions use the control API's own routes (control.ts) and the
// console's few extra ones. Each device panel is built once and then updated in place,
// so an input being typed in keeps its value and focus.
import * as A from "../../protocol/portable/apdu.ts";
import * as LC from "../../protocol/portable/lifecycle.ts";
import { swName } from "../../protocol/src/sw.ts";
import type { ConsoleDevice } from "../src/console.ts";

const $ = <T extends HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const INS_NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(A)) if (k.startsWith("INS_") && typeof v === "number") INS_NAMES.set(v, k.slice(4).replace(/_/g, " "));
const LC_NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(LC)) if (k.startsWith("LC_") && typeof v === "number" && !k.startsWith("LC_ALLOW")) LC_NAMES.set(v, k.slice(3).toLowerCase());
const CURRENCIES: Record<number, string> = { 156: "CNY", 978: "EUR", 840: "USD", 826: "GBP", 392: "JPY", 344: "HKD" };

/** minor units -> "CNY 1,234.56" (no locale: the same text on every machine) */
function money(n: number, currency?: number): string {
  const s = (n / 100).toFixed(2);
  const [i, f] = s.split(".");
  return `${currency !== undefined ? `${CURRENCIES[currency] ?? currency} ` : ""}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${f}`;
}
const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

let devices: ConsoleDevice[] = [];
const panels = new Map<string, HTMLElement>();
let filter = "";
let renders = 0;

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const init: RequestInit = { method };
  if (body instanceof ArrayBuffer) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(path, init);
  const j = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new Error(j.error ?? `HTTP ${res.status}`);
  return j;
}

function drawing(d: ConsoleDevice): string {
  if (d.profile === "card") {
    return `<div class="card-body"><div class="brand">OWallet</div><div class="chip"></div><div class="nfc">)))</div><div class="num">•••• ${esc(d.serial.slice(-4))}</div></div>`;
  }
  if (d.profile === "band") {
    return `<div class="band-strap"><div class="band-module"><span class="led" data-f="led"></span><span>OWallet</span><span class="hw-button" title="button"></span></div></div>`;
  }
  return `<div class="watch-body"><div class="watch-strap top"></div><div class="watch-case"><div class="screen" data-f="screen"></div><div class="crown" title="button"></div></div><div class="watch-strap bottom"></div></div>`;
}

function panel(d: ConsoleDevice): HTMLElement {
  const el = document.createElement("section");
  el.className = `device ${d.profile}`;
  el.dataset.serial = d.serial;
  el.dataset.profile = d.profile;
  const id = encodeURIComponent(d.serial);
  const hasButton = d.profile !== "card";
  el.innerHTML = `
    <header><span class="kind">${esc(d.profile)}</span><code>${esc(d.serial)}</code><span class="name" data-f="name"></span><span class="state" data-f="state"></span></header>
    <div class="body">
      <div class="drawing">${drawing(d)}</div>
      <dl class="facts">
        <dt>lifecycle</dt><dd data-f="lifecycle"></dd>
        <dt>balance</dt><dd data-f="balance"></dd>
        <dt>cap</dt><dd data-f="cap"></dd>
        <dt>counter</dt><dd data-f="counter"></dd>
        <dt>payments left</dt><dd data-f="payments"></dd>
        <dt>amount left</dt><dd data-f="amountLeft"></dd>
        <dt>PIN tries</dt><dd data-f="pin"></dd>
        <dt>status read</dt><dd data-f="age"></dd>
        <dt>flash ops</dt><dd data-f="ops"></dd>
        <dt>power</dt><dd data-f="power"></dd>
        <dt>link</dt><dd data-f="link"></dd>
      </dl>
    </div>
    ${hasButton ? `<div class="row button-row"><button class="press" data-a="press">Press</button><button class="refuse" data-a="refuse">Refuse</button><span class="note" data-f="armed"></span></div>` : ""}
    <div class="row">
      <select data-i="slot" title="reader slot"><option value="0">Virtual PCD 00 00</option><option value="1">Virtual PCD 00 01</option></select>
      <button data-a="tap">Insert</button><button data-a="remove">Remove</button>
      <button data-a="reset">Reset</button><button data-a="status">Read status</button>
    </div>
    <div class="row">
      <button data-a="cut-now">Cut power now</button>
      <button data-a="cut-at">Cut at flash op</button><input type="number" min="1" value="1" data-i="after" title="flash operations from now" />
      <select data-i="mode" title="what the torn operation leaves"><option value="none">tear: none</option><option value="full">tear: full</option><option value="random">tear: random</option></select>
      <span class="note" data-f="cut"></span>
    </div>
    <div class="row">
      <a class="btn" data-a="save" href="/console/api/devices/${id}/image" download="${esc(d.serial)}.img">Save image</a>
      <label class="btn">Load image<input type="file" data-i="image" /></label>
    </div>
    <div class="error" data-f="error"></div>`;
  const err = $<HTMLElement>('[data-f="error"]', el);
  const act = (fn: () => Promise<unknown>) => async () => {
    err.textContent = "";
    try {
      await fn();
    } catch (e) {
      err.textContent = (e as Error).message;
    }
    await refresh();
  };
  const on = (a: string, fn: () => Promise<unknown>) => el.querySelector(`[data-a="${a}"]`)?.addEventListener("click", act(fn));
  on("press", () => api("POST", `/devices/${id}/press`, {}));
  on("refuse", () => api("POST", `/console/api/devices/${id}/refuse`, {}));
  on("tap", () => api("POST", `/devices/${id}/tap`, { reader: Number($<HTMLSelectElement>('[data-i="slot"]', el).value) }));
  on("remove", () => api("POST", `/devices/${id}/remove`, {}));
  on("reset", () => api("POST", `/devices/${id}/reset`, {}));
  on("status", () => api("POST", `/console/api/devices/${id}/status`, {}));
  on("cut-now", () => api("POST", `/console/api/devices/${id}/power-cut`, {}));
  on("cut-at", () => api("POST", `/console/api/devices/${id}/power-cut`, { after: Number($<HTMLInputElement>('[data-i="after"]', el).value), mode: $<HTMLSelectElement>('[data-i="mode"]', el).value }));
  const file = $<HTMLInputElement>('[data-i="image"]', el);
  file.addEventListener(
    "change",
    act(async () => {
      const f = file.files?.[0];
      file.value = "";
      if (f) await api("PUT", `/console/api/devices/${id}/image`, await f.arrayBuffer());
    }),
  );
  return el;
}

/** what the watch's screen shows the wearer */
function screen(d: ConsoleDevice): { html: string; dark: boolean } {
  if (d.state === "mute") return { html: `<span class="no">no response</span><span class="dim">restart it</span>`, dark: true };
  const disp = d.display;
  const cut = d.lastPower?.includes("power-cut");
  const cur = d.status?.currency;
  if (d.state === "off") {
    // the wearer still sees what was asked when the power went
    const asked = disp && disp.outcome === "power-cut" ? `<span class="dim">pay</span><span class="big">${esc(money(disp.amount, cur))}</span>` : "";
    return { html: cut ? `${asked}<span class="no">⚡ power lost</span>` : `<span class="dim">off</span>`, dark: true };
  }
  if (disp) {
    const answer = disp.result === undefined ? `<span class="dim">press within ${secs(disp.timeoutMs)}</span>` : disp.result === 1 ? `<span class="ok">✓ confirmed</span>` : `<span class="no">✗ refused</span>`;
    const outcome = disp.outcome === undefined ? "" : disp.outcome === "ok" ? `<span class="ok">PAID</span>` : /^[0-9a-f]{4}$/.test(disp.outcome) ? `<span class="no" title="${esc(swName(parseInt(disp.outcome, 16)))}">declined ${esc(disp.outcome.toUpperCase())}</span>` : `<span class="no">${esc(disp.outcome)}</span>`;
    return { html: `<span class="dim">pay</span><span class="big">${esc(money(disp.amount, cur))}</span>${answer}${outcome}`, dark: false };
  }
  if (d.status) return { html: `<span class="dim">balance</span><span class="big">${esc(money(d.status.balance, d.status.currency))}</span><span class="dim">ready</span>`, dark: false };
  return { html: `<span class="big">ready</span>`, dark: false };
}

function update(el: HTMLElement, d: ConsoleDevice): void {
  const set = (f: string, text: string) => {
    const n = el.querySelector(`[data-f="${f}"]`);
    if (n && n.textContent !== text) n.textContent = text;
  };
  const st = d.status;
  set("name", d.name ?? "");
  set("state", d.state);
  $<HTMLElement>('[data-f="state"]', el).className = `state ${d.state}`;
  el.classList.toggle("off", d.state !== "on");
  set("lifecycle", st ? (LC_NAMES.get(st.lifecycle) ?? String(st.lifecycle)) : "?");
  set("balance", st ? money(st.balance, st.currency) : "?");
  set("cap", st ? money(st.cap, st.currency) : "?");
  set("counter", st ? String(st.counter) : String(d.counter));
  set("payments", st ? String(st.remainingPayments) : "?");
  set("amountLeft", st ? money(st.remainingAmount, st.currency) : "?");
  set("pin", st ? `${st.pinTries} (PUK ${st.pukTries})` : "?");
  set("age", st ? (d.statusAge ? `${d.statusAge} APDU${d.statusAge === 1 ? "" : "s"} ago` : "current") : "never");
  set("ops", String(d.flashOps));
  set("power", d.lastPower ?? d.state);
  set("link", d.transport ? `${d.endpoint ?? d.transport}${d.active ? " · in field" : ""}` : "in-process");
  set("cut", d.cutAt !== undefined ? `armed: cut at op #${d.cutAt}` : "");
  set("armed", d.armedRefusal ? "refusal armed: the next confirm answers no" : d.armedPresses ? `press armed ×${d.armedPresses}: the next confirm answers yes (device waits ${secs(A.CONFIRM_TIMEOUT_MS)})` : `nothing armed: a confirm ${d.autoConfirm === "accept" ? "is accepted (auto)" : `times out after ${secs(A.CONFIRM_TIMEOUT_MS)}`}`);
  const scr = el.querySelector<HTMLElement>('[data-f="screen"]');
  if (scr) {
    const s = screen(d);
    if (scr.innerHTML !== s.html) scr.innerHTML = s.html;
    scr.classList.toggle("dark", s.dark);
  }
  const led = el.querySelector<HTMLElement>('[data-f="led"]');
  if (led) led.className = `led ${d.state !== "on" ? "" : d.display?.result === 1 ? "ok" : d.display?.result === 0 ? "no" : d.armedPresses ? "wait" : ""}`;
  el.classList.toggle("hidden", !!filter && filter !== d.serial);
}

function render(): void {
  const fleet = $<HTMLElement>("#fleet");
  const sel = $<HTMLSelectElement>("#filter");
  for (const d of devices) {
    let el = panels.get(d.serial);
    if (!el) {
      el = panel(d);
      panels.set(d.serial, el);
      fleet.appendChild(el);
      const o = document.createElement("option");
      o.value = d.serial;
      o.textContent = `${d.profile} ${d.serial}${d.name ? ` (${d.name})` : ""}`;
      sel.appendChild(o);
    }
    update(el, d);
  }
  for (const [serial, el] of panels) if (!devices.some((d) => d.serial === serial)) (el.remove(), panels.delete(serial));
  document.body.dataset.renders = String(++renders);
}

let pending: Promise<void> | undefined;
let again = false;
async function refresh(): Promise<void> {
  if (pending) {
    again = true;
    return pending;
  }
  pending = (async () => {
    do {
      again = false;
      try {
        devices = ((await api("GET", "/console/api/state")) as { devices: ConsoleDevice[] }).devices;
        render();
      } catch (e) {
        $<HTMLElement>("#conn").textContent = `state: ${(e as Error).message}`;
      }
    } while (again);
  })().finally(() => (pending = undefined));
  return pending;
}

// ---- the trace ----
interface Ev {
  type: string;
  serial: string;
  t: number;
  [k: string]: unknown;
}
const MAX_LINES = 500;
const hexSp = (h: string, max = 20) => {
  const bytes = h.match(/../g) ?? [];
  return bytes.slice(0, max).join(" ") + (bytes.length > max ? ` …(${bytes.length})` : "");
};

function traceItem(e: Ev): HTMLLIElement {
  const li = document.createElement("li");
  li.className = e.type;
  li.dataset.serial = e.serial;
  const head = `<span class="t">${(e.t / 1000).toFixed(3).padStart(8)}s</span> ${esc(e.serial.slice(0, 8))} `;
  if (e.type === "apdu") {
    const c = String(e.command);
    const r = String(e.response);
    const sw = parseInt(r.slice(-4), 16);
    const ins = parseInt(c.slice(2, 4), 16);
    const name = swName(sw);
    li.title = `${hexSp(c, 64)}\n→ ${hexSp(r, 64)}`;
    const data = c.length / 2 > 5 ? ` +${c.length / 2 - 5}` : "";
    li.innerHTML = `${head}${esc((INS_NAMES.get(ins) ?? `INS ${c.slice(2, 4)}`).padEnd(15))} ${esc((c.match(/../g) ?? []).slice(0, 4).join(" "))}${data.padEnd(5)} → <span class="${sw === 0x9000 ? "sw-ok" : "sw-err"}">${r.slice(-4).toUpperCase()} ${esc(name)}</span>${r.length > 4 ? ` ${r.length / 2 - 2} B` : ""} ${Number(e.ms).toFixed(2)} ms`;
  } else if (e.type === "power") {
    li.innerHTML = `${head}POWER ${e.on ? "on" : "off"} (${esc(String(e.cause))})`;
  } else if (e.type === "display") {
    li.innerHTML = `${head}DISPLAY confirm ${esc(money(Number(e.amount)))} within ${secs(Number(e.timeoutMs ?? 0))}`;
  } else if (e.type === "confirm") {
    li.innerHTML = `${head}CONFIRM ${e.result === 1 ? "yes (button)" : "no (refused / timed out)"}`;
  } else if (e.type === "fault") {
    li.innerHTML = `${head}FAULT ${esc(String(e.kind))}: ${esc(String(e.message))}`;
  } else {
    const { type, serial: _s, t: _t, ...rest } = e;
    li.innerHTML = `${head}${esc(type.toUpperCase())} ${esc(JSON.stringify(rest))}`;
  }
  return li;
}

function applyTraceFilter(li: HTMLElement): void {
  const apduOnly = $<HTMLInputElement>("#apdu-only").checked;
  li.hidden = (!!filter && li.dataset.serial !== filter) || (apduOnly && !li.classList.contains("apdu"));
}

function connect(): void {
  const es = new EventSource("/events");
  const conn = $<HTMLElement>("#conn");
  es.onopen = () => {
    conn.textContent = "live";
    conn.classList.add("live");
  };
  es.onerror = () => {
    conn.textContent = "reconnecting…";
    conn.classList.remove("live");
  };
  es.onmessage = (m) => {
    const e = JSON.parse(m.data) as Ev;
    const list = $<HTMLOListElement>("#trace");
    const li = traceItem(e);
    applyTraceFilter(li);
    list.appendChild(li);
    while (list.children.length > MAX_LINES) list.firstElementChild!.remove();
    void refresh();
  };
}

$<HTMLSelectElement>("#filter").addEventListener("change", (ev) => {
  filter = (ev.target as HTMLSelectElement).value;
  for (const li of document.querySelectorAll<HTMLElement>("#trace li")) applyTraceFilter(li);
  render();
});
$<HTMLInputElement>("#apdu-only").addEventListener("change", () => {
  for (const li of document.querySelectorAll<HTMLElement>("#trace li")) applyTraceFilter(li);
});
$<HTMLButtonElement>("#clear").addEventListener("click", () => ($<HTMLElement>("#trace").innerHTML = ""));

connect();
void refresh();
// tests (and a curious engineer in devtools) wait for the page to show the fleet as it is now
(window as unknown as { consoleRefresh: () => Promise<void> }).consoleRefresh = refresh;
