// Reference model of the flash record store (firmware/assembly/store/store.ts, SPEC §8): a Map,
// plus the store's published admission rules (ids, sizes, capacity), so that any sequence of
// transactions can be checked result-for-result and state-for-state against the firmware.
import {
  NVM_ENTRY_HEADER_SIZE, NVM_ENTRY_TRAILER_SIZE, NVM_ERR_BAD_ID, NVM_ERR_FULL, NVM_ERR_TOO_BIG,
  NVM_ID_LIMIT, NVM_MAX_TX_RECORDS, NVM_MAX_VALUE, NVM_OK, NVM_TX_BUFFER_SIZE,
} from "../../protocol/portable/nvm.ts";
import type { TxOp } from "./store-wasm.ts";

/** Flash bytes one record takes: header, value padded to 4, CRC. */
export const entrySize = (len: number) => NVM_ENTRY_HEADER_SIZE + ((len + 3) & ~3) + NVM_ENTRY_TRAILER_SIZE;

export class StoreModel {
  readonly records = new Map<number, Uint8Array>();

  constructor(readonly capacity: number) {}

  liveBytes(records = this.records): number {
    let n = 0;
    for (const v of records.values()) n += entrySize(v.length);
    return n;
  }

  /** Applies a transaction all-or-nothing; returns what txCommit must return. */
  commit(ops: TxOp[]): number {
    let used = 0;
    for (let i = 0; i < ops.length; i++) {
      const { id, value } = ops[i];
      if (id <= 0 || id >= NVM_ID_LIMIT) return NVM_ERR_BAD_ID;
      const len = value?.length ?? 0;
      if (len > NVM_MAX_VALUE || i >= NVM_MAX_TX_RECORDS || used + len > NVM_TX_BUFFER_SIZE) return NVM_ERR_TOO_BIG;
      used += len;
    }
    const next = new Map(this.records);
    for (const { id, value } of ops) {
      if (value === undefined) next.delete(id);
      else next.set(id, value.slice());
    }
    if (ops.length > 0 && this.liveBytes(next) > this.capacity) return NVM_ERR_FULL;
    this.records.clear();
    for (const [k, v] of next) this.records.set(k, v);
    return NVM_OK;
  }

  clone(): StoreModel {
    const m = new StoreModel(this.capacity);
    for (const [k, v] of this.records) m.records.set(k, v);
    return m;
  }
}

/** Same records, same bytes. */
export function sameRecords(a: Map<number, Uint8Array>, b: Map<number, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length || w.some((x, i) => x !== v[i])) return false;
  }
  return true;
}
