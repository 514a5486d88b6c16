// Differential: the whole 10,000-case run each way (../crypto-ec-diff.ts; DESIGN.md §3): P-256: firmware and OpenSSL (node:crypto, ieee-p1363)
import { diffSuite, p256BothWays } from "../crypto-ec-diff.ts";

diffSuite("P-256: firmware and OpenSSL (node:crypto, ieee-p1363)", p256BothWays, "p256", 10000, 20000);
