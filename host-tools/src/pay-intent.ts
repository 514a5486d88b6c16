// A POS payment intent (DESIGN.md §8: the intent is recorded before the act): what the
// terminal writes to its journal before it sends PAY. A leaf shared by flows.ts (which
// asks for the payment) and pos-outbox.ts (which keeps the journal).

/** A payment the terminal is about to ask a device for. */
export interface PayIntent {
  deviceId: string;
  counterBefore: number; // the device's counter before PAY: the voucher will carry counterBefore + 1
  amount: number;
  challenge: string; // hex
  time: number;
}
