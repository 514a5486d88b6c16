// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// ISO/IEC 7816-4 status words (SW1-SW2) that the wallet applet may return (SPEC.md §4).
// References: ISO/IEC 7816-4:2020 §5.6, Table 5 (SW1 general meanings) and Table 6
// (interindustry SW1-SW2 values); same values as 7816-4:2005 §5.1.3 Tables 5/6.
// Names follow ISO wording (as in Java Card's javacard.framework.ISO7816) so the host
// table in protocol/src/sw.ts can be derived from these export names. Each value is
// unique: the host maps a value back to exactly one name. Families (61xx, 63Cx, 6Cxx)
// are declared by their base value with the low bits zero.

// --- 90xx normal processing (Table 5) ---
export const SW_NO_ERROR: u16 = 0x9000; // Table 5: 9000 no further qualification

// --- 61xx normal processing, more data (Table 5) ---
// 61XX: SW2 = number of response bytes still available (00 = 256 or more); fetch
// them with GET RESPONSE (§7.6.1). Family base; SW2 carries the count.
export const SW_BYTES_REMAINING_00: u16 = 0x6100;

// --- 62xx warning, non-volatile memory unchanged (Table 6) ---
export const SW_WARNING_NV_UNCHANGED: u16 = 0x6200; // Table 6: 6200 no information given
export const SW_WARNING_EOF_REACHED: u16 = 0x6282; // Table 6: 6282 end of file reached before Le bytes

// --- 63xx warning, non-volatile memory changed (Table 6) ---
export const SW_WARNING_NV_CHANGED: u16 = 0x6300; // Table 6: 6300 no information given
// 63CX: counter; X (0..15) = remaining tries of the verification that failed
// (VERIFY PIN). Family base; SW2 low nibble carries the count.
export const SW_VERIFY_FAIL_BASE: u16 = 0x63c0;

// --- 64xx execution error, non-volatile memory unchanged (Table 6) ---
export const SW_STATE_NON_VOLATILE_UNCHANGED: u16 = 0x6400; // Table 6: 6400 execution error, NV unchanged

// --- 65xx execution error, non-volatile memory changed (Table 6) ---
export const SW_NV_CHANGED_NO_INFO: u16 = 0x6500; // Table 6: 6500 no information given
export const SW_MEMORY_FAILURE: u16 = 0x6581; // Table 6: 6581 memory failure

// --- 67xx checking error: wrong length (Table 5) ---
export const SW_WRONG_LENGTH: u16 = 0x6700; // Table 5: 6700 wrong length, no further indication

// --- 68xx checking error: functions in CLA not supported (Table 6) ---
export const SW_CLA_FUNCTION_NOT_SUPPORTED: u16 = 0x6800; // Table 6: 6800 no information given
export const SW_LOGICAL_CHANNEL_NOT_SUPPORTED: u16 = 0x6881; // Table 6: 6881 logical channel not supported
export const SW_SECURE_MESSAGING_NOT_SUPPORTED: u16 = 0x6882; // Table 6: 6882 secure messaging not supported
export const SW_LAST_COMMAND_EXPECTED: u16 = 0x6883; // Table 6: 6883 last command of the chain expected
export const SW_COMMAND_CHAINING_NOT_SUPPORTED: u16 = 0x6884; // Table 6: 6884 command chaining not supported

// --- 69xx checking error: command not allowed (Table 6) ---
export const SW_COMMAND_NOT_ALLOWED_NO_INFO: u16 = 0x6900; // Table 6: 6900 no information given
export const SW_COMMAND_INCOMPATIBLE: u16 = 0x6981; // Table 6: 6981 command incompatible with file structure
export const SW_SECURITY_STATUS_NOT_SATISFIED: u16 = 0x6982; // Table 6: 6982 security status not satisfied
export const SW_AUTH_METHOD_BLOCKED: u16 = 0x6983; // Table 6: 6983 authentication method blocked
export const SW_DATA_INVALID: u16 = 0x6984; // Table 6: 6984 reference data not usable
export const SW_CONDITIONS_NOT_SATISFIED: u16 = 0x6985; // Table 6: 6985 conditions of use not satisfied
export const SW_COMMAND_NOT_ALLOWED: u16 = 0x6986; // Table 6: 6986 command not allowed (no current EF)
export const SW_SM_DATA_MISSING: u16 = 0x6987; // Table 6: 6987 expected secure messaging data objects missing
export const SW_INCORRECT_SM_DATA: u16 = 0x6988; // Table 6: 6988 incorrect secure messaging data objects

// --- 6Axx checking error: wrong parameters P1-P2 (Table 6) ---
export const SW_WRONG_PARAMETERS_NO_INFO: u16 = 0x6a00; // Table 6: 6A00 no information given
export const SW_WRONG_DATA: u16 = 0x6a80; // Table 6: 6A80 incorrect parameters in the command data field
export const SW_FUNC_NOT_SUPPORTED: u16 = 0x6a81; // Table 6: 6A81 function not supported
export const SW_FILE_NOT_FOUND: u16 = 0x6a82; // Table 6: 6A82 file or application not found
export const SW_RECORD_NOT_FOUND: u16 = 0x6a83; // Table 6: 6A83 record not found
// Table 6: 6A84 not enough memory space in the file (Java Card also calls it SW_FILE_FULL;
// one value, one name here)
export const SW_NOT_ENOUGH_MEMORY: u16 = 0x6a84;
export const SW_LC_INCONSISTENT_WITH_TLV: u16 = 0x6a85; // Table 6: 6A85 Nc inconsistent with TLV structure
export const SW_INCORRECT_P1P2: u16 = 0x6a86; // Table 6: 6A86 incorrect parameters P1-P2
export const SW_LC_INCONSISTENT_WITH_P1P2: u16 = 0x6a87; // Table 6: 6A87 Nc inconsistent with P1-P2
export const SW_REFERENCED_DATA_NOT_FOUND: u16 = 0x6a88; // Table 6: 6A88 referenced data or reference data not found
export const SW_FILE_ALREADY_EXISTS: u16 = 0x6a89; // Table 6: 6A89 file already exists

// --- 6B00, 6Cxx, 6D00, 6E00, 6F00 checking errors (Table 5) ---
export const SW_WRONG_P1P2: u16 = 0x6b00; // Table 5: 6B00 wrong parameters P1-P2
// 6CXX: wrong Le field; SW2 = the exact number of available data bytes. Family base.
export const SW_CORRECT_LENGTH_00: u16 = 0x6c00;
export const SW_INS_NOT_SUPPORTED: u16 = 0x6d00; // Table 5: 6D00 instruction code not supported or invalid
export const SW_CLA_NOT_SUPPORTED: u16 = 0x6e00; // Table 5: 6E00 class not supported
export const SW_UNKNOWN: u16 = 0x6f00; // Table 5: 6F00 no precise diagnosis (firmware's internal-failure SW)
