// Worker thread entry of bench:reconcile's raw verifier rate: plain JS so Node can start it
// directly; it registers tsx and runs the TypeScript body (raw-verify-body.ts).
import { register } from "tsx/esm/api";

register();
await import("./raw-verify-body.ts");
