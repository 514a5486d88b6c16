// Loader for build/store-test.wasm (firmware/assembly/store/test-store.ts): binds the SPEC §2
// flash imports to a NorFlash so tests drive the real AssemblyScript record store. A PowerCut
// thrown by the flash aborts the wasm call; `powerOn()` then makes a fresh instance (RAM lost,
// flash kept) and mounts, as the device does at reset.
import { readFileSync } from "node:fs";
import { NorFlash } from "../../wearable-sim/src/flash.ts";
import { NVM_PAGE_COUNT, NVM_PAGE_SIZE } from "../../protocol/portable/nvm.ts";
import { partialHw, wasmImports, type FirmwareImports } from "../../protocol/src/hw.ts";

const WASM = new URL("../../build/store-test.wasm", import.meta.url);
let compiled: WebAssembly.Module | undefined;

interface Exports {
  memory: WebAssembly.Memory;
  storeMount(): number;
  storeStatus(): number;
  storeGet(id: number, dst: number, max: number): number;
  storeFreeBytes(): number;
  storeCapacity(): number;
  storeLiveBytes(): number;
  storeHeadSeq(): number;
  storeTailSeq(): number;
  txBegin(): void;
  txPut(id: number, src: number, len: number): void;
  txDelete(id: number): void;
  txCommit(): number;
  buf(): number;
  bufSize(): number;
  STORE_MAX_VALUE: WebAssembly.Global;
  STORE_GET_CORRUPT: WebAssembly.Global;
}

/** One transaction op: a put (value) or a delete (value undefined). */
export interface TxOp {
  id: number;
  value?: Uint8Array;
}

export function newFlash(pageCount = NVM_PAGE_COUNT, pageSize = NVM_PAGE_SIZE, rng?: () => number): NorFlash {
  return new NorFlash({ pageSize, pageCount, rng });
}

export class StoreWasm {
  private ex!: Exports;

  constructor(readonly flash: NorFlash) {
    this.instantiate();
  }

  private instantiate(): void {
    compiled ??= new WebAssembly.Module(readFileSync(WASM));
    const flash = this.flash;
    const view = (ptr: number, len: number) => new Uint8Array(this.ex.memory.buffer, ptr >>> 0, len >>> 0);
    // the store uses the flash of the hardware interface only
    const imports: FirmwareImports = {
      hw: partialHw("store-wasm", {
        flash_page_size: () => flash.pageSize,
        flash_page_count: () => flash.pageCount,
        flash_read: (off: number, dst: number, len: number) => view(dst, len).set(flash.read(off >>> 0, len >>> 0)),
        flash_program: (off: number, src: number, len: number) => flash.program(off >>> 0, view(src, len).slice()),
        flash_erase: (page: number) => flash.erase(page >>> 0),
      }),
      env: {
        abort: () => {
          throw new Error("store-wasm: abort");
        },
      },
    };
    const inst = new WebAssembly.Instance(compiled, wasmImports(imports));
    this.ex = inst.exports as unknown as Exports;
  }

  /** Fresh instance (RAM lost) + storeMount(); returns the mount status. */
  powerOn(): number {
    this.flash.powerOn();
    this.instantiate();
    return this.mount();
  }

  mount(): number {
    return this.ex.storeMount();
  }

  get maxValue(): number {
    return this.ex.STORE_MAX_VALUE.value as number;
  }

  get(id: number): Uint8Array | undefined {
    const ptr = this.ex.buf();
    const n = this.ex.storeGet(id, ptr, this.ex.bufSize());
    return n < 0 ? undefined : view(this.ex.memory, ptr, n).slice();
  }

  /** Runs txBegin / txPut|txDelete… / txCommit; returns txCommit's result. */
  commit(ops: TxOp[]): number {
    this.ex.txBegin();
    for (const op of ops) {
      if (op.value === undefined) this.ex.txDelete(op.id);
      else {
        view(this.ex.memory, this.ex.buf(), op.value.length).set(op.value);
        this.ex.txPut(op.id, this.ex.buf(), op.value.length);
      }
    }
    return this.ex.txCommit();
  }

  /** Every record with id in [first, last] (absent ones skipped). */
  dump(first = 1, last = 0x1ff): Map<number, Uint8Array> {
    const m = new Map<number, Uint8Array>();
    for (let id = first; id <= last; id++) {
      const v = this.get(id);
      if (v) m.set(id, v);
    }
    return m;
  }

  get raw(): Exports {
    return this.ex;
  }
  freeBytes(): number {
    return this.ex.storeFreeBytes();
  }
  capacity(): number {
    return this.ex.storeCapacity();
  }
  liveBytes(): number {
    return this.ex.storeLiveBytes();
  }
}

function view(mem: WebAssembly.Memory, ptr: number, len: number): Uint8Array {
  return new Uint8Array(mem.buffer, ptr, len);
}
