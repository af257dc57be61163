#include "journal.h"
#include "_cgo_export.h"

static void rlcgo_recovered_trampoline(void *user_data, rlc_request_id id,
                                       enum rlc_result result, const rlc_response *response) {
    /* The response is borrowed for this call only; Go copies what it needs. */
    rlcgoRecovered((uintptr_t)user_data, id, result, (rlc_response *)response);
}

enum rlc_result rlcgo_recover(rlc_client *client, int32_t priority, uintptr_t handle,
                              size_t *out_count) {
    return rlc_client_recover(client, priority, rlcgo_recovered_trampoline, (void *)handle,
                              out_count);
}
