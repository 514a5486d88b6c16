// Differential, one part of the 10,000-case differential runs (crypto-ec-diff.ts; DESIGN.md §3): P-256: firmware and OpenSSL (node:crypto, ieee-p1363), 10,000 cases each way
import { diffSuite, p256BothWays } from "./crypto-ec-diff.ts";

diffSuite("P-256: firmware and OpenSSL (node:crypto, ieee-p1363), 10,000 cases each way", p256BothWays, "p256", 10000, 20000);
