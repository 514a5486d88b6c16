// Looks into a SoftHSM2 token from outside the wallet's own code (a child process with its own
// pkcs11js session): test/host-keystore-backends.test.ts runs it. argv: MODULE LABEL PIN MODE [ARG]
//  attrs: every object's class, label, CKA_SENSITIVE, CKA_EXTRACTABLE, and whether CKA_VALUE reads
//  cmac KEYHEX DATAHEX...: CKM_AES_CMAC of each data under a session key of the given value
import pkcs11js from "pkcs11js";

const [module, label, pin, mode, ...rest] = process.argv.slice(2);
const p11 = new pkcs11js.PKCS11();
p11.load(module);
p11.C_Initialize();
const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === label);
const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
p11.C_Login(session, pkcs11js.CKU_USER, pin);
const out = [];
if (mode === "attrs") {
  p11.C_FindObjectsInit(session, []);
  const objs = p11.C_FindObjects(session, 1000);
  p11.C_FindObjectsFinal(session);
  for (const h of objs) {
    const [cls, lab] = p11.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_CLASS }, { type: pkcs11js.CKA_LABEL }]);
    const o = { class: cls.value.readUInt32LE(0), label: lab.value.toString() };
    if (o.class !== pkcs11js.CKO_PUBLIC_KEY) {
      const [sens, extr] = p11.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
      o.sensitive = sens.value[0] === 1;
      o.extractable = extr.value[0] === 1;
      try {
        p11.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_VALUE }]);
        o.valueReadable = true;
      } catch {
        o.valueReadable = false;
      }
    }
    out.push(o);
  }
} else if (mode === "cmac") {
  const [keyHex, ...datas] = rest;
  const key = p11.C_CreateObject(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_VALUE, value: Buffer.from(keyHex, "hex") },
  ]);
  for (const d of datas) {
    p11.C_SignInit(session, { mechanism: pkcs11js.CKM_AES_CMAC }, key);
    out.push(p11.C_Sign(session, Buffer.from(d, "hex"), Buffer.alloc(16)).toString("hex"));
  }
}
p11.C_Logout(session);
p11.C_CloseSession(session);
p11.C_Finalize();
process.stdout.write(JSON.stringify(out));
