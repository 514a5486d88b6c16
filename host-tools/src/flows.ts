// The device flows of the `wallet` commands (issue 6 "Commands"), as library functions
// over a Channel so the CLI, the demo and the tests run the same code:
// personalize, load, POS charge (offline verification, outbox write before "approved"),
// device-to-device transfer, and sync (read log → reconcile → signed acknowledgement).
import { randomBytes, randomInt } from "node:crypto";
import * as A from "../../protocol/portable/apdu.ts";
import { LC_ACTIVE, LC_MANUFACTURED, LC_PERSONALIZING } from "../../protocol/portable/lifecycle.ts";
import { DOC_BLOCK_LIST_MAX, VOUCHER_KIND_D2D, VOUCHER_KIND_POS } from "../../protocol/portable/cbor-keys.ts";
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import { CERT_SCHEMA, RECEIPT_SCHEMA, decodeSigned, type DeviceCert, type Limits, type Receipt } from "../../protocol/src/formats.ts";
import { diversifyKeys, GP_DEFAULT_KEYS, putKeyData, Scp03Session, type ScpKeys } from "../../protocol/src/scp03.ts";
import * as L from "../../protocol/portable/limits.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import { WalletCard, type CardStatus } from "./card.ts";
import type { Channel } from "./channels/channel.ts";
import { certRefOf, checkCert, FORM_IDS, hex, issueCert, issueLoad, issueSyncAck, suiteId, suiteName, verifySigned, type Signer, type TrustedKey } from "./docs.ts";
import { deviceError, refused } from "./errors.ts";
import { money } from "./format.ts";
import type { Keystore } from "./keystore.ts";
import type { DeviceRecord, FormFactor, Ledger } from "./ledger/ledger.ts";
import { DEVICE_LOG_FORMAT, parseInput, reconcile, type ReconcileResult } from "./reconcile.ts";
import type { SuiteName } from "./sig.ts";
import { checkVoucher } from "./voucher-check.ts";

const now = () => Math.floor(Date.now() / 1000);
const SCP_LEVEL = 0x33; // C-MAC + C-DEC + R-MAC + R-ENC: keys and PINs travel encrypted
const CERT_VALIDITY_S = 4 * 365 * 86400;
const LOAD_VALIDITY_S = 86400;

export const LIMIT_ORDER: (keyof Limits)[] = ["cap", "maxPayment", "noCvm", "maxCountSinceSync", "maxAmountSinceSync", "syncInterval"];

