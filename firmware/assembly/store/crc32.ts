// CRC-32 (IEEE 802.3 / ISO-HDLC: reflected polynomial 0xEDB88320, init and final XOR
// 0xFFFFFFFF; the zlib/PNG crc32) over raw memory. AssemblyScript only. The record store
// (SPEC §8) uses it for page headers and entries: an integrity check against torn writes and
// bit rot, not a MAC. Table built on first use in a static buffer (no allocation).

const POLY: u32 = 0xedb88320;
const TABLE: usize = memory.data(256 * 4);
let tableReady = false;

function buildTable(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLE + (<usize>n << 2), c);
  }
  tableReady = true;
}

/** CRC-32 of `len` bytes at `ptr`. */
export function crc32(ptr: usize, len: i32): u32 {
  if (!tableReady) buildTable();
  let c: u32 = 0xffffffff;
  for (let i = 0; i < len; i++) {
    const b = <u32>load<u8>(ptr + <usize>i);
    c = load<u32>(TABLE + (<usize>((c ^ b) & 0xff) << 2)) ^ (c >>> 8);
  }
  return c ^ 0xffffffff;
}
