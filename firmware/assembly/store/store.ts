// Tearing-safe record store on NOR flash (protocol/SPEC.md §8). AssemblyScript only.
//
// A log-structured store in the spirit of OpenSK's persistent_store: records (id, value) are
// appended as CRC-protected entries to a circular log of pages; the newest committed entry of
// an id wins. A transaction is a run of entries closed by a COMMIT entry naming how many
// entries it commits; entries not followed by their commit are ignored at mount, so a power
// cut at any flash op leaves the whole transaction or none of it. Compaction (GC) copies the
// live entries of the oldest page to the tail, commits them, then writes a GC mark ("pages
// with seq < G are dead") and only then erases the page: every step is itself a transaction
// or idempotent. A torn entry at the tail is sealed by the page header's end marker at the
// next mount; any invalid entry anywhere else is reported as corruption, never guessed at.
//
// Static buffers only, no allocation, never throws. Geometry comes from the hw imports.
import {
  flash_erase, flash_page_count, flash_page_size, flash_program, flash_read,
} from "../hw";
import { crc32 } from "./crc32";
import {
  NVM_ENTRY_HEADER_SIZE, NVM_ENTRY_TRAILER_SIZE, NVM_ERR_BAD_ID, NVM_ERR_CORRUPT, NVM_ERR_FULL,
  NVM_ERR_GEOMETRY, NVM_ERR_MISSING_PAGE, NVM_ERR_NO_TX, NVM_ERR_NOT_MOUNTED, NVM_ERR_TOO_BIG,
  NVM_ERR_TX_LOG, NVM_ID_LIMIT, NVM_KIND_COMMIT, NVM_KIND_DELETE, NVM_KIND_GC, NVM_KIND_PUT,
  NVM_MAX_TX_RECORDS, NVM_MAX_VALUE, NVM_OK, NVM_PAGE_HEADER_SIZE, NVM_PAGE_MAGIC,
  NVM_RESERVED_PAGES, NVM_TX_BUFFER_SIZE,
} from "../../../protocol/portable/nvm";

export const STORE_MAX_VALUE: i32 = NVM_MAX_VALUE;

// Limits of this implementation (static buffers); larger geometries get NVM_ERR_GEOMETRY.
const MAX_PAGE_SIZE: u32 = 4096;
const MAX_PAGES: u32 = 256;
const HDR: u32 = NVM_PAGE_HEADER_SIZE;
const EHDR: u32 = NVM_ENTRY_HEADER_SIZE;
const MAX_ENTRY: u32 = EHDR + <u32>NVM_MAX_VALUE + NVM_ENTRY_TRAILER_SIZE; // 524: the torn window
const SMALL_ENTRY: u32 = EHDR + NVM_ENTRY_TRAILER_SIZE; // COMMIT / DELETE
const GC_ENTRY: u32 = SMALL_ENTRY + 4;
const GC_CHUNK: i32 = 32; // copies per commit during compaction (< PENDING_CAP)
const PENDING_CAP: i32 = 128; // mount: uncommitted entries remembered (a commit names ≤ this many)
const NONE: u32 = 0xffffffff;
const END_OFF: u32 = 16; // page header: end marker word

// ---- static memory ----
const PAGE: usize = memory.data(<i32>MAX_PAGE_SIZE); // one page image (mount scan, GC source)
const SCRATCH: usize = memory.data(<i32>MAX_ENTRY); // one entry being built
const SMALLBUF: usize = memory.data(64);
const GCVAL: usize = memory.data(4);
const PAGE_SEQ: usize = memory.data(<i32>MAX_PAGES * 4); // seq of a valid page header, 0 = none
const PAGE_WEAR: usize = memory.data(<i32>MAX_PAGES * 4); // erase count from the header
const INDEX_OFF: usize = memory.data(<i32>NVM_ID_LIMIT * 4); // flash offset of the live entry
const INDEX_LEN: usize = memory.data(<i32>NVM_ID_LIMIT * 2); // its value length
const PENDING: usize = memory.data(PENDING_CAP * 4); // ring of uncommitted entry offsets
const COPY_LIST: usize = memory.data(<i32>(MAX_PAGE_SIZE / SMALL_ENTRY) * 4);
const TX_BUF: usize = memory.data(NVM_TX_BUFFER_SIZE);
const TX_ID: usize = memory.data(NVM_MAX_TX_RECORDS * 2);
const TX_LEN: usize = memory.data(NVM_MAX_TX_RECORDS * 4); // -1 = delete
const TX_AT: usize = memory.data(NVM_MAX_TX_RECORDS * 4); // offset in TX_BUF

