#include "shim.h"
#include "_cgo_export.h"

/* Per thread: the completion thread of each client runs that client's Go callbacks. */
static _Thread_local uint64_t rlcgo_current_client;

void rlcgo_set_callback_client(uint64_t serial) { rlcgo_current_client = serial; }

uint64_t rlcgo_callback_client(void) { return rlcgo_current_client; }

static void rlcgo_trampoline(void *user_data, rlc_request_id id, enum rlc_result result,
                             const rlc_response *response) {
    /* The response is borrowed for this call only; Go copies what it needs. */
    rlcgoComplete((uintptr_t)user_data, id, result, (rlc_response *)response);
}

enum rlc_result rlcgo_submit(rlc_client *client, rlc_request *req, int32_t priority,
                        uintptr_t handle, rlc_request_id *out_id) {
    return rlc_submit(client, req, priority, rlcgo_trampoline, (void *)handle, out_id);
}
