/* priority.c: under a slow rate limit, urgent requests overtake the others.
 *
 * Six requests with mixed priorities go to a client that sends at most 4 a second,
 * one at a time. The bucket starts with one token, so the first request the client's
 * scheduler sees may leave at once; the rest wait in the queue and leave highest
 * priority first -- first come, first served among equals. Each callback prints its
 * request as it completes.
 *
 * argv[1] is the API's base URL (default http://127.0.0.1:8080). */
#include <pthread.h>
#include <stdio.h>

#include "rlc.h"

/* Callbacks run on the client's completion thread: count them under a lock, and
 * let main wait until all have run. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int completed = 0;

/* What each callback gets through user_data: which request it was. */
typedef struct {
    int number;
    int priority;
} label;

/* Called exactly once per accepted request. The response is borrowed: copy out what
 * you need before returning. */
static void on_done(void *user_data, rlc_request_id id, rlc_result result,
                    const rlc_response *resp) {
    const label *l = (const label *)user_data;
    (void)id;
    if (result == RLC_OK) {
        printf("done:      request %d (priority %3d) -> HTTP %u\n", l->number, l->priority,
               rlc_response_status(resp));
    } else { /* no response came: status is 0 and the message says why */
        printf("done:      request %d (priority %3d) failed: %s\n", l->number, l->priority,
               rlc_response_error_message(resp));
    }
    fflush(stdout);
    pthread_mutex_lock(&lock);
    completed++;
    pthread_cond_signal(&all_done);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    const char *base_url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
    static label labels[] = {{1, 1}, {2, 10}, {3, 1}, {4, 100}, {5, 10}, {6, 1}};
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    int i, accepted = 0;
    char why[256];

    if (cfg == NULL || rlc_config_set_base_url(cfg, base_url) != RLC_OK ||
        rlc_config_set_rate_limit(cfg, 4, 1000) != RLC_OK || /* 4 a second... */
        rlc_config_set_burst(cfg, 1) != RLC_OK ||             /* ...evenly spaced */
        rlc_config_set_workers(cfg, 1) != RLC_OK ||
        rlc_client_new(cfg, &client) != RLC_OK) {
        rlc_last_error(why, sizeof why);
        fprintf(stderr, "cannot start a client: %s\n", why);
        rlc_config_free(cfg);
        return 1;
    }
    rlc_config_free(cfg);

    for (i = 0; i < 6; i++) {
        rlc_request_id id;
        /* Returns at once. RLC_OK means on_done will run exactly once, later; any
         * other result means it never will (and the request was freed anyway). */
        rlc_result rc = rlc_submit(client, rlc_request_new("GET", "/ok"), labels[i].priority,
                                   on_done, &labels[i], &id);
        if (rc == RLC_OK) {
            accepted++;
            printf("submitted: request %d (priority %3d)\n", labels[i].number,
                   labels[i].priority);
        } else {
            rlc_last_error(why, sizeof why);
            fprintf(stderr, "request %d refused: %s\n", labels[i].number, why);
        }
    }
    fflush(stdout);

    pthread_mutex_lock(&lock);
    while (completed < accepted) {
        pthread_cond_wait(&all_done, &lock);
    }
    pthread_mutex_unlock(&lock);

    /* Freeing a client completes whatever is still queued with RLC_E_SHUTDOWN and
     * delivers every callback before it returns; here nothing is left. */
    rlc_client_free(client);
    return 0;
}