export function signer(ks: Keystore, suite: SuiteName): Signer {
  const { kid, key } = ks.signingKey(suite);
  return { suite, kid, key };
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
      const k = ks.trustedKeyById(kid);
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
    card.secure = await Scp03Session.open((a) => card.channel.transmit(a), keys, { suite, level: SCP_LEVEL, keyVersion });
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
  hooks: { beforeFinalize?: (s: { deviceId: string; pin: string; puk: string }) => void | Promise<void> } = {},
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
  const master = ks.scpMasterKeys(suite);
  const devKeys = diversifyKeys(master, Buffer.from(deviceId, "hex"), sid);
  if (info.lifecycle === LC_MANUFACTURED) {
    // blank: the session runs on AES with the GP default keys until identity is set
    await openChannel(card, GP_DEFAULT_KEYS, SUITE_P256_SHA256_AES128, A.SCP_DEFAULT_KVN);
    await card.putKey(0, putKeyData(KVN_ISSUER, devKeys, GP_DEFAULT_KEYS.dek, SUITE_P256_SHA256_AES128));
    steps.push("put-key");
  } else {
    if (info.suite && info.suite !== sid) throw refused(`personalize: device ${deviceId} was started as suite ${suiteName(info.suite)}, not ${suite}`);
    await openChannel(card, devKeys, info.suite || SUITE_P256_SHA256_AES128, KVN_ISSUER);
    steps.push("resume");
  }
  const token = known?.token ?? (await ledger.tokenFor(req.account));
  await card.setIdentity(sid, FORM_IDS[req.formFactor], req.currency, Buffer.from(token, "hex"));
  await card.setLimits(LIMIT_ORDER.map((k) => req.limits[k]));
  const trusted = ks.trusted(suite);
  for (let slot = 0; slot < Math.min(2, trusted.length); slot++) await card.putIssuerKey(slot, Buffer.from(trusted[slot].kid, "hex"), Buffer.from(trusted[slot].pub, "hex"));
  steps.push("identity", "limits", "issuer-keys");
  const status = await card.status();
  const pub = status.flags & A.STATUS_FLAG_HAS_KEY ? await card.getPublicKey() : await card.generateKey();
  const t = now();
  const cert = issueCert(signer(ks, suite), {
    deviceId: Buffer.from(deviceId, "hex"), token: Buffer.from(token, "hex"), suite: sid, publicKey: pub, formFactor: FORM_IDS[req.formFactor],
    currency: req.currency, limits: req.limits, notBefore: t - 86400, notAfter: t + CERT_VALIDITY_S,
  });
  await card.putCertificate(cert);
  steps.push("key", "certificate");
  const pin = req.pin ?? String(randomInt(0, 1e6)).padStart(6, "0");
  const puk = req.puk ?? String(randomInt(0, 1e8)).padStart(8, "0");
  await card.setPin(pin);
  await card.setPuk(puk);
  // the registry entry and the PIN mailer are written BEFORE the device goes ACTIVE: if
  // FINALIZE's answer is lost, the next run finds both and only confirms
  const rec: DeviceRecord = {
    deviceId, serial: deviceId, formFactor: req.formFactor, suite, token, alias: req.alias ?? known?.alias ?? null, currency: req.currency, limits: req.limits, pendingLimits: null,
    pub: hex(pub), cert, certRef: hex(certRefOf(suite, cert)), state: "personalizing", personalizedAt: new Date().toISOString(), lastSync: null,
    lastLoadSeq: known?.lastLoadSeq ?? 0, revoked: false, revokedAt: null,
  };
  await ledger.transaction(async () => {
    await ledger.putIssuerKeys(ks.keys().map(({ kid, suite: s, pub: p, status: st }) => ({ kid, suite: s, pub: p, status: st })));
    await ledger.putDevice(rec);
  });
  await hooks.beforeFinalize?.({ deviceId, pin, puk });
  await card.finalize(t);
  steps.push("pin", "puk", "finalize");
  card.secure = null;
  await ledger.transaction(async () => {
    await ledger.putDevice({ ...rec, state: "active" });
    await ledger.audit("personalize", { deviceId, suite, formFactor: req.formFactor, token, resumed: info.lifecycle === LC_PERSONALIZING, issuerKey: hex(ks.signingKey(suite).kid) });
  });
  return { deviceId, token, suite, formFactor: req.formFactor, pin, puk, resumed: info.lifecycle === LC_PERSONALIZING, alreadyDone: false, steps };
}

async function registered(ledger: Ledger, deviceId: string): Promise<DeviceRecord> {
  const d = await ledger.device(deviceId);
  if (!d) throw refused(`device ${deviceId} is not in the ledger (personalized elsewhere?)`);
  return d;
}

/** LOAD: an issuer-signed authorization, refused here when it would exceed the cap. */
export async function load(channel: Channel, ks: Keystore, ledger: Ledger, amount: number, expectDevice?: string): Promise<{ deviceId: string; seq: number; balance: number; receipt: Receipt }> {
  const { card, deviceId } = await connect(channel);
  const dev = await registered(ledger, deviceId);
  if (expectDevice && dev.deviceId !== expectDevice) {
    const wanted = await ledger.device(expectDevice);
    throw refused(`load: the device presented is ${deviceName(dev)}, not ${wanted ? deviceName(wanted) : expectDevice}`);
  }
  if (dev.revoked) throw refused(`load: device ${deviceName(dev)} is revoked`);
  const st = await card.status();
  if (st.balance + amount > st.cap) throw refused(`load: balance ${money(st.balance)} + ${money(amount)} would exceed the cap ${money(st.cap)}`);
  const seq = Math.max(dev.lastLoadSeq, st.loadSeq) + 1;
  const t = Math.max(now(), st.latestTime);
  const auth = issueLoad(signerFor(ks, dev), { deviceId: Buffer.from(deviceId, "hex"), seq, amount, currency: dev.currency, expiry: t + LOAD_VALIDITY_S });
  const receiptCose = await card.load(t, auth);
  const receipt = deviceSigned<Receipt>(receiptCose, dev, "receipt");
  await ledger.transaction(async () => {
    await ledger.addLoad({ deviceId, seq, amount, currency: dev.currency, expiry: t + LOAD_VALIDITY_S, auth, receipt: receiptCose });
    await ledger.audit("load", { deviceId, seq, amount, balanceAfter: receipt.balanceAfter });
  });
  return { deviceId, seq, balance: receipt.balanceAfter, receipt };
}

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

