// The firmware's hardware interface as a host implements it (SPEC §2; OpenSK's `Env` is the
// model): the `hw` imports that firmware/assembly/hw.ts declares, typed once here, so every
// host of a firmware module (wearable-sim/src/device.ts, the store and symmetric-crypto test
// loaders) implements the same interface, and test/structure.test.ts fails when this
// list, hw.ts and the built modules disagree. All values are wasm i32 (pointers into the
// module's memory, lengths, offsets); a power cut is the host throwing from inside one.

export interface HwImports {
  /** bytes per erase page */
  flash_page_size(): number;
  /** number of pages */
  flash_page_count(): number;
  /** copy `len` flash bytes at `offset` into module memory at `dst` */
  flash_read(offset: number, dst: number, len: number): void;
  /** NOR program: flash &= the `len` bytes at `src` (bits can only be cleared) */
  flash_program(offset: number, src: number, len: number): void;
  /** set the page to 0xFF */
  flash_erase(page: number): void;
  /** TRNG bytes into module memory at `dst` */
  random(dst: number, len: number): void;
  /** hardware monotonic counter (survives power loss) */
  counter_read(): number;
  /** increments the counter, returns the new value */
  counter_increment(): number;
  /** Unix seconds; 0 = this device has no clock (cards) */
  clock_now(): number;
  /** user presence: 1 confirmed, 0 refused or timed out, -1 no button (cards) */
  confirm(kind: number, amount: number, timeoutMs: number): number;
}

/** The import names of module `hw`, in SPEC §2's order. */
export const HW_IMPORT_NAMES: readonly (keyof HwImports)[] = [
  "flash_page_size", "flash_page_count", "flash_read", "flash_program", "flash_erase",
  "random", "counter_read", "counter_increment", "clock_now", "confirm",
];

/** AssemblyScript's `env.abort(message, file, line, column)` (pointers to its strings). */
export interface EnvImports {
  abort(msg: number, file: number, line: number, col: number): void;
}

/** Everything a firmware module imports: `{ hw, env }`. */
export interface FirmwareImports {
  hw: HwImports;
  env: EnvImports;
}

/**
 * A host that serves part of the interface (a store test has flash only, a crypto test the
 * TRNG only): the given functions, and every other import throws naming itself, so a module
 * that reaches for hardware its host does not have fails loudly.
 */
export function partialHw(host: string, given: Partial<HwImports>): HwImports {
  const hw = {} as Record<keyof HwImports, (...a: number[]) => number | void>;
  for (const name of HW_IMPORT_NAMES)
    hw[name] = (given[name] as ((...a: number[]) => number | void) | undefined) ?? (() => {
      throw new Error(`${host}: unexpected import hw.${name}`);
    });
  return hw as unknown as HwImports;
}

/** The WebAssembly.Imports object of a typed host (its interfaces have no index signature). */
export function wasmImports(i: { hw: HwImports; env?: EnvImports }): WebAssembly.Imports {
  return i as unknown as WebAssembly.Imports;
}
