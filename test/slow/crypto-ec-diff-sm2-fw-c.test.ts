// Differential, one shard (by seed) of the 10,000-case differential runs (../crypto-ec-diff.ts; DESIGN.md §3): SM2: firmware signs, sm-crypto verifies
import { diffSuite, sm2FirmwareToSmCrypto } from "../crypto-ec-diff.ts";

diffSuite("SM2: firmware signs, sm-crypto verifies", sm2FirmwareToSmCrypto, "sm2-fw-c", 3333);
