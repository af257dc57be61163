/* The C side of the Go binding's persistent queue (journal.go). */
#ifndef RLCGO_JOURNAL_H
#define RLCGO_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "rlc.h"

/* rlc_client_recover with the Go trampoline as callback and a runtime/cgo.Handle,
 * passed as an integer, as user data (shared by every recovered request). */
enum rlc_result rlcgo_recover(rlc_client *client, int32_t priority, uintptr_t handle,
                              size_t *out_count);

#endif