// ---- state ----
let pageSize: u32 = 0;
let pageCount: u32 = 0;
let mounted = false;
let headSeq: u32 = 1; // G: pages with seq < G are dead
let tailSeq: u32 = 0; // T: 0 = empty store
let tailPage: i32 = -1;
let writePos: u32 = 0; // next entry offset within the tail page
let tailClosed = true; // no appends to the tail page (none yet, full, or sealed after a tear)
let liveBytes: i32 = 0;
let pendingTotal: i32 = 0;
let sawCommit = false;
let mountStatus: i32 = NVM_ERR_NOT_MOUNTED;
let txOpen = false;
let txErr: i32 = 0;
let txCount: i32 = 0;
let txUsed: i32 = 0;

// ---- small helpers ----
@inline function pad4(n: u32): u32 {
  return (n + 3) & ~3;
}
@inline function entrySize(len: u32): u32 {
  return EHDR + pad4(len) + NVM_ENTRY_TRAILER_SIZE;
}
@inline function seqOf(p: u32): u32 {
  return load<u32>(PAGE_SEQ + (<usize>p << 2));
}
@inline function setSeq(p: u32, s: u32): void {
  store<u32>(PAGE_SEQ + (<usize>p << 2), s);
}
@inline function idxOff(id: u32): u32 {
  return load<u32>(INDEX_OFF + (<usize>id << 2));
}
@inline function idxLen(id: u32): u32 {
  return <u32>load<u16>(INDEX_LEN + (<usize>id << 1));
}
@inline function isLive(p: u32): bool {
  const s = seqOf(p);
  return s != 0 && s >= headSeq && s <= tailSeq;
}
function allFF(ptr: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i += 4) if (load<u32>(ptr + <usize>i) != NONE) return false;
  return true;
}
function livePages(): u32 {
  return tailSeq == 0 ? 0 : tailSeq - headSeq + 1;
}
function pageData(): u32 {
  return pageSize - HDR;
}

function setIndex(id: u32, off: u32, len: u32): void {
  const old = idxOff(id);
  if (old != NONE) liveBytes -= <i32>entrySize(idxLen(id));
  store<u32>(INDEX_OFF + (<usize>id << 2), off);
  store<u16>(INDEX_LEN + (<usize>id << 1), <u16>len);
  if (off != NONE) liveBytes += <i32>entrySize(len);
}

// Validates the entry at byte `p` of a page image at `base`; returns its size, 0 if the
// header is erased (all 0xFF), or -1 if it is not a valid entry.
function entryAt(base: usize, p: u32): i32 {
  if (p + SMALL_ENTRY > pageSize) return 0;
  const w0 = load<u32>(base + p);
  const w1 = load<u32>(base + p + 4);
  if (w0 == NONE && w1 == NONE) return 0;
  const id = w0 & 0xffff;
  const len = w0 >>> 16;
  const kind = <u8>(w1 & 0xff);
  if ((w1 >>> 8) != 0xffffff || len > <u32>NVM_MAX_VALUE) return -1;
  if (kind == NVM_KIND_PUT || kind == NVM_KIND_DELETE) {
    if (id == 0 || id >= <u32>NVM_ID_LIMIT) return -1;
    if (kind == NVM_KIND_DELETE && len != 0) return -1;
  } else if (kind == NVM_KIND_COMMIT) {
    if (id == 0 || len != 0) return -1;
  } else if (kind == NVM_KIND_GC) {
    if (len != 4) return -1;
  } else return -1;
  const size = entrySize(len);
  if (p + size > pageSize) return -1;
  const body = size - NVM_ENTRY_TRAILER_SIZE;
  if (crc32(base + p, <i32>body) != load<u32>(base + p + body)) return -1;
  return <i32>size;
}

