// Reading and looking after one device (host-tools/README.md "Commands"):
// `wallet card info` (what `keycard-cli info` or `gp -l` show for a card: lifecycle,
// balance, limits, what is left before a sync, PIN/PUK tries, the certificate's validity)
// and `wallet pin change` (CHANGE REFERENCE DATA). Neither needs the keystore; card info
// adds the ledger's view of the device when a ledger is there.
import { existsSync } from "node:fs";
import { register, type Ctx } from "./command.ts";
import { withChannel } from "../channels/index.ts";
import { CHANNEL_OPTIONS, channelSpec, openFromOptions, openOptions } from "./channel-options.ts";
import { refused, usageError } from "../errors.ts";
import { currencyCode, isoTime, moneyIn } from "../format.ts";
import { WalletCard, type CardStatus } from "../card.ts";
import { formName, hex, suiteName } from "../docs.ts";
import { CERT_SCHEMA, decodeSigned, type DeviceCert } from "../../../protocol/src/formats.ts";
import { LC_ACTIVE, LC_LOCKED, LC_MANUFACTURED, LC_PERSONALIZING, LC_TERMINATED } from "../../../protocol/portable/lifecycle.ts";
import * as A from "../../../protocol/portable/apdu.ts";
import { ApduError, swTriesLeft } from "../../../protocol/src/sw.ts";
import { SW_AUTH_METHOD_BLOCKED, SW_CONDITIONS_NOT_SATISFIED } from "../../../protocol/portable/sw.ts";
import { withLedger } from "./common.ts";

export const LIFECYCLE_NAMES: Record<number, string> = {
  [LC_MANUFACTURED]: "blank (manufactured: GP default keys)",
  [LC_PERSONALIZING]: "personalizing (started, not finalized)",
  [LC_ACTIVE]: "active",
  [LC_LOCKED]: "locked (by the issuer)",
  [LC_TERMINATED]: "terminated",
};
const lifecycleName = (lc: number) => LIFECYCLE_NAMES[lc] ?? `unknown (${lc})`;

export interface CardInfo {
  deviceId: string;
  lifecycle: string;
  lifecycleCode: number;
  suite: string | null;
  form: string | null;
  currency: number;
  currencyCode: string;
  balance: number;
  cap: number;
  counter: number;
  /** payments and amount left before the device needs a sync */
  paymentsLeft: number;
  amountLeft: number;
  syncDeadline: string | null;
  lastSyncAck: string | null;
  pinTries: number;
  pukTries: number;
  logEntries: number;
  logCapacity: number;
  revocationListVersion: number;
  loadSeq: number;
  certificate: { notBefore: string; notAfter: string; issuerKeyId: string; valid: "valid" | "expired" | "not yet valid"; limits: DeviceCert["limits"] } | null;
  ledger: { alias: string | null; state: string; revoked: boolean; lastSync: string | null } | null;
}

async function readInfo(ctx: Ctx, card: WalletCard): Promise<CardInfo> {
  const sel = await card.select();
  const st: CardStatus = await card.status();
  const deviceId = hex(sel.deviceId);
  let certificate: CardInfo["certificate"] = null;
  if (st.flags & A.STATUS_FLAG_HAS_CERT || sel.lifecycle >= LC_ACTIVE) {
    try {
      const c = decodeSigned<DeviceCert>(await card.getCertificate(), CERT_SCHEMA);
      const now = Math.floor(Date.now() / 1000);
      certificate = {
        notBefore: isoTime(c.doc.notBefore), notAfter: isoTime(c.doc.notAfter), issuerKeyId: hex(c.sign1.kid ?? c.doc.issuerKeyId),
        valid: now < c.doc.notBefore ? "not yet valid" : now > c.doc.notAfter ? "expired" : "valid", limits: c.doc.limits,
      };
    } catch (e) {
      if (!(e instanceof ApduError)) throw e; // no certificate yet: a blank or half-done device
    }
  }
  let ledger: CardInfo["ledger"] = null;
  if (existsSync(ctx.ledgerPath))
    ledger = await withLedger(ctx, async (l) => {
      const d = await l.device(deviceId);
      return d ? { alias: d.alias, state: d.revoked ? "revoked" : d.state, revoked: d.revoked, lastSync: d.lastSync === null ? null : String(d.lastSync) } : null;
    });
  return {
    deviceId, lifecycle: lifecycleName(sel.lifecycle), lifecycleCode: sel.lifecycle, suite: suiteName(st.suite) ?? null, form: formName(st.formFactor) ?? null,
    currency: st.currency, currencyCode: currencyCode(st.currency), balance: st.balance, cap: st.cap, counter: st.counter,
    paymentsLeft: st.remainingPayments, amountLeft: st.remainingAmount, syncDeadline: st.syncDeadline ? isoTime(st.syncDeadline) : null,
    lastSyncAck: st.lastAckTime ? isoTime(st.lastAckTime) : null, pinTries: st.pinTries, pukTries: st.pukTries,
    logEntries: st.logCount, logCapacity: st.logCapacity, revocationListVersion: st.revocationVersion, loadSeq: st.loadSeq, certificate, ledger,
  };
}

