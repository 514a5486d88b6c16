// Reference model of the wallet applet's value logic (SPEC §3.3, DESIGN.md §4): balance,
// counter, since-sync limits, latest time, load sequence, log fill, PIN tries, the
// session's PIN-verified flag and the ACTIVE / LOCKED lifecycle. Property tests run random command sequences on the real
// firmware and on this model and compare status words and state after every step.
// The checks are in the firmware's order, so the first failing one names the SW.
import * as L from "../../protocol/portable/limits.ts";
import * as SW from "../../protocol/portable/sw.ts";
import { NVM_LOG_CAPACITY } from "../../protocol/portable/nvm.ts";
import { PIN_TRIES } from "../../protocol/portable/apdu.ts";
import { LC_ACTIVE, LC_LOCKED } from "../../protocol/portable/lifecycle.ts";
import type { Limits } from "../../protocol/src/formats.ts";

export interface ModelState {
  balance: number;
  counter: number;
  sinceCount: number;
  sinceAmount: number;
  loadSeq: number;
  latest: number;
  logCount: number;
  syncAnchor: number;
  lastAck: number;
  pinTries: number;
  pinVerified: boolean;
  lifecycle: number;
}

export type ModelOp =
  | { t: "load"; amount: number; seq: number; time: number; expiry: number }
  | { t: "pay"; amount: number; time: number }
  | { t: "verify"; correct: boolean }
  | { t: "sync"; time: number; limits?: Limits }
  | { t: "powerCycle" }
  | { t: "lock" }
  | { t: "unlock" };

export interface Outcome {
  sw: number;
  reason?: number;
}

export class WalletModel {
  s: ModelState;
  constructor(public limits: Limits, time: number) {
    this.s = {
      balance: 0, counter: 0, sinceCount: 0, sinceAmount: 0, loadSeq: 0, latest: time, logCount: 0,
      syncAnchor: time, lastAck: 0, pinTries: PIN_TRIES, pinVerified: false, lifecycle: LC_ACTIVE,
    };
  }

  /** Past the sync deadline (sync anchor + interval; interval 0 = none). */
  pastSyncDeadline(t: number): boolean {
    return this.limits.syncInterval !== 0 && t > this.s.syncAnchor + this.limits.syncInterval;
  }

  step(op: ModelOp): Outcome {
    const s = this.s;
    const lim = this.limits;
    // the lifecycle table (lifecycle.ts): value commands and PIN need ACTIVE; SYNC also LOCKED
    const needsActive = op.t === "load" || op.t === "pay" || op.t === "verify" || op.t === "lock";
    if (needsActive && s.lifecycle !== LC_ACTIVE) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED };
    if (op.t === "unlock" && s.lifecycle !== LC_LOCKED) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED };
    switch (op.t) {
      case "lock":
        s.lifecycle = LC_LOCKED;
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      case "unlock":
        s.lifecycle = LC_ACTIVE;
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      case "load": {
        if (op.seq <= s.loadSeq) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_REPLAY };
        // the host's time, not the time seen: it must not push the latest time past the deadline
        if (this.pastSyncDeadline(op.time)) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_SYNC_OVERDUE };
        const t = Math.max(s.latest, op.time);
        if (op.expiry < t) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_EXPIRED };
        if (s.logCount >= NVM_LOG_CAPACITY) return { sw: SW.SW_NOT_ENOUGH_MEMORY, reason: L.REASON_LOG_FULL };
        if (s.balance + op.amount > lim.cap) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_CAP };
        s.balance += op.amount;
        s.loadSeq = op.seq;
        s.latest = t;
        s.logCount++;
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      }
      case "pay": {
        const t = Math.max(s.latest, op.time);
        if (op.amount === 0) return { sw: SW.SW_WRONG_DATA, reason: L.REASON_FORMAT };
        if (s.logCount >= NVM_LOG_CAPACITY) return { sw: SW.SW_NOT_ENOUGH_MEMORY, reason: L.REASON_LOG_FULL };
        if (op.amount > lim.maxPayment) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_MAX_PAYMENT };
        if (op.amount > s.balance) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_BALANCE };
        if (s.sinceCount >= lim.maxCountSinceSync) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_COUNT_SINCE_SYNC };
        if (s.sinceAmount + op.amount > lim.maxAmountSinceSync) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_AMOUNT_SINCE_SYNC };
        if (this.pastSyncDeadline(t)) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_SYNC_OVERDUE };
        if (op.amount > lim.noCvm && !s.pinVerified) return { sw: SW.SW_SECURITY_STATUS_NOT_SATISFIED, reason: L.REASON_HOLDER };
        s.balance -= op.amount;
        s.counter++;
        s.sinceCount++;
        s.sinceAmount += op.amount;
        s.latest = t;
        s.logCount++;
        s.pinVerified = false;
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      }
      case "verify": {
        s.pinVerified = false;
        if (s.pinTries === 0) return { sw: SW.SW_AUTH_METHOD_BLOCKED };
        s.pinTries--;
        if (!op.correct) return { sw: SW.SW_VERIFY_FAIL_BASE | s.pinTries };
        s.pinTries = PIN_TRIES;
        s.pinVerified = true;
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      }
      case "sync": {
        // the acknowledgement covers everything up to the current counter
        if (op.time <= s.lastAck) return { sw: SW.SW_CONDITIONS_NOT_SATISFIED, reason: L.REASON_REPLAY };
        // new limits the device cannot honour (as SET LIMITS): cap below the balance, max payment above the cap
        if (op.limits && (op.limits.cap < s.balance || op.limits.maxPayment > op.limits.cap)) return { sw: SW.SW_WRONG_DATA, reason: L.REASON_FORMAT };
        if (op.limits) this.limits = { ...op.limits };
        s.logCount = 0;
        s.sinceCount = 0;
        s.sinceAmount = 0;
        s.syncAnchor = op.time;
        s.lastAck = op.time;
        s.latest = Math.max(s.latest, op.time);
        return { sw: SW.SW_NO_ERROR, reason: L.REASON_NONE };
      }
      case "powerCycle":
        s.pinVerified = false;
        return { sw: SW.SW_NO_ERROR };
    }
  }
}
