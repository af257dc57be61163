/* The queue and the completion contract: priority order, queue full, cancel of a
 * queued request, shutdown with queued and in-flight requests (each callback exactly
 * once), a submit from inside a callback, and rlc_client_free from inside a
 * callback (no deadlock). Counts, orders and bounds only, with slack; no timing
 * assertions. argv[1]: the mock API's base URL. */
#include "check.h"

static const char *base_url;

/* ---- priority: 1 request per 200 ms, burst 1, one worker ---- */

static void one_per_200ms(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_rate_limit(cfg, 1, 200), RLC_OK);
    CHECK_RC(rlc_config_set_burst(cfg, 1), RLC_OK);
    CHECK_RC(rlc_config_set_workers(cfg, 1), RLC_OK);
}

static void priority_order(void) {
    enum { LOW = 4, HIGH = 4 };
    rlc_client *client = client_with(base_url, one_per_200ms);
    latch l;
    ticket t[LOW + HIGH];
    rlc_request_id id;
    int i, lows_before_last_high = 0, last_high = -1, n;

    latch_init(&l);
    for (i = 0; i < LOW + HIGH; i++) {
        t[i].latch = &l;
        t[i].tag = i < LOW ? 1 : 100; /* lows first, then highs */
        CHECK_RC(rlc_submit(client, request("GET", "/ok"), t[i].tag, on_done, &t[i], &id), RLC_OK);
    }
    n = latch_wait(&l, LOW + HIGH, 60000);
    CHECK(n == LOW + HIGH);
    for (i = 0; i < n && i < LATCH_MAX; i++) {
        CHECK(l.seen[i].result == RLC_OK && l.seen[i].status == 200);
        if (l.seen[i].tag == 100) last_high = i;
    }
    for (i = 0; i < last_high; i++) {
        if (l.seen[i].tag == 1) lows_before_last_high++;
    }
    /* The first low may take the first token before the highs arrive; allow one more. */
    if (lows_before_last_high > 2) {
        fprintf(stderr, "priority: %d low-priority requests finished before the last high one\n",
                lows_before_last_high);
    }
    CHECK(lows_before_last_high <= 2);
    CHECK(l.seen[n - 1].tag == 1);
    rlc_client_free(client);
    latch_destroy(&l);
}

/* ---- a client that sends one request and then holds the rest for 60 s ---- */

static void one_then_hold(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_rate_limit(cfg, 1, 60000), RLC_OK);
    CHECK_RC(rlc_config_set_burst(cfg, 1), RLC_OK);
    CHECK_RC(rlc_config_set_workers(cfg, 1), RLC_OK);
    CHECK_RC(rlc_config_set_max_queue_size(cfg, 3), RLC_OK);
}

static void queue_full_and_cancel(void) {
    rlc_client *client = client_with(base_url, one_then_hold);
    latch l;
    ticket t[8];
    rlc_request_id ids[8], cancelled;
    rlc_metrics m;
    int i, accepted = 0, refused = 0, n, cancels = 0, shutdowns = 0, oks = 0;

    latch_init(&l);
    for (i = 0; i < 8; i++) {
        rlc_result rc;
        rlc_request_id got = 4242; /* no id may be written for a refused request */
        t[i].latch = &l;
        t[i].tag = i;
        rc = rlc_submit(client, request("GET", "/ok"), 0, on_done, &t[i], &got);
        if (rc == RLC_OK) {
            ids[accepted++] = got;
        } else {
            CHECK(rc == RLC_E_QUEUE_FULL);
            CHECK(got == 4242);
            refused++;
        }
        if (i == 0) {
            latch_wait(&l, 1, 30000); /* the first one takes the only token */
        }
    }
    /* 1 sent, 3 queued (the queue's bound), the rest refused at once. */
    CHECK(accepted >= 4 && accepted <= 5);
    CHECK(refused == 8 - accepted);
    CHECK_LAST_ERROR_SET();
    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.queue_full == (uint64_t)refused);
    CHECK(m.queue_depth >= 2 && m.queue_depth <= 4);

    /* Cancel the last accepted (queued) request: it completes as cancelled, once. */
    cancelled = ids[accepted - 1];
    CHECK_RC(rlc_cancel(client, cancelled), RLC_OK);
    CHECK_RC(rlc_cancel(client, cancelled), RLC_E_UNKNOWN_REQUEST);
    n = latch_wait(&l, 2, 30000);
    CHECK(n == 2);

    /* Shutdown completes the rest with RLC_E_SHUTDOWN, each exactly once. */
    rlc_client_free(client);
    n = latch_count(&l);
    CHECK(n == accepted);
    for (i = 0; i < n && i < LATCH_MAX; i++) {
        const completion *c = &l.seen[i];
        if (c->result == RLC_E_CANCELLED) {
            cancels++;
            CHECK(c->id == cancelled);
            CHECK(c->status == 0 && c->attempts == 0 && c->error[0] != '\0');
        } else if (c->result == RLC_E_SHUTDOWN) {
            shutdowns++;
            CHECK(c->status == 0 && c->error[0] != '\0');
        } else {
            CHECK(c->result == RLC_OK);
            oks++;
        }
    }
    CHECK(cancels == 1);
    CHECK(oks == 1);
    CHECK(shutdowns == accepted - 2);
    latch_destroy(&l);
}

/* ---- shutdown with requests in flight and queued ---- */