/**
 * A POS payment (issue 6 "pos charge"): SELECT, GET STATUS, GET CERTIFICATE, [VERIFY],
 * PAY with a fresh challenge and the terminal's time, then offline verification: the
 * certificate chain to a trusted issuer key, revocation list, the voucher's canonical
 * encoding, signature, and that it answers THIS request. `store` runs before the caller
 * may say "approved".
 */
export async function posCharge(channel: Channel, cfg: PosConfig, amount: number, opts: { pin?: string; store: (p: PosPayment) => void | Promise<void>; time?: number }): Promise<PosPayment> {
  const { card, deviceId } = await connect(channel);
  if (cfg.revoked.has(deviceId)) throw refused(`declined: device ${deviceId} is on the revocation list`);
  const st = await card.status();
  if (st.lifecycle !== LC_ACTIVE) throw refused(`declined: device ${deviceId} is not active (lifecycle ${st.lifecycle})`);
  const certCose = await card.getCertificate();
  const cert = checkCert(certCose, cfg.trusted);
  if (typeof cert === "string") throw refused(`declined: ${cert}`);
  if (hex(cert.deviceId) !== deviceId) throw refused("declined: certificate names another device");
  const suite = suiteName(cert.suite)!;
  if (cert.currency !== cfg.currency) throw refused(`declined: device currency ${cert.currency}, terminal ${cfg.currency}`);
  if (amount > cert.limits.maxPayment) throw refused(`declined: ${money(amount)} is above the device's per-payment maximum ${money(cert.limits.maxPayment)}`);
  if (amount > st.balance) throw refused(`declined: insufficient offline balance (${money(st.balance)})`);
  if (opts.pin && amount > cert.limits.noCvm) await card.verifyPin(opts.pin);
  const challenge = new Uint8Array(randomBytes(16));
  const time = opts.time ?? now();
  const voucher = await card.pay({ amount, currency: cfg.currency, payee: cfg.merchant, challenge, time }).catch(async (e) => {
    throw e instanceof ApduError ? refused(`declined by the device: ${e.message.replace(/^apdu failed: /, "")} (${reasonName((await card.status()).lastReason)})`) : e;
  });
  const r = checkVoucher(voucher, (id) => (id === deviceId ? { suite, pub: hex(cert.publicKey), certRef: hex(certRefOf(suite, certCose)) } : undefined));
  if (!r.ok) throw deviceError(`declined: voucher does not verify: ${r.reason}`);
  const v = r.v;
  if (v.amount !== amount || v.currency !== cfg.currency || hex(v.payeeId) !== hex(cfg.merchant) || hex(v.challenge) !== hex(challenge) || v.kind !== VOUCHER_KIND_POS)
    throw deviceError("declined: voucher does not answer this payment request");
  const p: PosPayment = { approved: true, deviceId, counter: v.counter, amount, currency: v.currency, time: v.time, voucher, voucherHash: r.hash, cert: certCose, balanceAfter: v.balanceAfter };
  await opts.store(p);
  return p;
}

