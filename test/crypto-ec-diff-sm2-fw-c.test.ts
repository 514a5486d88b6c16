// Differential, one part of the 10,000-case differential runs (crypto-ec-diff.ts; DESIGN.md §3): SM2: firmware signs, sm-crypto verifies (cases 6668-10000)
import { diffSuite, sm2FirmwareToSmCrypto } from "./crypto-ec-diff.ts";

diffSuite("SM2: firmware signs, sm-crypto verifies (cases 6668-10000)", sm2FirmwareToSmCrypto, "sm2-fw-c", 3333);
