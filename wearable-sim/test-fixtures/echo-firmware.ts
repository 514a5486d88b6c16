// @ts-nocheck -- AssemblyScript, compiled by asc only (scripts/build-firmware.mjs -> build/echo-firmware.wasm).
// Test-only firmware for wearable-sim: implements the hardware interface of
// firmware.wasm (protocol/SPEC.md §2) with a tiny echo applet so that the Device
// host can be tested before (and independently of) the real wallet applet.
//
// Commands (CLA 0x80, not part of the wallet protocol; test fixture only):
//   INS 0x01 ECHO      data -> data
//   INS 0x02 RANDOM    P1 = n -> n TRNG bytes
//   INS 0x03 CLOCK     -> clock_now() big-endian u32
//   INS 0x04 CONFIRM   data = amount (u32 BE), P1 = kind -> confirm() result as one byte (i8)
//   INS 0x05 COUNTER   -> counter_increment() big-endian u32
//   INS 0x06 STORE     data = value (u32 BE): committed to flash, old-or-new under power cuts
//   INS 0x07 LOAD      -> value (u32 BE) and sequence (u32 BE) of the committed record
//   INS 0x08 ABORT     calls abort() (the simulator must see a trap)
//   INS 0x09 VIOLATE   programs 0x00 then 0xFF into the last page (a NOR violation: 0 -> 1)
//   INS 0x0A GEOMETRY  -> flash_page_size(), flash_page_count() (u32 BE each)
//   INS 0x0B COUNTER?  -> counter_read() big-endian u32
// Storage: two pages (0 and 1) each hold at most one record
//   [seq u32][value u32][~seq u32][commit u8 = 0x00]
// written with the commit byte last, so a torn write leaves the record invalid and the
// other page (the old state) wins. reset() picks the valid record with the highest seq.
import { PROTOCOL_REVISION } from "../../protocol/portable/revision";

@external("hw", "flash_page_size") declare function flash_page_size(): u32;
@external("hw", "flash_page_count") declare function flash_page_count(): u32;
@external("hw", "flash_read") declare function flash_read(offset: u32, dst: usize, len: u32): void;
@external("hw", "flash_program") declare function flash_program(offset: u32, src: usize, len: u32): void;
@external("hw", "flash_erase") declare function flash_erase(page: u32): void;
@external("hw", "random") declare function random(dst: usize, len: u32): void;
@external("hw", "counter_read") declare function counter_read(): u32;
@external("hw", "counter_increment") declare function counter_increment(): u32;
@external("hw", "clock_now") declare function clock_now(): u32;
@external("hw", "confirm") declare function confirm(kind: u32, amount: u32, timeout_ms: u32): i32;

const IO_CAPACITY: u32 = 1024;
const IO: usize = memory.data(1024);
const REC: usize = memory.data(16);
const REC_LEN: u32 = 13;

let curSeq: u32 = 0;
let curValue: u32 = 0;
let curPage: i32 = -1;

function be32(p: usize): u32 {
  return (<u32>load<u8>(p) << 24) | (<u32>load<u8>(p + 1) << 16) | (<u32>load<u8>(p + 2) << 8) | <u32>load<u8>(p + 3);
}
function putBe32(p: usize, v: u32): void {
  store<u8>(p, <u8>(v >> 24));
  store<u8>(p + 1, <u8>(v >> 16));
  store<u8>(p + 2, <u8>(v >> 8));
  store<u8>(p + 3, <u8>v);
}

// reads the record of one page into REC; true when it is committed and consistent
function readRecord(page: u32): bool {
  flash_read(page * flash_page_size(), REC, REC_LEN);
  return load<u8>(REC + 12) == 0 && be32(REC + 8) == ~be32(REC);
}

export function reset(): u32 {
  curSeq = 0;
  curValue = 0;
  curPage = -1;
  for (let page: u32 = 0; page < 2; page++) {
    if (readRecord(page) && be32(REC) >= curSeq) {
      curSeq = be32(REC);
      curValue = be32(REC + 4);
      curPage = <i32>page;
    }
  }
  return 0;
}

export function io_buffer(): usize {
  return IO;
}

export function io_capacity(): u32 {
  return IO_CAPACITY;
}

export function protocol_revision(): u32 {
  return PROTOCOL_REVISION;
}

function sw(at: u32, word: u32): u32 {
  store<u8>(IO + at, <u8>(word >> 8));
  store<u8>(IO + at + 1, <u8>word);
  return at + 2;
}

function store_value(value: u32): void {
  const page: u32 = curPage == 0 ? 1 : 0;
  const seq = curSeq + 1;
  flash_erase(page);
  putBe32(REC, seq);
  putBe32(REC + 4, value);
  putBe32(REC + 8, ~seq);
  flash_program(page * flash_page_size(), REC, 12);
  store<u8>(REC + 12, 0);
  flash_program(page * flash_page_size() + 12, REC + 12, 1);
  curSeq = seq;
  curValue = value;
  curPage = <i32>page;
}

export function apdu(len: u32): u32 {
  if (len < 4) return sw(0, 0x6700);
  if (load<u8>(IO) != 0x80) return sw(0, 0x6e00);
  const ins = load<u8>(IO + 1);
  const p1 = load<u8>(IO + 2);
  const lc: u32 = len > 5 ? <u32>load<u8>(IO + 4) : 0;
  if (len > 5 && len < 5 + lc) return sw(0, 0x6700);
  const data = IO + 5;
  switch (ins) {
    case 0x01: {
      memory.copy(IO, data, lc);
      return sw(lc, 0x9000);
    }
    case 0x02: {
      random(IO, p1);
      return sw(p1, 0x9000);
    }
    case 0x03: {
      putBe32(IO, clock_now());
      return sw(4, 0x9000);
    }
    case 0x04: {
      if (lc != 4) return sw(0, 0x6700);
      const r = confirm(p1, be32(data), 30000);
      store<u8>(IO, <u8>r);
      return sw(1, 0x9000);
    }
    case 0x05: {
      putBe32(IO, counter_increment());
      return sw(4, 0x9000);
    }
    case 0x06: {
      if (lc != 4) return sw(0, 0x6700);
      store_value(be32(data));
      return sw(0, 0x9000);
    }
    case 0x07: {
      putBe32(IO, curValue);
      putBe32(IO + 4, curSeq);
      return sw(8, 0x9000);
    }
    case 0x08: {
      abort("echo: abort requested", "echo-firmware.ts", 1, 1);
      return sw(0, 0x6f00);
    }
    case 0x09: {
      const last = (flash_page_count() - 1) * flash_page_size();
      store<u8>(REC, 0);
      flash_program(last, REC, 1);
      store<u8>(REC, 0xff);
      flash_program(last, REC, 1);
      return sw(0, 0x9000);
    }
    case 0x0b: {
      putBe32(IO, counter_read());
      return sw(4, 0x9000);
    }
    case 0x0a: {
      putBe32(IO, flash_page_size());
      putBe32(IO + 4, flash_page_count());
      return sw(8, 0x9000);
    }
  }
  return sw(0, 0x6d00);
}
