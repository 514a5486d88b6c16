// For tsc only: AssemblyScript's integer type names, so that the shared files in
// protocol/portable/ compile under both `asc` (firmware) and `tsc` (host).
// asc never reads this file; in AssemblyScript these are native types.
declare type i8 = number;
declare type i16 = number;
declare type i32 = number;
declare type u8 = number;
declare type u16 = number;
declare type u32 = number;
declare type bool = boolean;
declare type usize = number;
