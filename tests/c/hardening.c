/* The hardening review's C-side defects: rlc_client_free from inside a callback
 * keeps the handle alive for the callbacks still queued (they may pass it to
 * rlc_submit and must get RLC_E_SHUTDOWN, not a freed client: valgrind sees the
 * difference), rlc_client_free_async returns at once and calls back when all is
 * done, the new redirect and pause setters check their arguments, and a control
 * character in the user agent is refused at the setter. argv[1]: the mock API. */
#include "check.h"

static const char *base_url;

/* ---- rlc_client_free inside a callback, with callbacks still queued ---- */

typedef struct {
    rlc_client *client;
    latch *latch;
    int freed;                 /* set by the callback that freed the client */
    rlc_result later_submit;   /* what rlc_submit said in a later callback */
} free_inside;

static void noop(void *user_data, rlc_request_id id, rlc_result result, const rlc_response *resp) {
    (void)user_data; (void)id; (void)result; (void)resp;
    fprintf(stderr, "a refused submit's callback must never run\n");
    failures++;
}

static void frees_or_submits(void *user_data, rlc_request_id id, rlc_result result,
                             const rlc_response *resp) {
    free_inside *f = (free_inside *)user_data;
    if (!f->freed) {
        f->freed = 1;
        rlc_client_free(f->client);
    } else {
        rlc_request_id ignored;
        /* The client was freed by an earlier callback; the handle must still work. */
        f->later_submit = rlc_submit(f->client, request("GET", "/ok"), 0, noop, NULL, &ignored);
    }
    latch_record(f->latch, id, result, resp, 0);
}

/* One request goes; the rest stay queued for a minute. */
static void one_then_hold(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_rate_limit(cfg, 1, 60000), RLC_OK);
    CHECK_RC(rlc_config_set_burst(cfg, 1), RLC_OK);
}

static void free_inside_a_callback_keeps_the_handle_for_later_callbacks(void) {
    latch l;
    free_inside f;
    rlc_request_id id;
    int i;

    latch_init(&l);
    f.client = client_with(base_url, one_then_hold);
    f.latch = &l;
    f.freed = 0;
    f.later_submit = RLC_OK;
    /* One in flight, three queued behind it. */
    CHECK_RC(rlc_submit(f.client, request("GET", "/slow/300"), 0, frees_or_submits, &f, &id), RLC_OK);
    for (i = 0; i < 3; i++) {
        CHECK_RC(rlc_submit(f.client, request("GET", "/ok"), 0, frees_or_submits, &f, &id), RLC_OK);
    }
    CHECK(latch_wait(&l, 4, 30000) == 4);
    CHECK(f.freed == 1);
    CHECK(f.later_submit == RLC_E_SHUTDOWN);
    /* The first finished with its answer; the queued ones were shut down. */
    CHECK(l.seen[0].result == RLC_OK && l.seen[0].status == 200);
    for (i = 1; i < 4; i++) {
        CHECK(l.seen[i].result == RLC_E_SHUTDOWN);
    }
    /* Let the completion thread drop the client before valgrind counts leaks. */
    sleep_ms(1000);
    latch_destroy(&l);
}

/* ---- rlc_client_free_async ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int callbacks_at_done; /* how many request callbacks had run when `done` came */
    latch *latch;
} closing;

