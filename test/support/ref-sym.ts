// Independent reference code for the symmetric-crypto tests, written straight from the
// specs on top of node:crypto's raw block ciphers (OpenSSL 'aes-128-ecb' / 'sm4-ecb'):
// CMAC (NIST SP 800-38B §6) and the SCP03 KDF (GP Amendment D §6.2.2 / SP 800-108 counter
// mode). Deliberately naive, sharing no code with the firmware.
import { createCipheriv } from "node:crypto";
import { SUITE_SM2_SM3_SM4 } from "../../protocol/portable/suite.ts";

export const ecbName = (suite: number) => (suite === SUITE_SM2_SM3_SM4 ? "sm4-ecb" : "aes-128-ecb");
export const cbcName = (suite: number) => (suite === SUITE_SM2_SM3_SM4 ? "sm4-cbc" : "aes-128-cbc");
export const hashName = (suite: number) => (suite === SUITE_SM2_SM3_SM4 ? "sm3" : "sha256");

export function ecbEncrypt(suite: number, key: Uint8Array, block: Uint8Array): Buffer {
  const c = createCipheriv(ecbName(suite), key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

function double(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = ((b[i] << 1) | (i < 15 ? b[i + 1] >> 7 : 0)) & 0xff;
  if (b[0] & 0x80) out[15] ^= 0x87;
  return out;
}

export function cmacRef(suite: number, key: Uint8Array, msg: Uint8Array): Buffer {
  const l = ecbEncrypt(suite, key, Buffer.alloc(16));
  const k1 = double(l), k2 = double(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  const last = Buffer.alloc(16);
  const tail = Buffer.from(msg.subarray((n - 1) * 16));
  tail.copy(last);
  if (!complete) last[tail.length] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i] ^= k[i];
  let x: Buffer = Buffer.alloc(16);
  for (let j = 0; j < n; j++) {
    const m = j === n - 1 ? last : Buffer.from(msg.subarray(j * 16, j * 16 + 16));
    for (let i = 0; i < 16; i++) x[i] ^= m[i];
    x = ecbEncrypt(suite, key, x);
  }
  return x;
}

export function scp03KdfRef(suite: number, key: Uint8Array, dc: number, context: Uint8Array, bits: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1; parts.length * 128 < bits; i++) {
    const label = Buffer.alloc(12);
    label[11] = dc;
    const data = Buffer.concat([label, Buffer.from([0x00, bits >> 8, bits & 0xff, i]), Buffer.from(context)]);
    parts.push(cmacRef(suite, key, data));
  }
  return Buffer.concat(parts).subarray(0, Math.ceil(bits / 8));
}

/** deterministic PRNG (mulberry32) so a failing random case can be replayed from its seed */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    bytes(n: number) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}
