// The in-memory store lives in its own target (IdentityRiskMemoryStore), so that what
// needs only it (the fuzzer) builds without SQLite, PostgreSQL and TLS; importing
// IdentityRiskStore still brings it.
@_exported import IdentityRiskMemoryStore