static void on_closed(void *user_data) {
    closing *c = (closing *)user_data;
    pthread_mutex_lock(&c->mu);
    c->done++;
    c->callbacks_at_done = latch_count(c->latch);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void free_async_returns_at_once_and_calls_back_after_every_callback(void) {
    latch l;
    closing c;
    ticket t[3];
    rlc_request_id id;
    rlc_client *client = client_with(base_url, one_then_hold);
    int i;

    latch_init(&l);
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    c.done = 0;
    c.callbacks_at_done = -1;
    c.latch = &l;
    for (i = 0; i < 3; i++) {
        t[i].latch = &l;
        t[i].tag = i;
        CHECK_RC(rlc_submit(client, request("GET", i == 0 ? "/slow/500" : "/ok"), 0, on_done, &t[i], &id),
                 RLC_OK);
    }
    sleep_ms(100); /* the slow one is in flight */
    CHECK_RC(rlc_client_free_async(client, on_closed, &c), RLC_OK);
    /* It returned without waiting for the 500 ms request. */
    pthread_mutex_lock(&c.mu);
    CHECK(c.done == 0);
    while (c.done == 0) {
        pthread_cond_wait(&c.cv, &c.mu);
    }
    pthread_mutex_unlock(&c.mu);
    CHECK(c.done == 1);
    CHECK(c.callbacks_at_done == 3);
    /* The queued two were shut down at once; the one in flight finished with its answer. */
    for (i = 0; i < 3; i++) {
        if (l.seen[i].tag == 0) {
            CHECK(l.seen[i].result == RLC_OK && l.seen[i].status == 200);
        } else {
            CHECK(l.seen[i].result == RLC_E_SHUTDOWN);
        }
    }

    CHECK_RC(rlc_client_free_async(NULL, on_closed, &c), RLC_E_INVALID_ARGUMENT);
    client = client_with(base_url, NULL);
    CHECK_RC(rlc_client_free_async(client, NULL, NULL), RLC_E_INVALID_ARGUMENT);
    rlc_client_free(client); /* still the caller's after a refusal */
    sleep_ms(100); /* the closing thread has called back; let it end */
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    latch_destroy(&l);
}

/* ---- setters ---- */

static void setters_check_their_arguments(void) {
    rlc_config *cfg = rlc_config_new();
    uint64_t value = 7;
    rlc_client *client;

    CHECK_RC(rlc_config_set_user_agent(cfg, "app\x1b"), RLC_E_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_SET();
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", "a\x7f"), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_user_agent(cfg, "app/1.0\t(ok)"), RLC_OK);
    CHECK_RC(rlc_config_set_max_redirects(NULL, 3), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_max_redirects(cfg, 0), RLC_OK);
    CHECK_RC(rlc_config_set_redirect_to_http(NULL, true), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redirect_to_http(cfg, false), RLC_OK);
    CHECK_RC(rlc_config_add_sensitive_header(cfg, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_add_sensitive_header(cfg, "Bad Name"), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_add_sensitive_header(cfg, "X-Api-Key"), RLC_OK);
    CHECK_RC(rlc_config_set_max_server_pause(cfg, 0), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_max_server_pause(cfg, 1000), RLC_OK);
    {
        const uint16_t statuses[] = {429, 503};
        const uint16_t bad[] = {429, 42};
        rlc_request *req = request("GET", "/ok");
        CHECK_RC(rlc_config_set_retry_budget(NULL, 20, 10), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_config_set_retry_budget(cfg, 50, 5), RLC_OK);
        CHECK_RC(rlc_config_set_retry_on_status(cfg, NULL, 2), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_config_set_retry_on_status(cfg, bad, 2), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_config_set_retry_on_status(cfg, statuses, 2), RLC_OK);
        CHECK_RC(rlc_config_set_retry_on_status(cfg, NULL, 0), RLC_OK);
        CHECK_RC(rlc_config_set_adaptive(NULL, true), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_request_set_cost(req, 0), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_request_set_cost(req, 3), RLC_OK);
        CHECK_RC(rlc_request_set_max_retries(NULL, 1), RLC_E_INVALID_ARGUMENT);
        CHECK_RC(rlc_request_set_max_retries(req, 1), RLC_OK);
        rlc_request_free(req);
    }
    CHECK_RC(rlc_config_set_base_url(cfg, base_url), RLC_OK);
    /* Adaptive limiting needs a rate limit to start from: refused without one. */
    CHECK_RC(rlc_config_set_adaptive(cfg, true), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_adaptive(cfg, false), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    rlc_config_free(cfg);

    CHECK_RC(rlc_client_set_rate_limit(client, 0, 1000), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_client_set_rate_limit(NULL, 5, 1000), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_client_set_rate_limit(client, 5, 1000), RLC_OK);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_RATE_LIMIT, &value), RLC_OK);
    CHECK(value == 5);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIRECTS, &value), RLC_OK);
    CHECK(value == 0);
    value = 7;
    CHECK_RC(rlc_client_metric(client, 999, &value), RLC_E_INVALID_ARGUMENT);
    CHECK(value == 7);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_WORKER_PANICS, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_client_metric(NULL, RLC_METRIC_WORKER_PANICS, &value), RLC_E_INVALID_ARGUMENT);
    rlc_client_free(client);
}

/* ---- the event callback ---- */

typedef struct {
    pthread_mutex_t mu;
    int retries;
    int other;
    uint32_t last_attempt;
    size_t size;
} event_log;

static void on_event(void *user_data, const rlc_event *event) {
    event_log *log = (event_log *)user_data;
    pthread_mutex_lock(&log->mu);
    log->size = event->size;
    if (event->kind == RLC_EVENT_RETRY && event->status == 503 && event->reason == RLC_OK) {
        log->retries++;
        log->last_attempt = event->attempt;
    } else {
        log->other++;
    }
    pthread_mutex_unlock(&log->mu);
}

static event_log *the_log;

