// Compiles the protoc-c output (identity_risk_event.pb-c.c, excluded from the
// target's sources in Package.swift) with the one warning generated code
// triggers under -Wextra silenced here, not with a compiler flag: a target that
// a library product depends on may not use unsafeFlags (SwiftPM refuses such a
// package as a versioned dependency).
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "identity_risk_event.pb-c.c"
