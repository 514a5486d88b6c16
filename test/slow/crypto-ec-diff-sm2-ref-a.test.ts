// Differential, one shard (by seed) of the 10,000-case differential runs (../crypto-ec-diff.ts; DESIGN.md §3): SM2: sm-crypto signs, firmware verifies
import { diffSuite, sm2SmCryptoToFirmware } from "../crypto-ec-diff.ts";

diffSuite("SM2: sm-crypto signs, firmware verifies", sm2SmCryptoToFirmware, "sm2-ref-a", 5000);
