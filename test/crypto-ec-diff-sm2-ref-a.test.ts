// Differential, one part of the 10,000-case runs of issue 3 (crypto-ec-diff.ts): SM2: sm-crypto signs, firmware verifies (cases 1-5000)
import { diffSuite, sm2SmCryptoToFirmware } from "./crypto-ec-diff.ts";

diffSuite("SM2: sm-crypto signs, firmware verifies (cases 1-5000)", sm2SmCryptoToFirmware, "sm2-ref-a", 5000);
