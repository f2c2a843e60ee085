// IdentityRisk builds and runs on Linux (glibc) only; see Package.swift.
#if !os(Linux)
#error("IdentityRisk supports Linux only: it reads SO_PEERCRED and calls Glibc directly (see README, Platforms)")
#endif