// Offset (within the page) where the run of valid entries of the page image at PAGE ends.
function scanEnd(): u32 {
  let p = HDR;
  let n = entryAt(PAGE, p);
  while (n > 0) {
    p += <u32>n;
    n = entryAt(PAGE, p);
  }
  return p;
}

// Page end marker: (end, ~end) as two u16, so that a torn write of it never reads as valid.
function endMarker(): u32 {
  const v = load<u32>(PAGE + END_OFF);
  if (v == NONE || (v & 0xffff) != (~v >>> 16)) return NONE;
  return v & 0xffff;
}

function readHeader(p: u32): void {
  flash_read(p * pageSize, SMALLBUF, HDR);
  let seq: u32 = 0;
  let wear: u32 = 0;
  if (load<u32>(SMALLBUF) == NVM_PAGE_MAGIC && crc32(SMALLBUF, 12) == load<u32>(SMALLBUF + 12)) {
    seq = load<u32>(SMALLBUF + 4);
    wear = load<u32>(SMALLBUF + 8);
    if (seq == NONE) seq = 0;
  }
  setSeq(p, seq);
  store<u32>(PAGE_WEAR + (<usize>p << 2), wear);
}

function findPage(seq: u32): i32 {
  let found: i32 = -1;
  for (let p: u32 = 0; p < pageCount; p++) {
    if (seqOf(p) != seq) continue;
    if (found >= 0) return -2; // two pages claim the same seq
    found = <i32>p;
  }
  return found;
}

// ---- mount ----

function pendingPush(off: u32): void {
  store<u32>(PENDING + (<usize>(pendingTotal % PENDING_CAP) << 2), off);
  pendingTotal++;
}

// COMMIT(n): the last n uncommitted entries take effect, in log order. Fewer than n are
// known only when the transaction began in a page already compacted away (first commit of
// the scan); anything else means entries are missing from the log.
function applyCommit(n: i32): i32 {
  if (n > PENDING_CAP) return NVM_ERR_TX_LOG;
  if (n > pendingTotal) {
    if (sawCommit) return NVM_ERR_TX_LOG;
    n = pendingTotal < PENDING_CAP ? pendingTotal : PENDING_CAP;
  }
  for (let i = pendingTotal - n; i < pendingTotal; i++) {
    const off = load<u32>(PENDING + (<usize>(i % PENDING_CAP) << 2));
    flash_read(off, SMALLBUF, EHDR);
    const w0 = load<u32>(SMALLBUF);
    const kind = load<u8>(SMALLBUF + 4);
    if (kind == NVM_KIND_PUT) setIndex(w0 & 0xffff, off, w0 >>> 16);
    else if (kind == NVM_KIND_DELETE) setIndex(w0 & 0xffff, NONE, 0);
  }
  pendingTotal = 0;
  sawCommit = true;
  return NVM_OK;
}

// A torn tail: the program op that was cut wrote one entry at most, so nothing but 0xFF may
// follow the torn window, and no valid entry may start inside it (that would be a corrupted
// entry followed by newer ones, not a tear).
function tornTailPlausible(end: u32): bool {
  let limit = end + MAX_ENTRY;
  if (limit > pageSize) limit = pageSize;
  if (!allFF(PAGE + limit, pageSize - limit)) return false;
  for (let q = end + 4; q + SMALL_ENTRY <= limit; q += 4) if (entryAt(PAGE, q) > 0) return false;
  return true;
}