export function infoText(i: CardInfo): string {
  const m = (v: number) => moneyIn(v, i.currency);
  const rows: [string, string][] = [
    ["device", `${i.deviceId}${i.ledger?.alias ? ` (${i.ledger.alias})` : ""}`],
    ["lifecycle", i.lifecycle],
  ];
  if (i.lifecycleCode !== LC_MANUFACTURED) {
    rows.push(
      ["suite", `${i.suite ?? "-"}   form ${i.form ?? "-"}   currency ${i.currencyCode}`],
      ["balance", m(i.balance)],
      ["cap", m(i.cap)],
      ["counter", `${i.counter} payments made`],
      ["before sync", `${i.paymentsLeft} payments, ${m(i.amountLeft)} left${i.syncDeadline ? `; sync due by ${i.syncDeadline}` : "; no sync deadline"}`],
      ["last sync", i.lastSyncAck ?? "never"],
      ["log", `${i.logEntries} of ${i.logCapacity} entries`],
      ["revocation", `list v${i.revocationListVersion}`],
    );
  }
  if (i.lifecycleCode !== LC_MANUFACTURED) rows.push(["PIN tries", `${i.pinTries} left${i.pinTries === 0 && i.lifecycleCode >= LC_ACTIVE ? " (blocked: `wallet pin unblock`)" : ""}`], ["PUK tries", `${i.pukTries} left`]);
  else rows.push(["PIN", "not set (blank device)"]);
  if (i.certificate)
    rows.push(["certificate", `${i.certificate.valid}: not before ${i.certificate.notBefore}, not after ${i.certificate.notAfter}, issuer key ${i.certificate.issuerKeyId}`]);
  else rows.push(["certificate", "none"]);
  rows.push(["ledger", i.ledger ? `${i.ledger.state}${i.ledger.lastSync ? `, last sync ${i.ledger.lastSync}` : ""}` : "not in this ledger (or no ledger here)"]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

const digits = (v: unknown, what: string) => {
  if (typeof v !== "string" || !/^\d{4,8}$/.test(v)) throw usageError(`${what} must be 4 to 8 digits`);
  return v;
};

register(
  {
    name: "card info",
    summary: "read a device: lifecycle, balance, cap, counter, payments and amount left before a sync, PIN/PUK tries, certificate validity",
    usage: "(--reader R | --hid H | --serial P | --sim IMAGE)",
    options: CHANNEL_OPTIONS,
    examples: ["wallet card info --reader 0", "wallet card info --sim alice.img --json"],
    async run(ctx, _a, o) {
      channelSpec(o);
      openOptions(o, ctx.trace);
      const info = await withChannel(await openFromOptions(o, ctx.trace), (ch) => readInfo(ctx, new WalletCard(ch)));
      return { data: info, text: infoText(info) };
    },
  },
  {
    name: "pin change",
    summary: "change a device's PIN (CHANGE REFERENCE DATA): the old PIN, then the new one",
    usage: "--pin OLD --new-pin NEW (--reader R | --hid H | --serial P | --sim IMAGE)",
    options: { ...CHANNEL_OPTIONS, pin: { type: "string" }, "new-pin": { type: "string" } },
    optionHelp: { pin: "the current PIN, 4 to 8 digits", "new-pin": "the new PIN, 4 to 8 digits" },
    examples: ["wallet pin change --reader 0 --pin 1234 --new-pin 2468"],
    async run(ctx, _a, o) {
      channelSpec(o);
      openOptions(o, ctx.trace);
      const old = digits(o.pin, "--pin");
      const fresh = digits(o["new-pin"], "--new-pin");
      return withChannel(await openFromOptions(o, ctx.trace), async (ch) => {
        const card = new WalletCard(ch);
        const { deviceId } = await card.select();
        const id = hex(deviceId);
        try {
          await card.changePin(old, fresh);
        } catch (e) {
          // 63Cx and 6983 are worded by the error printer (wrong PIN, x tries left / blocked: unblock with the PUK)
          const left = e instanceof ApduError ? swTriesLeft(e.sw) : null;
          if (left !== null)
            throw refused(`pin change: wrong PIN, ${left} ${left === 1 ? "try" : "tries"} left${left === 0 ? ": PIN blocked, unblock it with the PUK (`wallet pin unblock`)" : ""}`);
          if (e instanceof ApduError && e.sw === SW_AUTH_METHOD_BLOCKED) throw refused("pin change: PIN blocked: unblock it with the PUK (`wallet pin unblock --puk PUK --new-pin PIN`)");
          if (e instanceof ApduError && e.sw === SW_CONDITIONS_NOT_SATISFIED) throw refused(`pin change: ${id} has no PIN yet (not personalized)`);
          throw e;
        }
        return { data: { deviceId: id, changed: true }, text: `${id}: PIN changed` };
      });
    },
  },
);
