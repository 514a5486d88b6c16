// The device flows of the `wallet` commands (DESIGN.md §6, §8; host-tools/README.md "Commands"), as library functions
// over a Channel so the CLI, the demo and the tests run the same code:
// personalize, load, POS charge (offline verification, outbox write before "approved"),
// device-to-device transfer, and sync (read log → reconcile → signed acknowledgement).
import { randomBytes, randomInt } from "node:crypto";
import * as A from "../../protocol/portable/apdu.ts";
import { LC_ACTIVE, LC_MANUFACTURED, LC_PERSONALIZING } from "../../protocol/portable/lifecycle.ts";
import { DOC_BLOCK_LIST_MAX, DOC_TYPE_RECEIPT, RECEIPT_KIND_LOAD, VOUCHER_KIND_D2D, VOUCHER_KIND_POS } from "../../protocol/portable/cbor-keys.ts";
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import { CERT_SCHEMA, RECEIPT_SCHEMA, decodeSigned, peekDocType, type DeviceCert, type Limits, type Receipt } from "../../protocol/src/formats.ts";
import { GP_DEFAULT_KEYS, Scp03Session, type ScpKeys } from "../../protocol/src/scp03.ts";
import * as L from "../../protocol/portable/limits.ts";
import { SCP03_SL_FULL } from "../../protocol/portable/scp03.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import { WalletCard, type CardStatus } from "./card.ts";
import { persoSteps, type PersoOutcome, type PersoPlan } from "./perso.ts";
import type { Channel } from "./channels/channel.ts";
import { certRefOf, checkCert, FORM_IDS, hex, issueCert, issueLoad, issueSyncAck, suiteId, suiteName, verifySigned, type Signer, type TrustedKey } from "./docs.ts";
import { authError, dataError, deviceError, EXIT_DATA, refused, WalletError } from "./errors.ts";
import { money } from "./format.ts";
import type { IssuerKeystore as Keystore } from "./keystore.ts";
import type { DeviceRecord, FormFactor, Ledger, LoadRecord } from "./ledger/ledger.ts";
import { DEVICE_LOG_FORMAT, parseInput, reconcile, REPORTED_CASES, type ReconcileResult } from "./reconcile.ts";
import type { SuiteName } from "./sig.ts";
import { checkVoucher } from "./voucher-check.ts";
import { limitsProblem } from "./limits-rule.ts";
import { certAt, compromisedKids, compromisedSlot, keyUpdateFor, ledgerKeys, signerForSlots, slotsFrom } from "./trust.ts";

const now = () => Math.floor(Date.now() / 1000);
const CERT_VALIDITY_S = 4 * 365 * 86400;
const LOAD_VALIDITY_S = 86400;

export function signer(ks: Keystore, suite: SuiteName): Signer {
  return ks.signer(suite);
}

/**
 * The key to sign a device's loads and sync acks with: the one that issued its certificate
 * while it is still trusted (the device was given the keys trusted at personalization, so
 * it may not know a newer one), else the active key.
 */
export function signerFor(ks: Keystore, dev: DeviceRecord): Signer {
  if (dev.cert) {
    try {
      const kid = hex(decodeSigned<DeviceCert>(dev.cert, CERT_SCHEMA).sign1.kid);
      const k = ks.signerById(kid);
      if (k && k.suite === dev.suite) return k;
    } catch {
      // a registry certificate that does not decode: fall back to the active key
    }
  }
  return signer(ks, dev.suite);
}

async function connect(channel: Channel): Promise<{ card: WalletCard; deviceId: string; info: Awaited<ReturnType<WalletCard["select"]>> }> {
  const card = new WalletCard(channel);
  const info = await card.select();
  return { card, deviceId: hex(info.deviceId), info };
}

/** Opens SCP03 with the keys a device in this state holds (GP default before PUT KEY). */
async function openChannel(card: WalletCard, keys: ScpKeys, suite: number, keyVersion: number): Promise<void> {
  try {
    card.secure = await Scp03Session.open((a) => card.channel.transmit(a), keys, { suite, level: SCP03_SL_FULL, keyVersion });
  } catch (e) {
    throw deviceError(`${card.channel.name}: secure channel refused: ${(e as Error).message}`);
  }
}

export interface PersonalizeRequest {
  account: string;
  suite: SuiteName;
  formFactor: FormFactor;
  currency: number;
  limits: Limits;
  pin?: string;
  puk?: string;
  alias?: string;
  /** certificate validity from now, seconds (default 4 years); not-before is a day back */
  certValidity?: number;
}

export interface PersonalizeResult {
  deviceId: string;
  token: string;
  suite: SuiteName;
  formFactor: FormFactor;
  pin: string;
  puk: string;
  resumed: boolean;
  alreadyDone: boolean;
  steps: string[];
}

const KVN_ISSUER = 0x01;

/**
 * Personalizes the device on `channel` (SPEC §3.2, §9): SCP03 (GP default keys on a blank
 * device, then PUT KEY with keys diversified from the issuer master keys and the device
 * id), identity, limits, trusted issuer keys, key generation on the device, certificate,
 * PIN/PUK, FINALIZE. A PERSONALIZING device is finished from where it stopped; an ACTIVE
 * one is left alone. Ledger writes (device record, token, audit) are one transaction.
 */
