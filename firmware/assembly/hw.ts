// Hardware interface of firmware.wasm: the `hw` imports of protocol/SPEC.md §2, declared once
// here for every part of the firmware (store, applet, crypto TRNG). AssemblyScript only.
// Hosts implement them as protocol/src/hw.ts HwImports (wearable-sim/src/device.ts, the test
// loaders); a power cut is the host throwing from inside one of them, which aborts the
// running export (SPEC §2), so callers never see a half-done import: either it returned or
// the instance is gone.

// Flash (NOR: erase -> 0xFF, program ANDs; geometry defaults in protocol/portable/nvm.ts)
// @ts-ignore: decorator
@external("hw", "flash_page_size") export declare function flash_page_size(): u32;
// @ts-ignore: decorator
@external("hw", "flash_page_count") export declare function flash_page_count(): u32;
// @ts-ignore: decorator
@external("hw", "flash_read") export declare function flash_read(offset: u32, dst: usize, len: u32): void;
// @ts-ignore: decorator
@external("hw", "flash_program") export declare function flash_program(offset: u32, src: usize, len: u32): void;
// @ts-ignore: decorator
@external("hw", "flash_erase") export declare function flash_erase(page: u32): void;

// TRNG bytes
// @ts-ignore: decorator
@external("hw", "random") export declare function random(dst: usize, len: u32): void;

// Hardware monotonic counter (survives power loss); increment returns the new value
// @ts-ignore: decorator
@external("hw", "counter_read") export declare function counter_read(): u32;
// @ts-ignore: decorator
@external("hw", "counter_increment") export declare function counter_increment(): u32;

// Unix seconds; 0 = no clock (cards)
// @ts-ignore: decorator
@external("hw", "clock_now") export declare function clock_now(): u32;

// User presence: 1 confirmed, 0 refused or timed out, -1 no button (cards)
// @ts-ignore: decorator
@external("hw", "confirm") export declare function confirm(kind: u32, amount: u32, timeout_ms: u32): i32;
