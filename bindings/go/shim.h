/* The C side of the Go binding: forwards rlc callbacks to Go. */
#ifndef RLCGO_SHIM_H
#define RLCGO_SHIM_H

#include <stdint.h>
#include "rlc.h"

/* rlc_submit with the Go trampoline as callback and a runtime/cgo.Handle, passed
 * as an integer (cast to void * here, in C, so Go never fakes a pointer), as
 * user data. */
enum rlc_result rlcgo_submit(rlc_client *client, rlc_request *req, int32_t priority,
                        uintptr_t handle, rlc_request_id *out_id);

/* The serial number of the Go client whose callback runs on the calling thread,
 * 0 when none: how Close and Do know they are inside a callback. */
void rlcgo_set_callback_client(uint64_t serial);
uint64_t rlcgo_callback_client(void);

#endif