export async function personalize(
  channel: Channel, ks: Keystore, ledger: Ledger, req: PersonalizeRequest,
  hooks: {
    beforeFinalize?: (s: { deviceId: string; pin: string; puk: string }) => void | Promise<void>;
    /** the keys a blank device holds (as `gp --key`/`--key-enc …` and a key version): default the GP test keys 40..4F, version FF */
    initialKeys?: { keys: ScpKeys; keyVersion: number };
  } = {},
): Promise<PersonalizeResult> {
  const { card, deviceId, info } = await connect(channel);
  const steps: string[] = [];
  const known = await ledger.device(deviceId);
  if (known && info.lifecycle !== LC_MANUFACTURED) {
    // a device the ledger knows belongs to the account its token stands for: one that was
    // personalized for another account is refused for this request, never counted as done.
    // An active device's token is the one in its own certificate; a half-done one's is
    // the token the ledger gave it.
    let tok = known.token;
    if (info.lifecycle === LC_ACTIVE) {
      try {
        tok = hex(decodeSigned<DeviceCert>(await card.getCertificate(), CERT_SCHEMA).doc.token);
      } catch {
        // no readable certificate: the ledger's record of the token stands
      }
    }
    const owner = await ledger.accountFor(tok);
    if (owner !== req.account) {
      const last4 = (a: string | null) => (a ? `…${a.replace(/\D/g, "").slice(-4)}` : "unknown");
      throw refused(`personalize: device ${deviceId} is already personalized for another account (${last4(owner)}, not ${last4(req.account)}): present a blank device for this one`);
    }
  }
  if (info.lifecycle !== LC_MANUFACTURED && info.lifecycle !== LC_PERSONALIZING) {
    if (info.lifecycle === LC_ACTIVE && known) {
      // FINALIZE went through but its answer was lost (card pulled): confirm it now
      if (known.state === "personalizing")
        await ledger.transaction(async () => {
          await ledger.putDevice({ ...known, state: "active" });
          await ledger.audit("personalize", { deviceId, suite: known.suite, formFactor: known.formFactor, token: known.token, confirmed: true });
        });
      return { deviceId, token: known.token, suite: known.suite, formFactor: known.formFactor, pin: "", puk: "", resumed: known.state === "personalizing", alreadyDone: true, steps };
    }
    throw refused(`personalize: device ${deviceId} is not blank (lifecycle ${info.lifecycle}) and not in the ledger`);
  }
  const suite = req.suite;
  const sid = suiteId(suite);
  const devKeys = ks.deviceScpKeys(suite, Buffer.from(deviceId, "hex"));
  let putKey: PersoPlan["putKey"];
  if (info.lifecycle === LC_MANUFACTURED) {
    // blank: the session runs on AES with the initial keys (GP default unless given) until identity is set
    const init = hooks.initialKeys ?? { keys: GP_DEFAULT_KEYS, keyVersion: A.SCP_DEFAULT_KVN };
    try {
      await openChannel(card, init.keys, SUITE_P256_SHA256_AES128, init.keyVersion);
    } catch (e) {
      // a failed mutual authentication: the card holds other keys (or another key version).
      // Cards lock after about 10 of these: the caller counts them (authFailure)
      const m = (e as Error).message;
      if (/cryptogram mismatch|6982|6A88|6300|SW_SECURITY|REFERENCED_DATA/i.test(m))
        throw Object.assign(
          authError(`personalize: device ${deviceId} refused the initial keys (key version ${init.keyVersion.toString(16).toUpperCase().padStart(2, "0")}): ${m.replace(/^.*secure channel refused: /, "")}; give its keys with --key or --key-enc/--key-mac/--key-dek and --key-version`),
          { authFailure: true },
        );
      throw e;
    }
    putKey = { kvn: KVN_ISSUER, keys: devKeys, oldDek: init.keys.dek };
  } else {
    if (info.suite && info.suite !== sid) throw refused(`personalize: device ${deviceId} was started as suite ${suiteName(info.suite)}, not ${suite}`);
    await openChannel(card, devKeys, info.suite || SUITE_P256_SHA256_AES128, KVN_ISSUER);
    steps.push("resume");
  }
  const token = known?.token ?? (await ledger.tokenFor(req.account));
  const t = now();
  const plan: PersoPlan = {
    putKey, suite: sid, formFactor: FORM_IDS[req.formFactor], currency: req.currency, token: Buffer.from(token, "hex"), limits: req.limits,
    issuerKeys: ks.trusted(suite).map((k) => ({ kid: Buffer.from(k.kid, "hex"), pub: Buffer.from(k.pub, "hex") })),
    // a resumed device may hold its key pair already (GET STATUS says): it is read, never replaced
    hasKey: !!((await card.status()).flags & A.STATUS_FLAG_HAS_KEY),
    certificate: (publicKey) => issueCert(signer(ks, suite), {
      deviceId: Buffer.from(deviceId, "hex"), token: Buffer.from(token, "hex"), suite: sid, publicKey, formFactor: FORM_IDS[req.formFactor],
      currency: req.currency, limits: req.limits, notBefore: t - 86400, notAfter: t + (req.certValidity ?? CERT_VALIDITY_S),
    }),
    pin: req.pin ?? String(randomInt(0, 1e6)).padStart(6, "0"),
    puk: req.puk ?? String(randomInt(0, 1e8)).padStart(8, "0"),
    time: t,
  };
  const { pin, puk } = plan;
  const out: PersoOutcome = {};
  let rec: DeviceRecord | undefined;
  for (const step of persoSteps(plan, out)) {
    if (step.name === "finalize") {
      // the registry entry and the PIN mailer are written BEFORE the device goes ACTIVE: if
      // FINALIZE's answer is lost, the next run finds both and only confirms
      const cert = out.cert!;
      rec = {
        deviceId, serial: deviceId, formFactor: req.formFactor, suite, token, alias: req.alias ?? known?.alias ?? null, currency: req.currency, limits: req.limits, pendingLimits: null,
        pub: hex(out.pub!), cert, certRef: hex(certRefOf(suite, cert)), state: "personalizing", personalizedAt: new Date().toISOString(), lastSync: null,
        lastLoadSeq: known?.lastLoadSeq ?? 0, revoked: false, revokedAt: null,
      };
      await ledger.transaction(async () => {
        await ledger.putIssuerKeys(ledgerKeys(ks.keys()));
        await ledger.putDevice(rec!);
      });
      await hooks.beforeFinalize?.({ deviceId, pin, puk });
    }
    const data = await card.sec(step.cmd()); // not inside `took?.(…)`, which would skip it for steps that take nothing
    step.took?.(data);
    if (steps.at(-1) !== step.name) steps.push(step.name);
  }
  card.secure = null;
  await ledger.transaction(async () => {
    await ledger.putDevice({ ...rec!, state: "active" });
    await ledger.audit("personalize", { deviceId, suite, formFactor: req.formFactor, token, resumed: info.lifecycle === LC_PERSONALIZING, issuerKey: hex(ks.signer(suite).kid) });
  });
  return { deviceId, token, suite, formFactor: req.formFactor, pin, puk, resumed: info.lifecycle === LC_PERSONALIZING, alreadyDone: false, steps };
}

