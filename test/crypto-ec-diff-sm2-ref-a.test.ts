// Differential, one part of the 10,000-case differential runs (crypto-ec-diff.ts; DESIGN.md §3): SM2: sm-crypto signs, firmware verifies (cases 1-5000)
import { diffSuite, sm2SmCryptoToFirmware } from "./crypto-ec-diff.ts";

diffSuite("SM2: sm-crypto signs, firmware verifies (cases 1-5000)", sm2SmCryptoToFirmware, "sm2-ref-a", 5000);
