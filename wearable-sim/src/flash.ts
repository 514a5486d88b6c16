// NOR flash model for the simulator (host side, not portable). Backs the `flash_*` imports of
// firmware.wasm (SPEC §2) and lets tests cut power in the middle of any program or erase.
//
// Semantics, as on real NOR parts:
// - erase(page) sets every byte of the page to 0xFF and increments `wear[page]`;
// - program(offset, data) ANDs `data` into the image (bits can only go 1 → 0) and must stay
//   within one page. A 1 in `data` where the image already holds 0 is a firmware bug (the
//   firmware believes it wrote a 1 that cannot be there): the AND is still applied, exactly as
//   the hardware would, then `violations` is incremented and NorViolation is thrown (unless
//   `strict: false`, which only counts). Re-programming the same value over a partly
//   programmed area is legal (it only clears bits), and stores use it to finish torn writes.
//
// Power cuts: `armPowerCut(k, mode)` tears the k-th program/erase op from now and throws
// PowerCut from it; every later op (and read) also throws PowerCut until `powerOn()`/`disarm()`,
// because a dead device executes nothing. The torn op leaves, by mode:
// - "none":   nothing of the op applied;
// - "full":   the whole op applied (the cut came just after it, before the firmware learned it);
// - "random": for a program, with equal odds either (a) a torn word: the words before a random
//             word index fully programmed, a random subset of that word's bit-clears applied,
//             nothing after (WORD_SIZE = 4 bytes, the program granularity of typical NOR
//             controllers), or (b) a random subset of all of the op's bit-clears; for an erase,
//             every byte of the page gets a random subset of its bits set to 1.
// File-backed images (`path`): the file is created filled with 0xFF (or loaded if its size
// matches) and every op writes the bytes it changed through to the file (so a killed process
// keeps its image); `flush()` additionally fsyncs. Wear counters live in memory only.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";

export type TearMode = "none" | "full" | "random";

/** Thrown by program/erase/read when an armed power cut fires or the device is off. */
export class PowerCut extends Error {
  constructor(message = "power cut") {
    super(`flash: ${message}`);
    this.name = "PowerCut";
  }
}

/** A program op tried to turn a 0 bit into 1: a firmware bug. */
export class NorViolation extends Error {
  constructor(message: string) {
    super(`flash: NOR violation: ${message}`);
    this.name = "NorViolation";
  }
}

export interface FlashOptions {
  pageSize: number;
  pageCount: number;
  /** file-backed image, created 0xFF */
  path?: string;
  /** uniform in [0, 1); used only for "random" tears. Default: a seeded xorshift (reproducible). */
  rng?: () => number;
  /** throw NorViolation on a 0 → 1 attempt (default true); false only counts `violations` */
  strict?: boolean;
}

/** Program granularity assumed for torn writes ("torn word"). */
export const WORD_SIZE = 4;

/** Small deterministic PRNG (xorshift32) so that failing tear tests replay exactly. */
export function seededRng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

export class NorFlash {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly bytes: Uint8Array;
  /** erase count per page (torn erases that changed anything count too) */
  readonly wear: Uint32Array;
  /** program + erase ops since creation (or since the caller reset it), torn ones included */
  opCount = 0;
  violations = 0;
  rng: () => number;
  strict: boolean;
  private fd: number | undefined;
  private cutAt = 0; // op number (in opCount terms) that is torn; 0 = not armed
  private cutMode: TearMode = "none";
  private dead = false;

  constructor(opts: FlashOptions) {
    const { pageSize, pageCount } = opts;
    if (!Number.isInteger(pageSize) || pageSize < WORD_SIZE || pageSize % WORD_SIZE !== 0)
      throw new RangeError(`flash: bad pageSize ${pageSize}`);
    if (!Number.isInteger(pageCount) || pageCount < 1) throw new RangeError(`flash: bad pageCount ${pageCount}`);
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    this.bytes = new Uint8Array(pageSize * pageCount).fill(0xff);
    this.wear = new Uint32Array(pageCount);
    this.rng = opts.rng ?? seededRng(0x5eed);
    this.strict = opts.strict ?? true;
    if (opts.path !== undefined) {
      const fresh = !existsSync(opts.path);
      this.fd = openSync(opts.path, fresh ? "w+" : "r+");
      if (!fresh && fstatSync(this.fd).size === this.bytes.length) readSync(this.fd, this.bytes, 0, this.bytes.length, 0);
      else writeSync(this.fd, this.bytes, 0, this.bytes.length, 0);
    }
  }

  /** true between a fired power cut and the next powerOn()/disarm() */
  get isOff(): boolean {
    return this.dead;
  }