async function registered(ledger: Ledger, deviceId: string): Promise<DeviceRecord> {
  const d = await ledger.device(deviceId);
  if (!d) throw refused(`device ${deviceId} is not in the ledger (personalized elsewhere?)`);
  return d;
}

/** What `load` did: a new load, or the outcome of an earlier one whose answer was lost. */
export type LoadOutcome = "loaded" | "earlier-applied" | "redelivered";

export interface LoadResult {
  deviceId: string;
  seq: number;
  amount: number;
  balance: number;
  receipt: Receipt;
  outcome: LoadOutcome;
  /** earlier unconfirmed loads this contact settled: confirmed by the device, or void */
  settled: { seq: number; amount: number; state: "confirmed" | "void" }[];
}

/** A transport failure after the command left: the device may have committed (never an ApduError, which is a refusal). */
const answerLost = (e: unknown) => !(e instanceof ApduError);

/**
 * LOAD (DESIGN §8, SPEC §5.10): the authorization is recorded as issued BEFORE it is
 * sent, and the device's receipt confirms it. A re-run first asks the device: an earlier
 * authorization whose answer was lost is confirmed by the device's last load sequence and
 * its receipt (in the device log or the ledger), and never followed by a second one for the
 * same intent; an earlier one the device has not applied and that has not expired is
 * delivered again (the same bytes: the device takes it at most once). Refused here when the
 * balance would exceed the cap.
 */
