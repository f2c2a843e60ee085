#ifndef IRISK_FLOOR_SERVER_H
#define IRISK_FLOOR_SERVER_H

#include <stdint.h>

/// A trivial echo server for irisk-bench's "floor" measurement: what the Unix
/// socket itself allows, with no protocol work at all.
///
/// Speaks just enough of the IdentityRisk framing to be a fair stand-in: it
/// reads the client's 8-byte preface ("IRSK" + u16 version + u16 0), answers
/// with its own preface, then echoes every complete length-prefixed frame
/// (u32 big-endian length + payload) back as-is. Complete frames that arrived
/// in one read are echoed with one write, as a real server that flushes once
/// per read would.
///
/// Threads: one acceptor/worker thread plus `threads - 1` more workers, each
/// with its own epoll set; connections are spread over them round-robin.
typedef struct floor_server floor_server;

/// Binds a new socket at `path` (which must not exist) and starts serving.
/// Returns NULL on failure with `*error_out` set to an errno value.
floor_server *floor_server_start(const char *path, int threads, int *error_out);

/// Frames echoed so far (all connections).
uint64_t floor_server_frames(floor_server *server);

/// Stops every thread, closes every connection, removes the socket file and
/// frees `server`.
void floor_server_stop(floor_server *server);

#endif