function scanLivePage(p: u32, isTail: bool): i32 {
  const base = p * pageSize;
  flash_read(base, PAGE, pageSize);
  let pos = HDR;
  for (;;) {
    const n = entryAt(PAGE, pos);
    if (n <= 0) break;
    const w0 = load<u32>(PAGE + pos);
    const kind = load<u8>(PAGE + pos + 4);
    if (kind == NVM_KIND_COMMIT) {
      const r = applyCommit(<i32>(w0 & 0xffff));
      if (r != NVM_OK) return r;
    } else pendingPush(base + pos);
    pos += <u32>n;
  }
  const clean = allFF(PAGE + pos, pageSize - pos);
  const marker = endMarker();
  if (marker != NONE) {
    if (marker != pos) return NVM_ERR_CORRUPT;
  } else if (!clean) {
    if (!isTail || !tornTailPlausible(pos)) return NVM_ERR_CORRUPT;
    // seal the torn tail: programming the same marker again completes a torn marker write
    store<u32>(SMALLBUF, pos | (~pos << 16));
    flash_program(base + END_OFF, SMALLBUF, 4);
  }
  if (isTail) {
    tailClosed = marker != NONE || !clean;
    writePos = pos;
  }
  return NVM_OK;
}

function mountInner(): i32 {
  pageSize = flash_page_size();
  pageCount = flash_page_count();
  if (pageSize % 4 != 0 || pageSize > MAX_PAGE_SIZE || pageSize < HDR + 2 * MAX_ENTRY) return NVM_ERR_GEOMETRY;
  if (pageCount > MAX_PAGES || pageCount < NVM_RESERVED_PAGES + 2) return NVM_ERR_GEOMETRY;
  for (let id: u32 = 0; id < <u32>NVM_ID_LIMIT; id++) store<u32>(INDEX_OFF + (<usize>id << 2), NONE);
  liveBytes = 0;
  pendingTotal = 0;
  sawCommit = false;
  tailPage = -1;
  tailClosed = true;
  writePos = 0;
  // pass 1: page headers, newest seq, and the newest GC mark (valid anywhere: a mark is
  // written only after every copy it vouches for was committed)
  headSeq = 1;
  tailSeq = 0;
  for (let p: u32 = 0; p < pageCount; p++) {
    readHeader(p);
    const s = seqOf(p);
    flash_read(p * pageSize, PAGE, pageSize);
    if (s == 0) {
      // No valid header: blank, a torn header write (nothing after it), or a torn erase
      // (random bits everywhere). Intact entries under a bad header are a damaged live page.
      if (entryAt(PAGE, HDR) > 0) return NVM_ERR_CORRUPT;
      continue;
    }
    if (s > tailSeq) tailSeq = s;
    for (let pos = HDR; ; ) {
      const n = entryAt(PAGE, pos);
      if (n <= 0) break;
      if (load<u8>(PAGE + pos + 4) == NVM_KIND_GC) {
        const g = load<u32>(PAGE + pos + EHDR);
        if (g > headSeq) headSeq = g;
      }
      pos += <u32>n;
    }
  }
  if (tailSeq == 0) return NVM_OK; // blank (or wholly erased) flash: an empty store
  if (headSeq > tailSeq) return NVM_ERR_MISSING_PAGE;
  // pass 2: the live pages G..T in order, each exactly once
  for (let s = headSeq; s <= tailSeq; s++) {
    const p = findPage(s);
    if (p == -1) return NVM_ERR_MISSING_PAGE;
    if (p < 0) return NVM_ERR_CORRUPT;
    const r = scanLivePage(<u32>p, s == tailSeq);
    if (r != NVM_OK) return r;
    if (s == tailSeq) tailPage = p;
  }
  pendingTotal = 0; // uncommitted entries at the end: a torn transaction, rolled back
  return NVM_OK;
}

/** Power-on: scan flash, roll back a torn transaction, seal a torn tail. 0 or NVM_ERR_*. */
export function storeMount(): i32 {
  mounted = false;
  txOpen = false;
  mountStatus = mountInner();
  mounted = mountStatus == NVM_OK;
  return mountStatus;
}

/** Result of the last storeMount (NVM_ERR_NOT_MOUNTED before the first). */
export function storeStatus(): i32 {
  return mountStatus;
}

// ---- reads ----

