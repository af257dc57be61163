/* Helpers shared by the C test programs: checks that count failures, a latch that
 * callbacks fill in, and a sleep. Each program includes this once. */
#ifndef RLC_TEST_CHECK_H
#define RLC_TEST_CHECK_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rlc.h"

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

/* Checks that expr returns `want`; prints the last error when it does not. */
#define CHECK_RC(expr, want)                                                     \
    do {                                                                         \
        rlc_result rc_ = (expr);                                                 \
        if (rc_ != (want)) {                                                     \
            char msg_[512];                                                      \
            rlc_last_error(msg_, sizeof msg_);                                   \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", \
                    __FILE__, __LINE__, #expr, rlc_result_str(rc_),              \
                    rlc_result_str(want), msg_);                                 \
            failures++;                                                          \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, want)                                                     \
    do {                                                                         \
        const char *g_ = (got);                                                  \
        if (g_ == NULL || strcmp(g_, (want)) != 0) {                             \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,   \
                    __LINE__, #got, g_ ? g_ : "(null)", (want));                 \
            failures++;                                                          \
        }                                                                        \
    } while (0)

/* The last error must be a non-empty sentence. */
#define CHECK_LAST_ERROR_SET()                                                   \
    do {                                                                         \
        char e_[256];                                                            \
        size_t n_ = rlc_last_error(e_, sizeof e_);                               \
        if (n_ <= 1 || e_[0] == '\0') {                                          \
            fprintf(stderr, "%s:%d: rlc_last_error is empty\n", __FILE__, __LINE__); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static inline void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline int finish(const char *name) {
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* A latch: callbacks record what they saw; the main thread waits for them.  */

#define LATCH_MAX 64

typedef struct {
    rlc_request_id id;
    rlc_result result;
    uint16_t status;
    uint32_t attempts;
    int tag;             /* the submitter's label, e.g. the priority */
    char error[128];     /* rlc_response_error_message */
} completion;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;           /* callbacks so far */
    completion seen[LATCH_MAX];
} latch;

static inline void latch_init(latch *l) {
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->count = 0;
}

static inline void latch_destroy(latch *l) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

/* Records one completion. */
static inline void latch_record(latch *l, rlc_request_id id, rlc_result result,
                         const rlc_response *resp, int tag) {
    pthread_mutex_lock(&l->mu);
    if (l->count < LATCH_MAX) {
        completion *c = &l->seen[l->count];
        const char *err = rlc_response_error_message(resp);
        c->id = id;
        c->result = result;
        c->status = rlc_response_status(resp);
        c->attempts = rlc_response_attempts(resp);
        c->tag = tag;
        snprintf(c->error, sizeof c->error, "%s", err ? err : "(null)");
    }
    l->count++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Waits until `n` completions were recorded, or `timeout_ms` passed; returns the count. */
static inline int latch_wait(latch *l, int n, long timeout_ms) {
    struct timespec deadline;
    int count;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (l->count < n) {
        if (pthread_cond_timedwait(&l->cv, &l->mu, &deadline) != 0) {
            break;
        }
    }
    count = l->count;
    pthread_mutex_unlock(&l->mu);
    return count;
}

static inline int latch_count(latch *l) {
    int count;
    pthread_mutex_lock(&l->mu);
    count = l->count;
    pthread_mutex_unlock(&l->mu);
    return count;
}

/* The user_data of a request: which latch, and a label. */
typedef struct {
    latch *latch;
    int tag;
} ticket;

static inline void on_done(void *user_data, rlc_request_id id, rlc_result result,
                    const rlc_response *resp) {
    ticket *t = (ticket *)user_data;
    if (resp == NULL) {
        fprintf(stderr, "callback got a NULL response\n");
        failures++;
        return;
    }
    latch_record(t->latch, id, result, resp, t->tag);
}

/* A request for `method` and `path`, which must be valid. */
static inline rlc_request *request(const char *method, const char *path) {
    rlc_request *req = rlc_request_new(method, path);
    if (req == NULL) {
        char e[256];
        rlc_last_error(e, sizeof e);
        fprintf(stderr, "rlc_request_new(%s, %s) failed: %s\n", method, path, e);
        exit(2);
    }
    return req;
}

/* A client for `base_url` after `tune` adjusts the default config (may be NULL). */
static inline rlc_client *client_with(const char *base_url, void (*tune)(rlc_config *)) {
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    if (cfg == NULL) {
        fprintf(stderr, "rlc_config_new failed\n");
        exit(2);
    }
    if (rlc_config_set_base_url(cfg, base_url) != RLC_OK) {
        fprintf(stderr, "bad base URL %s\n", base_url);
        exit(2);
    }
    if (tune) {
        tune(cfg);
    }
    if (rlc_client_new(cfg, &client) != RLC_OK) {
        char e[256];
        rlc_last_error(e, sizeof e);
        fprintf(stderr, "rlc_client_new failed: %s\n", e);
        exit(2);
    }
    rlc_config_free(cfg);
    return client;
}

#endif /* RLC_TEST_CHECK_H */
