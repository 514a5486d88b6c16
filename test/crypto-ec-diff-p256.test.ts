// Differential, one part of the 10,000-case runs of issue 3 (crypto-ec-diff.ts): P-256: firmware and OpenSSL (node:crypto, ieee-p1363), 10,000 cases each way
import { diffSuite, p256BothWays } from "./crypto-ec-diff.ts";

diffSuite("P-256: firmware and OpenSSL (node:crypto, ieee-p1363), 10,000 cases each way", p256BothWays, "p256", 10000, 20000);