/** storeGet: the store is not usable (not mounted, mount failed, or an entry rotted since). */
export const STORE_GET_CORRUPT: i32 = -2;

/**
 * Copies up to `max` bytes of record `id` to `dst`; returns its full length, -1 if absent, or
 * STORE_GET_CORRUPT. An entry that fails its CRC when read unmounts the store: later reads
 * return STORE_GET_CORRUPT and txCommit returns NVM_ERR_CORRUPT (storeStatus() says so too).
 */
export function storeGet(id: u16, dst: usize, max: i32): i32 {
  if (!mounted) return STORE_GET_CORRUPT;
  if (id == 0 || id >= NVM_ID_LIMIT) return -1;
  const off = idxOff(id);
  if (off == NONE) return -1;
  const len = idxLen(id);
  const size = entrySize(len);
  // re-check the entry as read now: bits may rot after mount
  flash_read(off, SCRATCH, size);
  const body = size - NVM_ENTRY_TRAILER_SIZE;
  if (load<u32>(SCRATCH) != (<u32>id | (len << 16)) || crc32(SCRATCH, <i32>body) != load<u32>(SCRATCH + body)) {
    mounted = false;
    mountStatus = NVM_ERR_CORRUPT;
    return STORE_GET_CORRUPT;
  }
  const n = <i32>len < max ? <i32>len : max;
  if (n > 0) memory.copy(dst, SCRATCH + EHDR, <usize>n);
  return <i32>len;
}

/** Bytes of record values (with entry overhead) that can still be committed. */
export function storeFreeBytes(): i32 {
  if (!mounted) return 0;
  const free = storeCapacity() - liveBytes;
  return free > 0 ? free : 0;
}

/** Capacity in entry bytes: the pages outside the GC reserve, less a worst-case page-end gap. */
export function storeCapacity(): i32 {
  return <i32>((pageCount - NVM_RESERVED_PAGES) * (pageData() - MAX_ENTRY));
}

/** Entry bytes of live records (diagnostics, tests). */
export function storeLiveBytes(): i32 {
  return liveBytes;
}

/** Seq numbers of the live range (diagnostics, tests). */
export function storeHeadSeq(): u32 {
  return headSeq;
}
export function storeTailSeq(): u32 {
  return tailSeq;
}

// ---- writes ----

function freePages(): u32 {
  return pageCount - livePages();
}

// Opens the next page after the tail (cyclic order spreads wear): erase if needed, then the
// header in one program op. A torn header leaves a page no scan accepts; nothing is lost.
function openPage(): bool {
  if (freePages() == 0) return false;
  let p: u32 = tailPage < 0 ? 0 : (<u32>tailPage + 1) % pageCount;
  while (isLive(p)) p = (p + 1) % pageCount;
  let dirty = false;
  for (let o: u32 = 0; o < pageSize && !dirty; o += 64) {
    flash_read(p * pageSize + o, SMALLBUF, 64);
    dirty = !allFF(SMALLBUF, 64);
  }
  const wear = load<u32>(PAGE_WEAR + (<usize>p << 2)) + (dirty ? 1 : 0);
  if (dirty) flash_erase(p);
  const seq = tailSeq + 1;
  store<u32>(SMALLBUF, NVM_PAGE_MAGIC);
  store<u32>(SMALLBUF + 4, seq);
  store<u32>(SMALLBUF + 8, wear);
  store<u32>(SMALLBUF + 12, crc32(SMALLBUF, 12));
  flash_program(p * pageSize, SMALLBUF, 16);
  setSeq(p, seq);
  store<u32>(PAGE_WEAR + (<usize>p << 2), wear);
  if (tailSeq == 0) headSeq = seq;
  tailSeq = seq;
  tailPage = <i32>p;
  writePos = HDR;
  tailClosed = false;
  return true;
}

// Appends one entry (already formatted at `src`, `size` bytes) in ONE program op, so a cut
// tears at most this entry. Returns its flash offset, or NONE when no page could be opened.
function appendRaw(src: usize, size: u32): u32 {
  if (tailPage < 0 || tailClosed || writePos + size > pageSize) {
    if (!openPage()) return NONE;
  }
  const off = <u32>tailPage * pageSize + writePos;
  flash_program(off, src, size);
  writePos += size;
  return off;
}

