/* The happy paths: rlc_send and rlc_submit, a binary body round trip, headers in
 * and out (lookup and iteration), HTTP errors as responses, callbacks (never NULL,
 * on the completion thread, borrowed response), rlc_send refused inside a callback,
 * metrics and the Prometheus text. argv[1]: the mock API's base URL. */
#include "check.h"

static rlc_client *client;

static void tune(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_workers(cfg, 2), RLC_OK);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-Default", "from-config"), RLC_OK);
    CHECK_RC(rlc_config_set_user_agent(cfg, "rlc-c-test/1"), RLC_OK);
    /* The connect errors below must neither open the breaker nor take long. */
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 0, 0), RLC_OK);
    CHECK_RC(rlc_config_set_retry(cfg, 1, 10, 50), RLC_OK);
}

static void send_ok(void) {
    rlc_response *resp = NULL;
    size_t len = 0;
    const uint8_t *body;

    CHECK_RC(rlc_send(client, request("GET", "/ok"), 0, &resp), RLC_OK);
    if (!resp) return;
    CHECK(rlc_response_status(resp) == 200);
    CHECK(rlc_response_attempts(resp) == 1);
    CHECK_STR(rlc_response_error_message(resp), "");
    body = rlc_response_body(resp, &len);
    CHECK(body != NULL && len == 2 && memcmp(body, "ok", 2) == 0);
    rlc_response_free(resp);
}

static void binary_body_and_headers_in(void) {
    uint8_t data[1024];
    rlc_request *req = request("POST", "/echo");
    rlc_response *resp = NULL;
    size_t i, len = 0;
    const uint8_t *body;

    for (i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7); /* every byte value, NULs included */
    }
    CHECK_RC(rlc_request_set_body(req, data, sizeof data), RLC_OK);
    CHECK_RC(rlc_request_set_header(req, "X-Custom", "hello world"), RLC_OK);
    CHECK_RC(rlc_request_set_header(req, "Content-Type", "application/octet-stream"), RLC_OK);
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_OK);
    if (!resp) return;
    CHECK(rlc_response_status(resp) == 200);
    body = rlc_response_body(resp, &len);
    CHECK(len == sizeof data);
    CHECK(body != NULL && memcmp(body, data, sizeof data) == 0);
    CHECK_STR(rlc_response_header(resp, "x-method"), "POST");
    CHECK_STR(rlc_response_header(resp, "x-echo-x-custom"), "hello world");
    CHECK_STR(rlc_response_header(resp, "X-Echo-X-Default"), "from-config");
    CHECK_STR(rlc_response_header(resp, "x-echo-user-agent"), "rlc-c-test/1");
    rlc_response_free(resp);

    /* A request's own header wins over the default of that name. */
    req = request("GET", "/echo");
    CHECK_RC(rlc_request_set_header(req, "x-default", "from-request"), RLC_OK);
    resp = NULL;
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_OK);
    if (!resp) return;
    CHECK_STR(rlc_response_header(resp, "x-echo-x-default"), "from-request");
    body = rlc_response_body(resp, &len);
    CHECK(body != NULL && len == 0); /* empty body: valid pointer, 0 bytes */
    rlc_response_free(resp);
}

