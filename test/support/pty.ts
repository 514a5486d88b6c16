// socat pty pairs for serial tests (test/rig/README.md: serial). Each pair is two
// pseudo-terminals joined by socat; the link paths behave like two serial ports wired
// back to back. Open the paths directly (SerialPort.list() never shows ptys) and flush
// at the start of a test: bytes written while the other end was closed are delivered
// when it opens (TRAPS.md).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PtyPair {
  /** Link path of one end (a symlink to /dev/pts/N). */
  a: string;
  /** Link path of the other end. */
  b: string;
  /** socat's PID. */
  pid: number;
  /** Kills socat by PID and removes the links. */
  close(): Promise<void>;
}

/** Starts `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and waits for both links. */
export async function createPtyPair(timeoutMs = 5000): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), "wallet-pty-"));
  const a = join(dir, "a");
  const b = join(dir, "b");
  const child = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exited = false;
  const exit = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));
  const spawnErr = new Promise<Error>((r) => child.once("error", r));
  const close = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + timeoutMs;
  while (!(existsSync(a) && existsSync(b))) {
    const err = await Promise.race([spawnErr, new Promise<undefined>((r) => setTimeout(r, 10))]);
    if (err || exited || Date.now() > end) {
      await close();
      const why = err ? err.message : exited ? `socat exited: ${stderr.trim()}` : "timeout";
      throw new Error(`pty: cannot create a pair (${why}); is socat installed (apt-get install socat)?`);
    }
  }
  return { a, b, pid: child.pid!, close };
}