function append(kind: u8, id: u32, src: usize, len: u32): u32 {
  store<u32>(SCRATCH, id | (len << 16));
  store<u32>(SCRATCH + 4, 0xffffff00 | <u32>kind);
  if (len > 0) memory.copy(SCRATCH + EHDR, src, len);
  const size = entrySize(len);
  for (let i = EHDR + len; i < size - NVM_ENTRY_TRAILER_SIZE; i++) store<u8>(SCRATCH + i, 0xff);
  store<u32>(SCRATCH + size - NVM_ENTRY_TRAILER_SIZE, crc32(SCRATCH, <i32>(size - NVM_ENTRY_TRAILER_SIZE)));
  return appendRaw(SCRATCH, size);
}

// Fresh pages needed to append entries of the given sizes after the current tail (exact
// placement simulation: an entry that does not fit goes to a new page).
let simPos: u32 = 0;
let simPages: u32 = 0;
function simStart(): void {
  simPos = tailPage < 0 || tailClosed ? pageSize : writePos;
  simPages = 0;
}
function simAdd(size: u32): void {
  if (simPos + size > pageSize) {
    simPages++;
    simPos = HDR;
  }
  simPos += size;
}

// Compacts the head page: copy its live entries to the tail (committed in chunks), then a
// GC mark (its own transaction), then erase. Returns false when it cannot run safely.
function compactHead(): bool {
  if (livePages() < 2) return false; // never compact the tail
  const hp = findPage(headSeq);
  if (hp < 0) return false;
  const base = <u32>hp * pageSize;
  flash_read(base, PAGE, pageSize);
  const end = endMarker() != NONE ? endMarker() : scanEnd();
  let nCopy: i32 = 0;
  simStart();
  for (let pos = HDR; pos < end; ) {
    const n = <u32>entryAt(PAGE, pos);
    const w0 = load<u32>(PAGE + pos);
    if (load<u8>(PAGE + pos + 4) == NVM_KIND_PUT && idxOff(w0 & 0xffff) == base + pos) {
      store<u32>(COPY_LIST + (<usize>nCopy << 2), pos);
      nCopy++;
      simAdd(n);
      if (nCopy % GC_CHUNK == 0) simAdd(SMALL_ENTRY);
    }
    pos += n;
  }
  if (nCopy % GC_CHUNK != 0) simAdd(SMALL_ENTRY);
  simAdd(GC_ENTRY);
  simAdd(SMALL_ENTRY);
  if (simPages > freePages()) return false;
  let chunk: u32 = 0;
  for (let i = 0; i < nCopy; i++) {
    const pos = load<u32>(COPY_LIST + (<usize>i << 2));
    const w0 = load<u32>(PAGE + pos);
    const len = w0 >>> 16;
    const off = appendRaw(PAGE + pos, entrySize(len));
    setIndex(w0 & 0xffff, off, len);
    chunk++;
    if (chunk == <u32>GC_CHUNK || i == nCopy - 1) {
      append(NVM_KIND_COMMIT, chunk, 0, 0);
      chunk = 0;
    }
  }
  store<u32>(GCVAL, headSeq + 1);
  append(NVM_KIND_GC, 0, GCVAL, 4);
  append(NVM_KIND_COMMIT, 1, 0, 0);
  headSeq++;
  setSeq(<u32>hp, 0);
  store<u32>(PAGE_WEAR + (<usize>hp << 2), load<u32>(PAGE_WEAR + (<usize>hp << 2)) + 1);
  flash_erase(<u32>hp);
  return true;
}

/** Starts a transaction (discarding an unfinished one). */
export function txBegin(): void {
  txOpen = true;
  txErr = 0;
  txCount = 0;
  txUsed = 0;
}

