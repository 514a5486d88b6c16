// Worker thread entry for reconciliation (README "Benchmarks", bench:reconcile): plain JS so Node can
// start it directly; it registers tsx and runs the TypeScript worker body.
import { register } from "tsx/esm/api";

register();
await import("./reconcile-worker-body.ts");
