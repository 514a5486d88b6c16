// Test-only module (build/store-test.wasm): the record store (store.ts) with raw exports and
// one static I/O buffer, loaded by test/support/store-wasm.ts over a NorFlash. AssemblyScript.
export {
  storeMount, storeStatus, storeGet, storeFreeBytes, storeCapacity, storeLiveBytes,
  storeHeadSeq, storeTailSeq, txBegin, txPut, txDelete, txCommit, STORE_MAX_VALUE, STORE_GET_CORRUPT,
} from "./store";

const BUF_SIZE: i32 = 4096;
const BUF: usize = memory.data(BUF_SIZE);

export function buf(): usize {
  return BUF;
}
export function bufSize(): i32 {
  return BUF_SIZE;
}