static void headers_out(void) {
    rlc_response *resp = NULL;
    size_t i, count;
    int one = 0, multi_a = 0, multi_b = 0;
    const char *name = "untouched", *value = "untouched";

    CHECK_RC(rlc_send(client, request("GET", "/headers"), 0, &resp), RLC_OK);
    if (!resp) return;
    CHECK_STR(rlc_response_header(resp, "x-one"), "1");
    CHECK_STR(rlc_response_header(resp, "X-ONE"), "1"); /* names compare without case */
    CHECK_STR(rlc_response_header(resp, "x-multi"), "a"); /* the first one */
    CHECK(rlc_response_header(resp, "x-absent") == NULL);
    CHECK(rlc_response_header(resp, NULL) == NULL);
    count = rlc_response_header_count(resp);
    CHECK(count >= 4);
    for (i = 0; i < count; i++) {
        CHECK_RC(rlc_response_header_at(resp, i, &name, &value), RLC_OK);
        if (strcmp(name, "x-one") == 0) one++;
        if (strcmp(name, "x-multi") == 0 && strcmp(value, "a") == 0) multi_a++;
        if (strcmp(name, "x-multi") == 0 && strcmp(value, "b") == 0) multi_b++;
    }
    CHECK(one == 1 && multi_a == 1 && multi_b == 1);
    name = value = "untouched";
    CHECK_RC(rlc_response_header_at(resp, count, &name, &value), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_response_header_at(resp, (size_t)-1, &name, &value), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_response_header_at(resp, 0, NULL, &value), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_response_header_at(resp, 0, &name, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK(strcmp(name, "untouched") == 0 && strcmp(value, "untouched") == 0);
    CHECK(rlc_response_body(resp, NULL) == NULL);
    rlc_response_free(resp);
}

static void http_errors_are_responses(void) {
    rlc_response *resp = NULL;
    size_t len = 0;
    const uint8_t *body;

    CHECK_RC(rlc_send(client, request("GET", "/status/404"), 0, &resp), RLC_OK);
    if (resp) {
        CHECK(rlc_response_status(resp) == 404);
        CHECK(rlc_response_attempts(resp) == 1);
        CHECK_STR(rlc_response_error_message(resp), "");
        rlc_response_free(resp);
    }
    resp = NULL;
    CHECK_RC(rlc_send(client, request("GET", "/bytes/100000"), 0, &resp), RLC_OK);
    if (resp) {
        size_t i, bad = 0;
        body = rlc_response_body(resp, &len);
        CHECK(len == 100000);
        for (i = 0; body && i < len; i++) {
            if (body[i] != (uint8_t)(i % 251)) bad++;
        }
        CHECK(bad == 0);
        rlc_response_free(resp);
    }
}

/* ---- callbacks ---- */

typedef struct {
    latch done;
    rlc_request_id id_seen;
    int on_completion_thread;
    int send_refused;
    int free_refused;
    uint16_t status;
    char body[8];
    pthread_t submitter;
} callback_state;

static void on_ok(void *user_data, rlc_request_id id, rlc_result result, const rlc_response *resp) {
    callback_state *st = (callback_state *)user_data;
    size_t len = 0;
    const uint8_t *body = rlc_response_body(resp, &len);
    rlc_response *out = (rlc_response *)0x1;
    rlc_result rc;

    st->id_seen = id;
    st->status = rlc_response_status(resp);
    if (body && len < sizeof st->body) {
        memcpy(st->body, body, len);
        st->body[len] = '\0';
    }
    st->on_completion_thread = rlc_client_in_callback(client) &&
                               !pthread_equal(pthread_self(), st->submitter);
    /* A blocking send would deadlock the completion thread: refused, and it still
     * takes the request. */
    rc = rlc_send(client, request("GET", "/ok"), 0, &out);
    st->send_refused = rc == RLC_E_INVALID_STATE && out == (rlc_response *)0x1;
    /* The response is borrowed: freeing it is refused, and it stays usable. */
    rlc_response_free((rlc_response *)resp);
    st->free_refused = rlc_response_status(resp) == st->status;
    latch_record(&st->done, id, result, resp, 0);
}

static void callbacks(void) {
    callback_state st;
    rlc_request_id id = 0;

    memset(&st, 0, sizeof st);
    latch_init(&st.done);
    st.submitter = pthread_self();
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 5, on_ok, &st, &id), RLC_OK);
    CHECK(id != 0);
    CHECK(latch_wait(&st.done, 1, 30000) == 1);
    sleep_ms(50); /* exactly once: no second call */
    CHECK(latch_count(&st.done) == 1);
    CHECK(st.id_seen == id);
    CHECK(st.done.seen[0].result == RLC_OK);
    CHECK(st.status == 200);
    CHECK(strcmp(st.body, "ok") == 0);
    CHECK(st.on_completion_thread);
    CHECK(st.send_refused);
    CHECK(st.free_refused);
    CHECK(!rlc_client_in_callback(client));
    /* Done: cancelling it now is an unknown request. */
    CHECK_RC(rlc_cancel(client, id), RLC_E_UNKNOWN_REQUEST);
    latch_destroy(&st.done);
}

static void error_completion(void) {
    /* A request that never gets an HTTP response completes with a non-NULL response
     * whose status is 0 and whose message says why. Port 1 refuses connections. */
    latch l;
    ticket t;
    rlc_request_id id = 0;
    rlc_response *resp = (rlc_response *)0x1;
    rlc_request *req = request("GET", "http://127.0.0.1:1/nothing");

    latch_init(&l);
    t.latch = &l;
    t.tag = 0;
    CHECK_RC(rlc_request_set_deadline(req, 60000), RLC_OK);
    CHECK_RC(rlc_submit(client, req, 0, on_done, &t, &id), RLC_OK);
    CHECK(latch_wait(&l, 1, 60000) == 1);
    CHECK(l.seen[0].result == RLC_E_CONNECT);
    CHECK(l.seen[0].status == 0);
    CHECK(l.seen[0].attempts >= 1);
    CHECK(l.seen[0].error[0] != '\0');
    latch_destroy(&l);

    /* rlc_send reports it as its result, sets the last error, leaves *out alone. */
    CHECK_RC(rlc_send(client, request("GET", "http://127.0.0.1:1/nothing"), 0, &resp), RLC_E_CONNECT);
    CHECK(resp == (rlc_response *)0x1);
    CHECK_LAST_ERROR_SET();
}

static void metrics(void) {
    rlc_metrics m;
    size_t needed = 0, again = 0;
    char *text;

    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.submitted >= 8);
    CHECK(m.succeeded >= 6);
    CHECK(m.http_4xx >= 1);
    CHECK(m.connect_errors >= 2);
    CHECK(m.queue_depth == 0);
    CHECK(m.in_flight == 0);
    CHECK(m.breaker_state == RLC_BREAKER_CLOSED);
    CHECK(m.latency_p50_us > 0);
    CHECK(m.latency_p50_us <= m.latency_p90_us && m.latency_p90_us <= m.latency_p99_us);
    CHECK(m.attempt_p50_us > 0);
    CHECK(m.tokens_available == UINT64_MAX);

    CHECK_RC(rlc_client_metrics_prometheus(client, NULL, 0, &needed), RLC_OK);
    CHECK(needed > 100);
    text = (char *)malloc(needed + 256);
    CHECK_RC(rlc_client_metrics_prometheus(client, text, needed + 256, &again), RLC_OK);
    CHECK(again <= needed + 256 && strlen(text) == again - 1);
    CHECK(strstr(text, "rlc_requests_submitted_total") != NULL);
    CHECK(strstr(text, "# TYPE") != NULL);
    free(text);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    CHECK_STR(rlc_version(), RLC_VERSION_STRING);
    client = client_with(argv[1], tune);
    send_ok();
    binary_body_and_headers_in();
    headers_out();
    http_errors_are_responses();
    callbacks();
    error_completion();
    metrics();
    rlc_client_free(client);
    return finish("basic");
}
