// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// The protocol revision the firmware exports and the host checks (SPEC.md §1).
export const PROTOCOL_REVISION: u32 = 1;