export async function load(channel: Channel, ks: Keystore, ledger: Ledger, amount: number, expectDevice?: string): Promise<LoadResult> {
  const { card, deviceId } = await connect(channel);
  const dev = await registered(ledger, deviceId);
  if (expectDevice && dev.deviceId !== expectDevice) {
    const wanted = await ledger.device(expectDevice);
    throw refused(`load: the device presented is ${deviceName(dev)}, not ${wanted ? deviceName(wanted) : expectDevice}`);
  }
  if (dev.revoked) throw refused(`load: device ${deviceName(dev)} is revoked`);
  const st = await card.status();
  const t = Math.max(now(), st.latestTime);
  // no new value on a device whose certificate a POS would refuse (expired, or under a compromised key)
  const certOk = dev.cert ? certAt(dev.cert, (await ledger.issuerKeys()).map((k) => ({ ...k, compromisedAt: k.revokedAt ?? null })), t) : "no certificate registered";
  if (typeof certOk === "string") throw refused(`load: device ${deviceName(dev)}: ${certOk}`);
  // 1. earlier authorizations without a receipt: what did the device do with them?
  const settled: LoadResult["settled"] = [];
  let outstanding: LoadRecord | undefined;
  let earlierApplied: { l: LoadRecord; r: Receipt } | undefined;
  const open = (await ledger.loads(deviceId)).filter((l) => !l.receipt && !l.voided);
  if (open.length) {
    const found = await loadReceipts(card, ledger, dev);
    for (const l of open) {
      const r = found.get(l.seq);
      if (r && r.doc.amount === l.amount) {
        await ledger.transaction(async () => {
          await ledger.addLoad({ ...l, receipt: r.cose });
          await ledger.audit("load", { deviceId, seq: l.seq, amount: l.amount, balanceAfter: r.doc.balanceAfter, confirmed: "device log" });
        });
        settled.push({ seq: l.seq, amount: l.amount, state: "confirmed" });
        earlierApplied = { l, r: r.doc };
      } else if (l.seq <= st.loadSeq || l.expiry < t) {
        // passed over (a later sequence was applied) or expired on the device's own clock
        await ledger.voidLoad(deviceId, l.seq);
        settled.push({ seq: l.seq, amount: l.amount, state: "void" });
      } else outstanding = l;
    }
  }
  if (earlierApplied && earlierApplied.l.amount === amount && !outstanding)
    return { deviceId, seq: earlierApplied.l.seq, amount, balance: st.balance, receipt: earlierApplied.r, outcome: "earlier-applied", settled };
  let seq: number;
  let auth: Uint8Array;
  let outcome: LoadOutcome;
  if (outstanding) {
    if (outstanding.amount !== amount)
      throw refused(
        `load: an earlier load of ${money(outstanding.amount)} (seq ${outstanding.seq}) to ${deviceName(dev)} is unconfirmed and valid until ${iso(outstanding.expiry)}; ` +
          `run \`wallet load ${dev.alias ?? deviceId} ${money(outstanding.amount)}\` to deliver it, or wait until it expires`,
      );
    if (st.balance + amount > st.cap) throw refused(`load: balance ${money(st.balance)} + ${money(amount)} would exceed the cap ${money(st.cap)}`);
    ({ seq, auth } = outstanding);
    outcome = "redelivered";
  } else {
    if (st.balance + amount > st.cap) throw refused(`load: balance ${money(st.balance)} + ${money(amount)} would exceed the cap ${money(st.cap)}`);
    seq = Math.max(dev.lastLoadSeq, st.loadSeq) + 1;
    // signed by the newest key the device holds (trust.ts): it may not know the active one yet
    auth = issueLoad(signerForSlots(ks, dev, slotsFrom(dev, await ledger.syncAcks(deviceId), compromisedKids(ks.keys()))), { deviceId: Buffer.from(deviceId, "hex"), seq, amount, currency: dev.currency, expiry: t + LOAD_VALIDITY_S });
    // 2. recorded as issued (committed) before the device sees it
    await ledger.transaction(async () => {
      await ledger.addLoad({ deviceId, seq, amount, currency: dev.currency, expiry: t + LOAD_VALIDITY_S, auth, receipt: null });
      await ledger.audit("load-issued", { deviceId, seq, amount, expiry: t + LOAD_VALIDITY_S });
    });
    outcome = "loaded";
  }
  let receiptCose: Uint8Array;
  try {
    receiptCose = await card.load(t, auth);
  } catch (e) {
    if (answerLost(e))
      throw deviceError(
        `load: the answer to LOAD was lost (${(e as Error).message}); the device may have taken ${money(amount)} (seq ${seq}). ` +
          `Present the device and run \`wallet load\` again: it asks the device first and never loads twice`,
      );
    await ledger.voidLoad(deviceId, seq);
    throw e;
  }
  const receipt = deviceSigned<Receipt>(receiptCose, dev, "receipt");
  await ledger.transaction(async () => {
    await ledger.addLoad({ deviceId, seq, amount, currency: dev.currency, expiry: 0, auth, receipt: receiptCose });
    await ledger.audit("load", { deviceId, seq, amount, balanceAfter: receipt.balanceAfter });
  });
  return { deviceId, seq, amount, balance: receipt.balanceAfter, receipt, outcome, settled };
}