typedef struct {
    pthread_mutex_t mu;
    int calls[16];
    int ok, shutdown, other;
} per_request;

typedef struct {
    per_request *pr;
    int index;
} slot;

static void count_once(void *user_data, rlc_request_id id, rlc_result result, const rlc_response *resp) {
    slot *s = (slot *)user_data;
    (void)id;
    pthread_mutex_lock(&s->pr->mu);
    s->pr->calls[s->index]++;
    if (result == RLC_OK && rlc_response_status(resp) == 200) s->pr->ok++;
    else if (result == RLC_E_SHUTDOWN) s->pr->shutdown++;
    else s->pr->other++;
    pthread_mutex_unlock(&s->pr->mu);
}

static void two_workers(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_workers(cfg, 2), RLC_OK);
}

static void shutdown_delivers_every_callback(void) {
    rlc_client *client = client_with(base_url, two_workers);
    per_request pr;
    slot s[12];
    rlc_request_id id;
    rlc_metrics m;
    int i, total = 0;

    memset(&pr, 0, sizeof pr);
    pthread_mutex_init(&pr.mu, NULL);
    for (i = 0; i < 12; i++) {
        s[i].pr = &pr;
        s[i].index = i;
        /* Two slow ones fill both workers; the rest wait in the queue. */
        CHECK_RC(rlc_submit(client, request("GET", i < 2 ? "/slow/400" : "/ok"), i < 2 ? 10 : 0,
                            count_once, &s[i], &id), RLC_OK);
    }
    for (i = 0; i < 100; i++) { /* until both slow ones are in flight */
        CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
        if (m.in_flight >= 2) break;
        sleep_ms(10);
    }
    rlc_client_free(client); /* returns only after every callback */
    for (i = 0; i < 12; i++) {
        if (pr.calls[i] != 1) {
            fprintf(stderr, "shutdown: request %d's callback ran %d times\n", i, pr.calls[i]);
        }
        CHECK(pr.calls[i] == 1);
        total += pr.calls[i];
    }
    CHECK(total == 12);
    CHECK(pr.other == 0);
    CHECK(pr.ok >= 2); /* the slow ones were in flight: they finish */
    CHECK(pr.ok + pr.shutdown == 12);
    pthread_mutex_destroy(&pr.mu);
}

/* ---- a submit from inside a callback ---- */

typedef struct {
    rlc_client *client;
    latch *latch;
    ticket inner;
    rlc_result inner_rc;
} chain;

static void submit_from_callback(void *user_data, rlc_request_id id, rlc_result result,
                                 const rlc_response *resp) {
    chain *c = (chain *)user_data;
    rlc_request_id inner_id = 0;
    c->inner_rc = rlc_submit(c->client, request("GET", "/ok"), 0, on_done, &c->inner, &inner_id);
    latch_record(c->latch, id, result, resp, 1);
}

static void submit_inside_callback(void) {
    rlc_client *client = client_with(base_url, NULL);
    latch l;
    chain c;
    rlc_request_id id;

    latch_init(&l);
    c.client = client;
    c.latch = &l;
    c.inner.latch = &l;
    c.inner.tag = 2;
    c.inner_rc = RLC_E_PANIC;
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 0, submit_from_callback, &c, &id), RLC_OK);
    CHECK(latch_wait(&l, 2, 30000) == 2);
    CHECK(c.inner_rc == RLC_OK);
    CHECK(l.seen[0].tag == 1 && l.seen[1].tag == 2);
    CHECK(l.seen[1].result == RLC_OK && l.seen[1].status == 200);
    rlc_client_free(client);
    latch_destroy(&l);
}

/* ---- rlc_client_free from inside a callback ---- */

typedef struct {
    rlc_client *client;
    latch *latch;
} freer;

static void free_from_callback(void *user_data, rlc_request_id id, rlc_result result,
                               const rlc_response *resp) {
    freer *f = (freer *)user_data;
    rlc_client_free(f->client); /* must not deadlock: it cannot join its own thread */
    latch_record(f->latch, id, result, resp, 1);
}

static void one_worker(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_workers(cfg, 1), RLC_OK);
}

static void free_inside_callback(void) {
    rlc_client *client = client_with(base_url, one_worker);
    latch l;
    freer f;
    ticket others[3];
    rlc_request_id id;
    int i, n;

    latch_init(&l);
    f.client = client;
    f.latch = &l;
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 100, free_from_callback, &f, &id), RLC_OK);
    for (i = 0; i < 3; i++) {
        others[i].latch = &l;
        others[i].tag = 2;
        CHECK_RC(rlc_submit(client, request("GET", "/slow/50"), 0, on_done, &others[i], &id), RLC_OK);
    }
    /* Every callback still comes, exactly once: the freeing one and the three others
     * (completed, or shut down). */
    n = latch_wait(&l, 4, 60000);
    CHECK(n == 4);
    sleep_ms(300); /* nothing more arrives; the client's threads wind down */
    CHECK(latch_count(&l) == 4);
    for (i = 0; i < n; i++) {
        CHECK(l.seen[i].result == RLC_OK || l.seen[i].result == RLC_E_SHUTDOWN);
    }
    latch_destroy(&l);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base_url = argv[1];
    priority_order();
    queue_full_and_cancel();
    shutdown_delivers_every_callback();
    submit_inside_callback();
    free_inside_callback();
    return finish("scheduling");
}
