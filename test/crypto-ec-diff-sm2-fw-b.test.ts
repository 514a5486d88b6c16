// Differential, one part of the 10,000-case differential runs (crypto-ec-diff.ts; DESIGN.md §3): SM2: firmware signs, sm-crypto verifies (cases 3335-6667)
import { diffSuite, sm2FirmwareToSmCrypto } from "./crypto-ec-diff.ts";

diffSuite("SM2: firmware signs, sm-crypto verifies (cases 3335-6667)", sm2FirmwareToSmCrypto, "sm2-fw-b", 3333);