static void watched(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_event_callback(cfg, on_event, the_log), RLC_OK);
    CHECK_RC(rlc_config_set_retry(cfg, 3, 5, 20), RLC_OK);
}

static void events_reach_the_callback(void) {
    event_log log;
    latch l;
    ticket t;
    rlc_request_id id;
    rlc_client *client;

    pthread_mutex_init(&log.mu, NULL);
    log.retries = log.other = 0;
    log.last_attempt = 0;
    log.size = 0;
    the_log = &log;
    latch_init(&l);
    t.latch = &l;
    t.tag = 0;
    CHECK_RC(rlc_config_set_event_callback(NULL, on_event, NULL), RLC_E_INVALID_ARGUMENT);
    client = client_with(base_url, watched);
    CHECK_RC(rlc_submit(client, request("GET", "/flaky/c-events/2"), 0, on_done, &t, &id), RLC_OK);
    CHECK(latch_wait(&l, 1, 30000) == 1);
    CHECK(l.seen[0].status == 200 && l.seen[0].attempts == 3);
    rlc_client_free(client);
    /* Both retries were announced before the completion, and nothing else happened. */
    CHECK(log.retries == 2 && log.last_attempt == 2 && log.other == 0);
    CHECK(log.size == sizeof(rlc_event));
    pthread_mutex_destroy(&log.mu);
    latch_destroy(&l);
}

/* ---- callbacks on workers (rlc_config_set_callbacks_on_workers) ---- */

typedef struct {
    rlc_client *client;
    latch *latch;
    pthread_mutex_t mu;
    int outside;               /* callbacks that did not know they were inside one */
    int send_allowed;          /* rlc_send calls inside a callback that were not refused */
    int free_from_callback;    /* set by the main thread: the next callback frees */
} on_workers;

static void on_worker(void *user_data, rlc_request_id id, rlc_result result,
                      const rlc_response *resp) {
    on_workers *w = (on_workers *)user_data;
    rlc_response *sent = NULL;
    int inside = rlc_client_in_callback(w->client);
    rlc_result send = rlc_send(w->client, request("GET", "/ok"), 0, &sent);
    int free_now;
    pthread_mutex_lock(&w->mu);
    w->outside += !inside;
    w->send_allowed += send != RLC_E_INVALID_STATE;
    free_now = w->free_from_callback;
    w->free_from_callback = 0;
    pthread_mutex_unlock(&w->mu);
    if (sent != NULL) {
        rlc_response_free(sent);
    }
    if (free_now) {
        /* On a worker, inside its own callback: must neither wait for itself nor
         * leave the handle to dangle (valgrind checks). */
        rlc_client_free(w->client);
    }
    latch_record(w->latch, id, result, resp, 0);
}

static void two_workers_with_callbacks_on_them(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_workers(cfg, 2), RLC_OK);
    CHECK_RC(rlc_config_set_callbacks_on_workers(cfg, true), RLC_OK);
}

static void callbacks_on_workers_keep_the_contract(void) {
    latch l;
    on_workers w;
    rlc_request_id id;
    int i;

    CHECK_RC(rlc_config_set_callbacks_on_workers(NULL, true), RLC_E_INVALID_ARGUMENT);
    latch_init(&l);
    pthread_mutex_init(&w.mu, NULL);
    w.client = client_with(base_url, two_workers_with_callbacks_on_them);
    w.latch = &l;
    w.outside = w.send_allowed = w.free_from_callback = 0;
    for (i = 0; i < 20; i++) {
        CHECK_RC(rlc_submit(w.client, request("GET", "/ok"), 0, on_worker, &w, &id), RLC_OK);
    }
    CHECK(latch_wait(&l, 20, 30000) == 20);
    for (i = 0; i < 20; i++) {
        CHECK(l.seen[i].result == RLC_OK && l.seen[i].status == 200);
    }
    /* The last request's callback frees the client on its worker. */
    w.free_from_callback = 1;
    CHECK_RC(rlc_submit(w.client, request("GET", "/ok"), 0, on_worker, &w, &id), RLC_OK);
    CHECK(latch_wait(&l, 21, 30000) == 21);
    CHECK(w.outside == 0);
    CHECK(w.send_allowed == 0);
    /* Let the thread that drops the client finish before valgrind counts leaks. */
    sleep_ms(1000);
    pthread_mutex_destroy(&w.mu);
    latch_destroy(&l);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base_url = argv[1];
    free_inside_a_callback_keeps_the_handle_for_later_callbacks();
    free_async_returns_at_once_and_calls_back_after_every_callback();
    setters_check_their_arguments();
    events_reach_the_callback();
    callbacks_on_workers_keep_the_contract();
    return finish("hardening");
}
