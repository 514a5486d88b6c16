// Worker thread entry for reconciliation (issue 6 bench:reconcile): plain JS so Node can
// start it directly; it registers tsx and runs the TypeScript worker body.
import { register } from "tsx/esm/api";

register();
await import("./reconcile-worker-body.ts");
