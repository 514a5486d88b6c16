// Child of test/host-keygen-gc.test.ts: N P-256 key pairs through generateKeyPair, with the
// garbage collector made to run often (the test starts it with a 1 MB young generation).
import { generateKeyPair } from "../../host-tools/src/sig.ts";

const n = Number(process.argv[2]);
const keep: string[] = [];
for (let i = 0; i < n; i++) {
  const k = generateKeyPair("p256");
  keep.push(Buffer.from(k.pub).toString("hex") + "x".repeat(i % 64));
  if (keep.length > 5000) keep.length = 0;
}
console.log(JSON.stringify({ generated: n }));
