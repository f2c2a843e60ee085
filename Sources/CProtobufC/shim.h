#ifndef IDENTITYRISK_CPROTOBUFC_SHIM_H
#define IDENTITYRISK_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