  read(offset: number, len: number): Uint8Array {
    if (this.dead) throw new PowerCut("device is off");
    this.checkRange(offset, len);
    return this.bytes.slice(offset, offset + len);
  }

  program(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    if (data.length > 0 && Math.floor(offset / this.pageSize) !== Math.floor((offset + data.length - 1) / this.pageSize))
      throw new RangeError(`flash: program crosses a page boundary at ${offset}+${data.length}`);
    const mode = this.beginOp();
    if (mode === undefined) {
      this.checkNor(offset, data);
      this.andIn(offset, data);
      return;
    }
    if (mode === "full") this.andIn(offset, data);
    else if (mode === "random") this.andIn(offset, this.tornData(data));
    throw new PowerCut(`torn program at ${offset}+${data.length} (${mode})`);
  }

  erase(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pageCount) throw new RangeError(`flash: bad page ${page}`);
    const mode = this.beginOp();
    const start = page * this.pageSize;
    if (mode === undefined || mode === "full") {
      this.bytes.fill(0xff, start, start + this.pageSize);
      this.wear[page]++;
      this.persist(start, this.pageSize);
      if (mode === undefined) return;
    } else if (mode === "random") {
      for (let i = start; i < start + this.pageSize; i++) this.bytes[i] |= Math.floor(this.rng() * 256);
      this.wear[page]++;
      this.persist(start, this.pageSize);
    }
    throw new PowerCut(`torn erase of page ${page} (${mode})`);
  }

  /** The op numbered `afterOps` (1-based, counted from now) is torn per `mode` and throws PowerCut. */
  armPowerCut(afterOps: number, mode: TearMode): void {
    if (!Number.isInteger(afterOps) || afterOps < 1) throw new RangeError(`flash: bad afterOps ${afterOps}`);
    this.cutAt = this.opCount + afterOps;
    this.cutMode = mode;
  }

  disarm(): void {
    this.cutAt = 0;
    this.dead = false;
  }

  /** Power back on: clears a fired or pending cut. */
  powerOn(): void {
    this.disarm();
  }

  clone(): NorFlash {
    const c = new NorFlash({ pageSize: this.pageSize, pageCount: this.pageCount, rng: this.rng, strict: this.strict });
    c.bytes.set(this.bytes);
    c.wear.set(this.wear);
    return c;
  }

  /** File-backed images already write every op through; this also fsyncs. No-op in memory. */
  flush(): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, this.bytes, 0, this.bytes.length, 0);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Test helper: flip one bit regardless of NOR rules (retention failure, attacker). */
  flipBit(offset: number, bit: number): void {
    this.checkRange(offset, 1);
    this.bytes[offset] ^= 1 << (bit & 7);
    this.persist(offset, 1);
  }

  // Counts the op and returns undefined for a normal op, or the tear mode when this op is torn.
  private beginOp(): TearMode | undefined {
    if (this.dead) throw new PowerCut("device is off");
    this.opCount++;
    if (this.cutAt !== 0 && this.opCount >= this.cutAt) {
      this.dead = true;
      this.cutAt = 0;
      return this.cutMode;
    }
    return undefined;
  }

  private checkRange(offset: number, len: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0 || offset + len > this.bytes.length)
      throw new RangeError(`flash: out of range ${offset}+${len}`);
  }

  private checkNor(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      if ((data[i] & ~this.bytes[offset + i] & 0xff) !== 0) {
        this.andIn(offset, data);
        this.violations++;
        if (this.strict) throw new NorViolation(`0 to 1 at ${offset + i}`);
        return;
      }
    }
  }

  private andIn(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.bytes[offset + i] &= data[i];
    this.persist(offset, data.length);
  }

  // What a torn program leaves: 1 bits where nothing gets cleared.
  private tornData(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length).fill(0xff);
    const subset = (i: number) => (out[i] = data[i] | Math.floor(this.rng() * 256));
    if (this.rng() < 0.5) {
      const words = Math.ceil(data.length / WORD_SIZE);
      const torn = Math.floor(this.rng() * (words + 1)); // words + 1 choices: 0..words
      const tornStart = torn * WORD_SIZE;
      out.set(data.subarray(0, Math.min(tornStart, data.length)));
      for (let i = tornStart; i < Math.min(tornStart + WORD_SIZE, data.length); i++) subset(i);
    } else {
      for (let i = 0; i < data.length; i++) subset(i);
    }
    return out;
  }

  private persist(offset: number, len: number): void {
    if (this.fd !== undefined) writeSync(this.fd, this.bytes, offset, len, offset);
  }
}
