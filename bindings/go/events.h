/* The C side of the Go binding's event hook (events.go). */
#ifndef RLCGO_EVENTS_H
#define RLCGO_EVENTS_H

#include <stdint.h>
#include "rlc.h"

/* rlc_config_set_event_callback with the Go trampoline as callback and a
 * runtime/cgo.Handle, passed as an integer, as user data. */
enum rlc_result rlcgo_set_event_callback(rlc_config *cfg, uintptr_t handle);

/* rlc_client_free_async whose completion deletes the event handle (from rlc's thread). */
enum rlc_result rlcgo_free_async(rlc_client *client, uintptr_t handle);

#endif
