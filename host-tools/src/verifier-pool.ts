// The verifier pool of reconciliation: worker threads (reconcile-worker.mjs) that check
// vouchers slice by slice (voucher-check.ts) while the main thread parses files and writes
// the ledger. Pure speed: the results are exactly those of `checkVoucher` on the main thread.
import { Worker } from "node:worker_threads";
import { EXIT_INTERNAL, WalletError } from "./errors.ts";
import { reconcileWorkerUrl } from "./worker-bundle.ts";
import { unpackChecks, type Checked, type DeviceKey, type PackedChecks, type VerifyMode } from "./voucher-check.ts";

type Check = Checked;

/** Batches at least this large are checked in worker threads (smaller ones are not worth the start-up). */
export const WORKER_THRESHOLD = 2000;

/** One slice of a batch, checked by one worker: the results of coses[start…]. */
export interface Chunk {
  start: number;
  results: Promise<Check[]>;
}

/** Slices a worker holds at once: it starts the next while the main thread is busy (writing, parsing) and has not answered yet. */
const WORKER_DEPTH = 3;

/**
 * Worker threads that check vouchers (and device certificates). `submit` queues a batch
 * as slices; each worker holds up to WORKER_DEPTH of them, so workers never wait for the
 * main thread between slices, while the main thread parses the next file or writes the
 * results of the slices already checked. Start it early: workers load their module
 * while the caller does other work. A worker answers its messages in order, so each
 * keeps a FIFO of the replies it owes.
 */
export class VerifierPool {
  private workers: Worker[];
  private owed = new Map<Worker, { resolve: (m: any) => void; reject: (e: unknown) => void }[]>();
  private queue: { coses: Uint8Array[]; resolve: (r: Check[]) => void; reject: (e: unknown) => void }[] = [];
  private keysSent?: Map<string, DeviceKey>;
  /** set when a worker died: every check owed or asked for from then on fails with it */
  private failure?: WalletError;
  private closing = false;
  /** `url`: the worker module (worker-bundle.ts chooses the built bundle or the tsx bootstrap) */
  constructor(n: number, private slice = 500, mode: VerifyMode = "batch", url: URL = reconcileWorkerUrl()) {
    this.workers = Array.from({ length: n }, () => {
      const w = new Worker(url);
      const owed: { resolve: (m: any) => void; reject: (e: unknown) => void }[] = [];
      this.owed.set(w, owed);
      w.on("message", (m) => {
        owed.shift()!.resolve(m);
        this.pump();
      });
      // a worker that dies (a module that does not load, an uncaught error, an exit) fails
      // what it owes and all that is queued or asked for later: nothing waits for it forever
      w.on("error", (e) => this.fail(`failed: ${e instanceof Error ? e.message : String(e)}`));
      w.on("exit", (code) => this.closing || this.fail(`stopped (exit code ${code})`));
      if (mode !== "batch") w.postMessage({ mode });
      return w;
    });
  }
  private fail(what: string): void {
    if (this.failure) return;
    this.failure = new WalletError(`reconcile: a verifier worker ${what}; nothing of the import was applied (run it again)`, EXIT_INTERNAL);
    for (const owed of this.owed.values()) for (const o of owed.splice(0)) o.reject(this.failure);
    for (const q of this.queue.splice(0)) q.reject(this.failure);
  }
  private ask<T>(w: Worker, msg: unknown, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.owed.get(w)!.push({ resolve, reject });
      w.postMessage(msg, transfer);
    });
  }
  setKeys(keys: Map<string, DeviceKey>): void {
    if (this.keysSent === keys) return;
    for (const w of this.workers) w.postMessage({ keys: [...keys.entries()] });
    this.keysSent = keys;
  }
  /** More device keys, for the slices submitted from now on (the keys sent before stay). */
  addKeys(entries: [string, DeviceKey][]): void {
    for (const w of this.workers) w.postMessage({ addKeys: entries });
  }
  /** The batch's checks, slice by slice in order. */
  submit(coses: Uint8Array[]): Chunk[] {
    const chunks: Chunk[] = [];
    for (let i = 0; i < coses.length; i += this.slice) {
      const part = coses.slice(i, i + this.slice);
      const results = new Promise<Check[]>((resolve, reject) => (this.failure ? reject(this.failure) : this.queue.push({ coses: part, resolve, reject })));
      results.catch(() => {}); // a caller stopped by an earlier slice's failure need not await the rest
      chunks.push({ start: i, results });
    }
    this.pump();
    return chunks;
  }
  private pump(): void {
    while (this.queue.length) {
      // the worker owing the fewest answers, if it has room
      let w: Worker | undefined;
      for (const x of this.workers) if (this.owed.get(x)!.length < WORKER_DEPTH && (!w || this.owed.get(x)!.length < this.owed.get(w)!.length)) w = x;
      if (!w) return;
      const s = this.queue.shift()!;
      // one buffer per slice, transferred (not cloned): cheaper than 500 small arrays
      const ends = new Uint32Array(s.coses.length);
      let n = 0;
      for (let i = 0; i < s.coses.length; i++) ends[i] = n += s.coses[i].length;
      const buf = new Uint8Array(n);
      for (let i = 0, o = 0; i < s.coses.length; o = ends[i++]) buf.set(s.coses[i], o);
      this.ask<{ packed: PackedChecks }>(w, { buf, ends }, [buf.buffer, ends.buffer]).then((m) => s.resolve(unpackChecks(m.packed)), s.reject);
    }
  }
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