function txAdd(id: u16, src: usize, len: i32): void {
  if (!txOpen || txErr != 0) return;
  if (id == 0 || id >= NVM_ID_LIMIT) {
    txErr = NVM_ERR_BAD_ID;
    return;
  }
  const n = len < 0 ? 0 : len;
  if (len > NVM_MAX_VALUE || txCount >= NVM_MAX_TX_RECORDS || txUsed + n > NVM_TX_BUFFER_SIZE) {
    txErr = NVM_ERR_TOO_BIG;
    return;
  }
  store<u16>(TX_ID + (<usize>txCount << 1), id);
  store<i32>(TX_LEN + (<usize>txCount << 2), len);
  store<i32>(TX_AT + (<usize>txCount << 2), txUsed);
  if (n > 0) memory.copy(TX_BUF + <usize>txUsed, src, <usize>n);
  txUsed += n;
  txCount++;
}

/** Adds (or replaces) record `id` with `len` bytes from `src`; copied now, written at commit. */
export function txPut(id: u16, src: usize, len: i32): void {
  if (len < 0) len = NVM_MAX_VALUE + 1; // rejected as too big
  txAdd(id, src, len);
}

/** Removes record `id` at commit. */
export function txDelete(id: u16): void {
  txAdd(id, 0, -1);
}

function txRecSize(i: i32): u32 {
  const len = load<i32>(TX_LEN + (<usize>i << 2));
  return len < 0 ? SMALL_ENTRY : entrySize(<u32>len);
}

// Live bytes after the transaction (the last write of an id in the tx is the one that counts).
function liveAfterTx(): i32 {
  let live = liveBytes;
  for (let i = 0; i < txCount; i++) {
    const id = <u32>load<u16>(TX_ID + (<usize>i << 1));
    let last = true;
    for (let j = i + 1; j < txCount; j++) if (<u32>load<u16>(TX_ID + (<usize>j << 1)) == id) last = false;
    if (!last) continue;
    if (idxOff(id) != NONE) live -= <i32>entrySize(idxLen(id));
    const len = load<i32>(TX_LEN + (<usize>i << 2));
    if (len >= 0) live += <i32>entrySize(<u32>len);
  }
  return live;
}

// Fresh pages the transaction needs, plus a reserve of 2 for the next compaction.
function txFits(): bool {
  simStart();
  for (let i = 0; i < txCount; i++) simAdd(txRecSize(i));
  simAdd(SMALL_ENTRY);
  return simPages + 2 <= freePages();
}

/** Writes the transaction atomically. 0, or NVM_ERR_* with nothing changed. */
export function txCommit(): i32 {
  if (!mounted) return mountStatus; // NVM_ERR_NOT_MOUNTED, or why the store is refused
  if (!txOpen) return NVM_ERR_NO_TX;
  txOpen = false;
  if (txErr != 0) return txErr;
  if (txCount == 0) return NVM_OK;
  if (liveAfterTx() > storeCapacity()) return NVM_ERR_FULL;
  for (let tries: u32 = 0; !txFits(); tries++) {
    if (tries > 2 * pageCount || !compactHead()) return NVM_ERR_FULL;
  }
  for (let i = 0; i < txCount; i++) {
    const len = load<i32>(TX_LEN + (<usize>i << 2));
    const id = <u32>load<u16>(TX_ID + (<usize>i << 1));
    if (len < 0) append(NVM_KIND_DELETE, id, 0, 0);
    else store<u32>(TX_AT + (<usize>i << 2), append(NVM_KIND_PUT, id, TX_BUF + <usize>load<i32>(TX_AT + (<usize>i << 2)), <u32>len));
  }
  append(NVM_KIND_COMMIT, <u32>txCount, 0, 0);
  // committed: now the index may follow (TX_AT holds the entry offsets)
  for (let i = 0; i < txCount; i++) {
    const len = load<i32>(TX_LEN + (<usize>i << 2));
    const id = <u32>load<u16>(TX_ID + (<usize>i << 1));
    if (len < 0) setIndex(id, NONE, 0);
    else setIndex(id, load<u32>(TX_AT + (<usize>i << 2)), <u32>len);
  }
  return NVM_OK;
}
