// A channel that loses answers (DESIGN §8 "the host can lose the answer at any moment"):
// `after`: the device processes the command, then the answer never reaches the host (a
// card pulled after its commit); `before`: the command never reaches the device (a card
// pulled before). Counted per INS, so a test picks exactly which exchange of a flow fails.
import type { Channel } from "../../host-tools/src/channels/channel.ts";
import { deviceError } from "../../host-tools/src/errors.ts";

export interface Loss {
  ins: number;
  /** which occurrence of the INS (1 = the first one after arming) */
  nth?: number;
  when: "before" | "after";
}

export class LossyChannel implements Channel {
  private seen = new Map<number, number>();
  lost = 0;
  constructor(
    private inner: Channel,
    private losses: Loss[] = [],
  ) {}
  get name(): string {
    return `lossy ${this.inner.name}`;
  }
  arm(...losses: Loss[]): void {
    this.losses = losses;
    this.seen.clear();
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const ins = apdu[1];
    const n = (this.seen.get(ins) ?? 0) + 1;
    this.seen.set(ins, n);
    const hit = this.losses.find((l) => l.ins === ins && (l.nth ?? 1) === n);
    if (hit?.when === "before") {
      this.lost++;
      throw deviceError(`${this.inner.name}: card removed (command not delivered)`);
    }
    const r = await this.inner.transmit(apdu);
    if (hit?.when === "after") {
      this.lost++;
      throw deviceError(`${this.inner.name}: card removed (answer lost)`);
    }
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
