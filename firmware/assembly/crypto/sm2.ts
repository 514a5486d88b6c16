// SM2 message digest, GB/T 32918.2-2016 §5.5 and §6.1 A1-A2:
//   Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)
//   e   = SM3(Z_A || M)
// with the default user id "1234567812345678" (GM/T 0009-2012 §10; ENTL_A = its length in
// bits, 0x0080). The curve constants are taken from the curve block, not retyped.
import { sm3, sm3Init, sm3Update, sm3Final, SM3_CTX_SIZE } from "./sm3";
import { CURVE_SM2 } from "./field-consts";
import { CB_P, CB_B, CB_GX, CB_GY, FB_MOD, fromMont, limbsToBe } from "./field";

// ENTL_A (16-bit big-endian bit length) || ID_A
const ENTL_ID: i32 = 18;
const ZIN = memory.data<u8>([
  0x00, 0x80,
  0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
  // a, b, x_G, y_G, x_A, y_A follow (6 x 32 bytes)
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);
const ZIN_LEN: i32 = ENTL_ID + 6 * 32;
const LIMBS = memory.data(32, 16);
const ZA = memory.data(32, 16);
const CTX = memory.data(SM3_CTX_SIZE, 16);
let paramsReady = false;
let zaValid = false; // ZA holds Z_A of the key in ZIN (sm2Digest)

// a = p - 3 (the curve has a = -3), b, G as big-endian bytes into ZIN, once
function fillParams(): void {
  const C = CURVE_SM2;
  const f = C + CB_P;
  memory.copy(LIMBS, f + FB_MOD, 32);
  store<u32>(LIMBS, load<u32>(LIMBS) - 3); // low limb of p is 0xffffffff: no borrow
  limbsToBe(ZIN + ENTL_ID, LIMBS);
  fromMont(f, LIMBS, C + CB_B);
  limbsToBe(ZIN + ENTL_ID + 32, LIMBS);
  fromMont(f, LIMBS, C + CB_GX);
  limbsToBe(ZIN + ENTL_ID + 64, LIMBS);
  fromMont(f, LIMBS, C + CB_GY);
  limbsToBe(ZIN + ENTL_ID + 96, LIMBS);
  paramsReady = true;
}

// Z_A of a public key 04 || x || y (default user id)
export function sm2Za(pub65: usize, out32: usize): void {
  if (!paramsReady) fillParams();
  memory.copy(ZIN + ENTL_ID + 128, pub65 + 1, 64);
  sm3(ZIN, ZIN_LEN, out32);
  if (out32 != ZA) zaValid = false; // ZIN has another key than the one of ZA
}

// e = SM3(Z_A || M), 32 bytes big-endian. Z_A depends on the public key only: the last
// key's Z_A is kept with the key (x_A || y_A, still in ZIN) and reused when the key repeats,
// as a device's own key does for every signature and a device's vouchers in a host's
// batch do (SPEC §2, README "Benchmarks"). Public data only.
export function sm2Digest(pub65: usize, msg: usize, msgLen: i32, e32: usize): void {
  if (!(zaValid && memory.compare(ZIN + ENTL_ID + 128, pub65 + 1, 64) == 0)) sm2Za(pub65, ZA);
  zaValid = true;
  sm3Init(CTX);
  sm3Update(CTX, ZA, 32);
  sm3Update(CTX, msg, msgLen);
  sm3Final(CTX, e32);
}