/** LOAD receipts by seq: from the device's log (verified) and from the ledger's receipts. */
async function loadReceipts(card: WalletCard, ledger: Ledger, dev: DeviceRecord): Promise<Map<number, { doc: Receipt; cose: Uint8Array }>> {
  const out = new Map<number, { doc: Receipt; cose: Uint8Array }>();
  for (const r of await ledger.receiptsOf(dev.deviceId))
    if (r.kind === RECEIPT_KIND_LOAD) out.set(Number(r.ref), { doc: decodeSigned<Receipt>(r.cose, RECEIPT_SCHEMA).doc, cose: r.cose });
  for (const cose of await card.readLog()) {
    if (peekDocType(cose) !== DOC_TYPE_RECEIPT) continue;
    const doc = deviceSigned<Receipt>(cose, dev, "receipt");
    if (doc.kind === RECEIPT_KIND_LOAD) out.set(Number(doc.ref), { doc, cose });
  }
  return out;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");

function deviceSigned<T>(cose: Uint8Array, dev: DeviceRecord, what: string): T {
  const s = decodeSigned<T>(cose, RECEIPT_SCHEMA);
  if (!dev.pub || !verifySigned(s, dev.suite, Buffer.from(dev.pub, "hex"))) throw deviceError(`${what} from ${dev.deviceId} does not verify`);
  return s.doc;
}

/** REASON_* name of a refusal code from GET STATUS (protocol/portable/limits.ts). */
export function reasonName(code: number): string {
  const hit = Object.entries(L).find(([k, v]) => k.startsWith("REASON_") && v === code);
  return hit ? hit[0] : `reason ${code}`;
}

const deviceName = (d: DeviceRecord) => (d.alias ? `${d.alias} (${d.deviceId})` : d.deviceId);

export interface PosConfig {
  merchant: Uint8Array; // 8-byte payee id
  currency: number;
  trusted: TrustedKey[];
  revoked: Set<string>;
}

export type { PayIntent } from "./pay-intent.ts";
import type { PayIntent } from "./pay-intent.ts";

export interface PosPayment {
  approved: true;
  deviceId: string;
  counter: number;
  amount: number;
  currency: number;
  time: number;
  voucher: Uint8Array;
  voucherHash: string;
  cert: Uint8Array;
  balanceAfter: number;
}

/** The terminal's durable store (pos-outbox.ts): intents before PAY, vouchers after. */
export interface PosJournal {
  /** records a payment about to be asked for, committed; throws when it cannot be written */
  begin(i: PayIntent): void;
  store(p: PosPayment): void;
  has(voucherHash: string): boolean;
  openIntents(deviceId: string): PayIntent[];
  closeIntents(deviceId: string): void;
}

export interface ChargeResult extends PosPayment {
  /** vouchers of earlier payments by this device that the outbox lacked, stored now */
  recovered: PosPayment[];
}

/**
 * A POS payment: SELECT, GET STATUS, GET CERTIFICATE, [VERIFY], PAY with a fresh challenge
 * and the terminal's time, then offline verification: the certificate chain to a trusted
 * issuer key, revocation list, the voucher's canonical encoding, signature, and that it
 * answers THIS request. With a journal (DESIGN §8): an earlier payment of this device whose
 * voucher the outbox lacks is recovered from the device's log first; the intent is
 * committed before PAY (an outbox that cannot be written declines before the card pays);
 * after PAY, a failed store never says "declined" — the money left the card, and the
 * error says how to recover the voucher. `store` runs before the caller may say "approved".
 */
export async function posCharge(
  channel: Channel, cfg: PosConfig, amount: number,
  opts: { pin?: string; store?: (p: PosPayment) => void | Promise<void>; journal?: PosJournal; time?: number },
): Promise<ChargeResult> {
  const { card, deviceId } = await connect(channel);
  if (cfg.revoked.has(deviceId)) throw refused(`declined: device ${deviceId} is on the revocation list`);
  const st = await card.status();
  if (st.lifecycle !== LC_ACTIVE) throw refused(`declined: device ${deviceId} is not active (lifecycle ${st.lifecycle})`);
  const certCose = await card.getCertificate();
  const time = opts.time ?? now();
  // chain, key state and validity at the terminal's time (trust.ts)
  const cert = certAt(certCose, cfg.trusted, time);
  if (typeof cert === "string") throw refused(`declined: ${cert}`);
  if (hex(cert.deviceId) !== deviceId) throw refused("declined: certificate names another device");
  const key = { suite: suiteName(cert.suite)!, pub: hex(cert.publicKey), certRef: hex(certRefOf(suiteName(cert.suite)!, certCose)) };
  const journal = opts.journal;
  const recovered = journal && journal.openIntents(deviceId).length ? (await recoverFrom(card, deviceId, key, certCose, cfg, journal)).recovered : [];
  if (cert.currency !== cfg.currency) throw refused(`declined: device currency ${cert.currency}, terminal ${cfg.currency}`);
  if (amount > cert.limits.maxPayment) throw refused(`declined: ${money(amount)} is above the device's per-payment maximum ${money(cert.limits.maxPayment)}`);
  if (amount > st.balance) throw refused(`declined: insufficient offline balance (${money(st.balance)})`);
  if (opts.pin && amount > cert.limits.noCvm) await card.verifyPin(opts.pin);
  const challenge = new Uint8Array(randomBytes(16));
  try {
    journal?.begin({ deviceId, counterBefore: st.counter, amount, challenge: hex(challenge), time });
  } catch (e) {
    throw dataError(`declined: the outbox cannot be written (${(e as Error).message}); nothing was charged`);
  }
  let voucher: Uint8Array;
  try {
    voucher = await card.pay({ amount, currency: cfg.currency, payee: cfg.merchant, challenge, time });
  } catch (e) {
    if (e instanceof ApduError) {
      journal?.closeIntents(deviceId);
      throw refused(`declined by the device: ${e.message.replace(/^apdu failed: /, "")} (${reasonName((await card.status()).lastReason)})`);
    }
    throw deviceError(
      `the answer to PAY was lost (${(e as Error).message}): the card may have paid ${money(amount)}. Do not charge again: ` +
        "tap the same card again (or run `wallet pos recover`); its log shows whether it paid, and the voucher is stored then",
    );
  }
  const r = checkVoucher(voucher, (id) => (id === deviceId ? key : undefined));
  if (!r.ok) throw deviceError(`declined: voucher does not verify: ${r.reason}`);
  const v = r.v;
  if (v.amount !== amount || v.currency !== cfg.currency || hex(v.payeeId) !== hex(cfg.merchant) || hex(v.challenge) !== hex(challenge) || v.kind !== VOUCHER_KIND_POS)
    throw deviceError("declined: voucher does not answer this payment request");
  const p: PosPayment = { approved: true, deviceId, counter: v.counter, amount, currency: v.currency, time: v.time, voucher, voucherHash: r.hash, cert: certCose, balanceAfter: v.balanceAfter };
  try {
    if (journal) journal.store(p);
    await opts.store?.(p);
  } catch (e) {
    throw new WalletError(
      `PAID, NOT STORED: ${money(amount)} left the card in voucher #${v.counter}, but the outbox could not store it (${(e as Error).message}). ` +
        "Do not charge again: free the outbox, then run `wallet pos recover` with this card",
      EXIT_DATA,
    );
  }
  journal?.closeIntents(deviceId);
  return { ...p, recovered };
}

/** `wallet pos recover`: the device's log → every voucher made out to this merchant that the outbox lacks. */
export async function posRecover(channel: Channel, cfg: PosConfig, journal: PosJournal): Promise<{ deviceId: string; recovered: PosPayment[]; openIntents: number }> {
  const { card, deviceId } = await connect(channel);
  const certCose = await card.getCertificate();
  const cert = checkCert(certCose, cfg.trusted);
  if (typeof cert === "string") throw refused(`pos recover: ${cert}`);
  const key = { suite: suiteName(cert.suite)!, pub: hex(cert.publicKey), certRef: hex(certRefOf(suiteName(cert.suite)!, certCose)) };
  const openIntents = journal.openIntents(deviceId).length;
  return { deviceId, openIntents, ...(await recoverFrom(card, deviceId, key, certCose, cfg, journal)) };
}

async function recoverFrom(card: WalletCard, deviceId: string, key: { suite: SuiteName; pub: string; certRef: string }, certCose: Uint8Array, cfg: PosConfig, journal: PosJournal): Promise<{ recovered: PosPayment[] }> {
  const recovered: PosPayment[] = [];
  for (const cose of await card.readLog()) {
    if (peekDocType(cose) === DOC_TYPE_RECEIPT) continue;
    const r = checkVoucher(cose, (id) => (id === deviceId ? key : undefined));
    if (!r.ok || r.v.kind !== VOUCHER_KIND_POS || hex(r.v.payeeId) !== hex(cfg.merchant) || journal.has(r.hash)) continue;
    const v = r.v;
    const p: PosPayment = { approved: true, deviceId, counter: v.counter, amount: v.amount, currency: v.currency, time: v.time, voucher: cose, voucherHash: r.hash, cert: certCose, balanceAfter: v.balanceAfter };
    journal.store(p);
    recovered.push(p);
  }
  // every voucher of this device to this merchant still on the device is stored now; one
  // that left the log went to the bank with the device's sync (the bank settles it to us)
  journal.closeIntents(deviceId);
  return { recovered };
}

export interface TransferResult {
  from: string;
  to: string;
  voucher: Uint8Array;
  receipt: Receipt;
  payerBalance: number;
}

/**
 * Device-to-device payment (SPEC §5.10): the payee is checked FIRST (GET STATUS: active,
 * room under the cap, log space, currency, suite, sync deadline; the payer not revoked),
 * so a RECEIVE refusal after PAY is the exception, not the rule. The voucher is kept in the
 * ledger as soon as the payer signed it (never dropped), then RECEIVE; the payee's receipt
 * goes into the ledger too. If RECEIVE fails after PAY, the value has left the payer: the
 * voucher stays `awaiting` until the payee's next sync, then `unclaimed` and credited to the
 * payee's bank account at reconciliation. A retry would pay again, so the error says so.
 */
export async function transfer(from: Channel, to: Channel, amount: number, ledger: Ledger): Promise<TransferResult> {
  const trusted: TrustedKey[] = (await ledger.issuerKeys()).map(({ kid, suite, pub, status, revokedAt }) => ({ kid, suite, pub, status, compromisedAt: revokedAt ?? null }));
  const payee = await connect(to);
  const payer = await connect(from);
  if (payee.deviceId === payer.deviceId) throw refused("transfer: payer and payee are the same device");
  const pst = await payer.card.status();
  const cst = await payee.card.status();
  if (pst.currency !== cst.currency) throw refused("transfer: the two devices hold different currencies");
  // a device trusts issuer keys of its own suite only (PUT ISSUER KEY checks the curve)
  if (pst.suite !== cst.suite) throw refused(`transfer: payer is ${suiteName(pst.suite)}, payee ${suiteName(cst.suite)}: devices of different suites cannot verify each other`);
  const time = Math.max(now(), pst.latestTime, cst.latestTime);
  // the payee first: every reason RECEIVE could refuse for that GET STATUS shows
  if (cst.lifecycle !== LC_ACTIVE) throw refused(`transfer: the payee ${payee.deviceId} is not active (lifecycle ${cst.lifecycle}): nothing was paid`);
  if (cst.balance + amount > cst.cap) throw refused(`transfer: the payee's balance ${money(cst.balance)} + ${money(amount)} would exceed its cap ${money(cst.cap)}: nothing was paid`);
  if (cst.logCount >= cst.logCapacity) throw refused(`transfer: the payee's log is full: sync the payee first (\`wallet sync\`): nothing was paid`);
  if (cst.syncDeadline !== 0 && time > cst.syncDeadline) throw refused(`transfer: the payee is overdue for a sync: run \`wallet sync\` on the payee first: nothing was paid`);
  if ((await ledger.device(payer.deviceId))?.revoked) throw refused(`transfer: the payer ${payer.deviceId} is revoked: nothing was paid`);
  const payeeCertCose = await payee.card.getCertificate();
  const payeeCert = certAt(payeeCertCose, trusted, time);
  if (typeof payeeCert === "string") throw refused(`transfer: payee ${payeeCert}: nothing was paid`);
  const payerCert = await payer.card.getCertificate();
  const pc = certAt(payerCert, trusted, time);
  if (typeof pc === "string") throw refused(`transfer: payer ${pc}: nothing was paid`);
  if (pst.lifecycle !== LC_ACTIVE) throw refused(`transfer: the payer ${payer.deviceId} is not active (lifecycle ${pst.lifecycle}): nothing was paid`);
  if (amount > pst.balance) throw refused(`transfer: the payer's balance ${money(pst.balance)} is too low for ${money(amount)}: nothing was paid`);
  const challenge = await payee.card.getChallenge();
  let voucher: Uint8Array;
  try {
    voucher = await payer.card.pay({ amount, currency: pst.currency, payee: payee.info.deviceId, challenge, time, toDevice: true });
  } catch (e) {
    if (e instanceof ApduError) throw refused(`transfer: the payer refused: ${e.message.replace(/^apdu failed: /, "")} (${reasonName((await payer.card.status()).lastReason)}): nothing was paid`);
    throw deviceError(
      `transfer: the answer to PAY was lost (${(e as Error).message}); the payer may have paid. Do not retry: ` +
        "sync the payer (`wallet sync`), whose log holds the voucher; an unreceived transfer is credited to the payee's account",
    );
  }
  const v = checkVoucher(voucher, () => ({ suite: suiteName(pc.suite)!, pub: hex(pc.publicKey), certRef: hex(certRefOf(suiteName(pc.suite)!, payerCert)) }));
  if (!v.ok || v.v.kind !== VOUCHER_KIND_D2D) throw deviceError("transfer: payer voucher does not verify");
  // kept as soon as it exists: the payer's side of the evidence (its log holds it too)
  await importLog(ledger, payer.deviceId, [voucher], "transfer");
  let receiptCose: Uint8Array;
  try {
    receiptCose = await payee.card.receive(time, voucher, payerCert);
  } catch (e) {
    const what = e instanceof ApduError ? `the payee refused: ${e.message.replace(/^apdu failed: /, "")} (${reasonName((await payee.card.status()).lastReason)})` : `the answer to RECEIVE was lost (${(e as Error).message})`;
    throw refused(
      `transfer: ${what}. ${money(amount)} left the payer in voucher #${v.v.counter}, kept in the ledger: ` +
        "sync the payee (`wallet sync`); if it did not receive it, reconciliation credits it to the payee's bank account. Do not retry: a retry pays again",
    );
  }
  const s = decodeSigned<Receipt>(receiptCose, RECEIPT_SCHEMA);
  if (!verifySigned(s, suiteName(payeeCert.suite)!, payeeCert.publicKey)) throw deviceError("transfer: payee receipt does not verify");
  await importLog(ledger, payee.deviceId, [receiptCose], "transfer");
  return { from: payer.deviceId, to: payee.deviceId, voucher, receipt: s.doc, payerBalance: v.v.balanceAfter };
}

/** Imports documents read from a device as a device log (the same path as `wallet sync`). */
async function importLog(ledger: Ledger, deviceId: string, entries: Uint8Array[], what: string): Promise<ReconcileResult> {
  const log = JSON.stringify({ format: DEVICE_LOG_FORMAT, version: 1, deviceId, readAt: new Date().toISOString(), entries: entries.map(hex) });
  return reconcile(ledger, [parseInput(`${what}-${deviceId}-${Date.now()}.json`, log)]);
}

export interface SyncResult {
  deviceId: string;
  entries: number;
  upToCounter: number;
  revocationVersion: number;
  blockList: string[];
  newLimits: Limits | null;
  /** the device is revoked: its own id was in the block list and it locked itself */
  locked: boolean;
  /** earlier acks whose answers were lost, settled at this contact from GET STATUS */
  earlierAcks: { time: number; state: "applied" | "void" }[];
  reconcile: ReconcileResult;
  log: string; // the device-log file contents (JSON), for upload / archive
}

/**
 * What the device's own state says about the acks issued to it and not yet confirmed
 * (DESIGN §8): GET STATUS names the time of the last ack it applied, and ack times are
 * unique and increasing per device, so that ack is applied and older unconfirmed ones can
 * never be (the device refuses an ack older than its last). Newer ones stay issued.
 */
export async function settleAcks(ledger: Ledger, dev: DeviceRecord, st: CardStatus): Promise<SyncResult["earlierAcks"]> {
  const out: SyncResult["earlierAcks"] = [];
  await ledger.transaction(async () => {
    for (const a of await ledger.syncAcks(dev.deviceId)) {
      if (a.state !== "issued") continue;
      if (a.time === st.lastAckTime) {
        await ledger.setSyncAckState(dev.deviceId, a.time, "applied");
        if (a.limits) await ledger.putDevice({ ...(await registered(ledger, dev.deviceId)), limits: a.limits, pendingLimits: null });
        out.push({ time: a.time, state: "applied" });
      } else if (a.time < st.lastAckTime) {
        await ledger.setSyncAckState(dev.deviceId, a.time, "void");
        out.push({ time: a.time, state: "void" });
      }
    }
    if (out.length) await ledger.audit("sync-settled", { deviceId: dev.deviceId, acks: out });
  });
  return out;
}

/**
 * Sync (DESIGN §8, SPEC §5.10): settle earlier acks from GET STATUS, read the log and
 * reconcile it (the device is judged again even when its log is empty), then issue the
 * signed acknowledgement: recorded as issued before it is sent, applied when the device
 * answers. A revoked device gets its own id in the block list and locks itself.
 */
export async function sync(channel: Channel, ks: Keystore, ledger: Ledger): Promise<SyncResult> {
  const { card, deviceId } = await connect(channel);
  const dev = await registered(ledger, deviceId);
  const st: CardStatus = await card.status();
  const earlierAcks = await settleAcks(ledger, dev, st);
  const entries = await card.readLog();
  const log = JSON.stringify({ format: DEVICE_LOG_FORMAT, version: 1, deviceId, readAt: new Date().toISOString(), entries: entries.map(hex) });
  const rec = await reconcile(ledger, [parseInput(`sync-${deviceId}-${st.counter}-${st.lastAckTime}.json`, log)], { judge: [deviceId] });
  const acks = await ledger.syncAcks(deviceId);
  const time = Math.max(now(), st.latestTime, ...acks.map((a) => a.time + 1));
  const revocationVersion = await ledger.revocationVersion();
  const cur = await registered(ledger, deviceId);
  // a revoked device's own id comes first: the firmware locks itself when it sees it (SPEC §3.3 SYNC)
  const others = (await ledger.revokedIds()).filter((id) => id !== deviceId);
  const blockList = cur.revoked ? [deviceId, ...others.slice(-(DOC_BLOCK_LIST_MAX - 1))] : others.slice(-DOC_BLOCK_LIST_MAX);
  const limits = cur.pendingLimits ?? undefined;
  if (limits) {
    const why = limitsProblem(limits, st.balance);
    if (why) throw refused(`sync: the new limits cannot be delivered (${why}); change them with \`wallet devices limits\` first`);
  }
  // signed by the newest key the device holds; carries the active key when the device lacks it (SPEC §5.8)
  const slots = slotsFrom(cur, acks, compromisedKids(ks.keys()));
  const bad = compromisedSlot(ks, slots);
  if (bad !== null) {
    // a slot holds a key revoked as compromised: the active key replaces it over the secure
    // channel (the device's diversified SCP03 keys, which a stolen CA key does not give), SPEC §5.12
    const active = ks.trusted(cur.suite)[0];
    await openChannel(card, ks.deviceScpKeys(cur.suite, Buffer.from(deviceId, "hex")), suiteId(cur.suite), KVN_ISSUER);
    await card.putIssuerKey(bad, Buffer.from(active.kid, "hex"), Buffer.from(active.pub, "hex"));
    card.secure = null;
    await ledger.audit("issuer-key-replaced", { deviceId, slot: bad, compromised: slots[bad], kid: active.kid });
    slots[bad] = active.kid;
  }
  const newKey = keyUpdateFor(ks, cur, slots);
  const ack = issueSyncAck(signerForSlots(ks, cur, slots), {
    deviceId: Buffer.from(deviceId, "hex"), upToCounter: st.counter, time, revocationVersion, blockList: blockList.map((b) => Buffer.from(b, "hex")), limits, ...newKey,
  });
  await ledger.transaction(async () => {
    await ledger.addSyncAck({ deviceId, upToCounter: st.counter, time, revocationVersion, ack, limits: limits ?? null, state: "issued" });
    await ledger.audit("sync-issued", { deviceId, upToCounter: st.counter, time, revocationVersion, newLimits: limits ?? null, ...(newKey && { newIssuerKey: hex(newKey.newKid) }) });
  });
  try {
    await card.sync(ack);
  } catch (e) {
    if (answerLost(e))
      throw deviceError(
        `sync: the answer to SYNC was lost (${(e as Error).message}); the device may have applied the acknowledgement. ` +
          "Present the device and run `wallet sync` again: it asks the device which acknowledgement it holds",
      );
    await ledger.setSyncAckState(deviceId, time, "void");
    throw e;
  }
  await ledger.transaction(async () => {
    await ledger.setSyncAckState(deviceId, time, "applied");
    // older acks still marked issued can never be applied now (the device refuses an older time)
    for (const a of await ledger.syncAcks(deviceId))
      if (a.state === "issued" && a.time < time) (await ledger.setSyncAckState(deviceId, a.time, "void"), earlierAcks.push({ time: a.time, state: "void" }));
    if (limits) await ledger.putDevice({ ...(await registered(ledger, deviceId)), limits, pendingLimits: null });
    await ledger.audit("sync", { deviceId, entries: entries.length, upToCounter: st.counter, revocationVersion, newLimits: limits ?? null, locked: cur.revoked });
  });
  // the new ack starts a new window: judge again (vouchers are unchanged, but an undecided one may settle)
  const after = await reconcile(ledger, [], { judge: [deviceId] });
  rec.newFraudCases.push(...after.newFraudCases.slice(0, Math.max(0, REPORTED_CASES - rec.newFraudCases.length)));
  rec.newFraudCaseCount += after.newFraudCaseCount;
  return { deviceId, entries: entries.length, upToCounter: st.counter, revocationVersion, blockList, newLimits: limits ?? null, locked: cur.revoked, earlierAcks, reconcile: rec, log };
}
