// Minimal types for sm-crypto 0.5.8 (it ships none): only the SM2 calls host-tools uses.
declare module "sm-crypto" {
  interface Sm2Options {
    hash?: boolean;
    der?: boolean;
    publicKey?: string;
    userId?: string;
  }
  export const sm2: {
    generateKeyPairHex(): { privateKey: string; publicKey: string };
    getPublicKeyFromPrivateKey(priv: string): string;
    doSignature(msg: string | ArrayLike<number>, priv: string, opts?: Sm2Options): string;
    doVerifySignature(msg: string | ArrayLike<number>, sig: string, pub: string, opts?: Sm2Options): boolean;
    verifyPublicKey(pub: string): boolean;
  };
  const smCrypto: { sm2: typeof sm2 };
  export default smCrypto;
}