/** Device-to-device payment: GET CHALLENGE on the payee, PAY on the payer, RECEIVE on the payee. */
export async function transfer(from: Channel, to: Channel, amount: number, trusted: TrustedKey[]): Promise<{ from: string; to: string; voucher: Uint8Array; receipt: Receipt; payerBalance: number }> {
  const payee = await connect(to);
  const payer = await connect(from);
  if (payee.deviceId === payer.deviceId) throw refused("transfer: payer and payee are the same device");
  const pst = await payer.card.status();
  const cst = await payee.card.status();
  if (pst.currency !== cst.currency) throw refused("transfer: the two devices hold different currencies");
  // a device trusts issuer keys of its own suite only (PUT ISSUER KEY checks the curve)
  if (pst.suite !== cst.suite) throw refused(`transfer: payer is ${suiteName(pst.suite)}, payee ${suiteName(cst.suite)}: devices of different suites cannot verify each other`);
  const payerCert = await payer.card.getCertificate();
  const pc = checkCert(payerCert, trusted);
  if (typeof pc === "string") throw refused(`transfer: payer ${pc}`);
  const challenge = await payee.card.getChallenge();
  const time = Math.max(now(), pst.latestTime, cst.latestTime);
  const voucher = await payer.card.pay({ amount, currency: pst.currency, payee: payee.info.deviceId, challenge, time, toDevice: true });
  const receiptCose = await payee.card.receive(time, voucher, payerCert);
  const payeeCert = checkCert(await payee.card.getCertificate(), trusted);
  if (typeof payeeCert === "string") throw refused(`transfer: payee ${payeeCert}`);
  const s = decodeSigned<Receipt>(receiptCose, RECEIPT_SCHEMA);
  if (!verifySigned(s, suiteName(payeeCert.suite)!, payeeCert.publicKey)) throw deviceError("transfer: payee receipt does not verify");
  const v = checkVoucher(voucher, () => ({ suite: suiteName(pc.suite)!, pub: hex(pc.publicKey), certRef: hex(certRefOf(suiteName(pc.suite)!, payerCert)) }));
  if (!v.ok || v.v.kind !== VOUCHER_KIND_D2D) throw deviceError("transfer: payer voucher does not verify");
  return { from: payer.deviceId, to: payee.deviceId, voucher, receipt: s.doc, payerBalance: v.v.balanceAfter };
}

export interface SyncResult {
  deviceId: string;
  entries: number;
  upToCounter: number;
  revocationVersion: number;
  blockList: string[];
  newLimits: Limits | null;
  reconcile: ReconcileResult;
  log: string; // the device-log file contents (JSON), for upload / archive
}

/** Sync: read the log, reconcile it, then write the signed acknowledgement back. */
export async function sync(channel: Channel, ks: Keystore, ledger: Ledger): Promise<SyncResult> {
  const { card, deviceId } = await connect(channel);
  const dev = await registered(ledger, deviceId);
  const st: CardStatus = await card.status();
  const entries = await card.readLog();
  const log = JSON.stringify({ format: DEVICE_LOG_FORMAT, version: 1, deviceId, readAt: new Date().toISOString(), entries: entries.map(hex) });
  const rec = await reconcile(ledger, [parseInput(`sync-${deviceId}-${st.counter}.json`, log)]);
  const acks = await ledger.syncAcks(deviceId);
  const time = Math.max(now(), st.latestTime, ...acks.map((a) => a.time + 1));
  const revocationVersion = await ledger.revocationVersion();
  const blockList = (await ledger.revokedIds()).filter((id) => id !== deviceId).slice(-DOC_BLOCK_LIST_MAX);
  const limits = dev.pendingLimits ?? undefined;
  if (limits && limits.cap < st.balance) throw refused(`sync: new cap ${limits.cap} is below the balance ${st.balance}; change the limits first`);
  const ack = issueSyncAck(signerFor(ks, dev), {
    deviceId: Buffer.from(deviceId, "hex"), upToCounter: st.counter, time, revocationVersion, blockList: blockList.map((b) => Buffer.from(b, "hex")), limits,
  });
  await card.sync(ack);
  await ledger.transaction(async () => {
    await ledger.addSyncAck({ deviceId, upToCounter: st.counter, time, revocationVersion, ack });
    if (limits) await ledger.putDevice({ ...(await registered(ledger, deviceId)), limits, pendingLimits: null });
    await ledger.audit("sync", { deviceId, entries: entries.length, upToCounter: st.counter, revocationVersion, newLimits: limits ?? null });
  });
  return { deviceId, entries: entries.length, upToCounter: st.counter, revocationVersion, blockList, newLimits: limits ?? null, reconcile: rec, log };
}

