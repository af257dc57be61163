#include <stddef.h>
#include <string.h>
#include "events.h"
#include "_cgo_export.h"

/* A library built from an older header sends a shorter rlc_event: copy what it has
 * into a zeroed one of ours, so the fields it lacks read as 0. */
static void rlcgo_event_trampoline(void *user_data, const struct rlc_event *event) {
    struct rlc_event copy;
    size_t n;
    if (event == NULL) return;
    memset(&copy, 0, sizeof copy);
    n = event->size < sizeof copy ? event->size : sizeof copy;
    memcpy(&copy, event, n);
    if (n < offsetof(struct rlc_event, header) + sizeof copy.header || copy.header == NULL) {
        copy.header = "";
    }
    rlcgoEvent((uintptr_t)user_data, &copy);
}

enum rlc_result rlcgo_set_event_callback(rlc_config *cfg, uintptr_t handle) {
    return rlc_config_set_event_callback(cfg, rlcgo_event_trampoline, (void *)handle);
}

static void rlcgo_closed(void *user_data) { rlcgoEventsClosed((uintptr_t)user_data); }

enum rlc_result rlcgo_free_async(rlc_client *client, uintptr_t handle) {
    return rlc_client_free_async(client, rlcgo_closed, (void *)handle);
}
