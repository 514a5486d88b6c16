// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final xor) for serial
// frames (SPEC.md §7; parameters in protocol/portable/serial.ts). Table-driven, one
// table built at load. Check value: crc16("123456789") = 0x29B1.
import { SERIAL_CRC_INIT, SERIAL_CRC_POLY } from "../portable/serial.ts";

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ SERIAL_CRC_POLY) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

export function crc16(data: Uint8Array, crc: number = SERIAL_CRC_INIT): number {
  for (let i = 0; i < data.length; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ data[i]) & 0xff];
  return crc;
}
