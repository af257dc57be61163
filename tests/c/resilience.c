/* Failures: retries (/flaky/k/2 -> 200 after 3 attempts), the breaker opening
 * (threshold 2 against /down with retries off -> RLC_E_CIRCUIT_OPEN at submit, no
 * callback), timeouts, a request deadline, the response size cap, broken HTTP.
 * argv[1]: the mock API's base URL; argv[2], argv[3]: servers that answer malformed
 * HTTP and truncate the body. */
#include "check.h"

#include <unistd.h>

static const char *base_url;

/* A /flaky path whose key is new to the server, so a reused server works too. */
static const char *flaky(const char *method_tag, int failures_first) {
    static char paths[8][96];
    static int next = 0;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "/flaky/c-%s-%ld-%ld/%d", method_tag, (long)getpid(),
             (long)time(NULL), failures_first);
    return p;
}

static void never_called(void *user_data, rlc_request_id id, rlc_result result,
                         const rlc_response *resp) {
    (void)user_data; (void)id; (void)result; (void)resp;
    fprintf(stderr, "a refused request's callback was called\n");
    abort();
}

static void fast_retries(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_retry(cfg, 3, 10, 50), RLC_OK);
}

static void retries(void) {
    rlc_client *client = client_with(base_url, fast_retries);
    rlc_response *resp = NULL;
    rlc_metrics m;
    latch l;
    ticket t;
    rlc_request_id id;
    rlc_request *post;

    CHECK_RC(rlc_send(client, request("GET", flaky("r1", 2)), 0, &resp), RLC_OK);
    if (resp) {
        CHECK(rlc_response_status(resp) == 200);
        CHECK(rlc_response_attempts(resp) == 3);
        rlc_response_free(resp);
    }

    /* The same through a callback. */
    latch_init(&l);
    t.latch = &l;
    t.tag = 0;
    CHECK_RC(rlc_submit(client, request("GET", flaky("r2", 1)), 0, on_done, &t, &id), RLC_OK);
    CHECK(latch_wait(&l, 1, 30000) == 1);
    CHECK(l.seen[0].result == RLC_OK && l.seen[0].status == 200 && l.seen[0].attempts == 2);
    latch_destroy(&l);

    /* POST is not retried unless the request opts in. */
    resp = NULL;
    CHECK_RC(rlc_send(client, request("POST", flaky("r3", 1)), 0, &resp), RLC_OK);
    if (resp) {
        CHECK(rlc_response_status(resp) == 503);
        CHECK(rlc_response_attempts(resp) == 1);
        rlc_response_free(resp);
    }
    post = request("POST", flaky("r4", 1));
    CHECK_RC(rlc_request_set_retry_non_idempotent(post, true), RLC_OK);
    resp = NULL;
    CHECK_RC(rlc_send(client, post, 0, &resp), RLC_OK);
    if (resp) {
        CHECK(rlc_response_status(resp) == 200);
        CHECK(rlc_response_attempts(resp) == 2);
        rlc_response_free(resp);
    }

    /* Retries give up after max_retries: 4 attempts, the last answer (503) stands. */
    resp = NULL;
    CHECK_RC(rlc_send(client, request("GET", flaky("r5", 10)), 0, &resp), RLC_OK);
    if (resp) {
        CHECK(rlc_response_status(resp) == 503);
        CHECK(rlc_response_attempts(resp) == 4);
        rlc_response_free(resp);
    }

    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.retries >= 2 + 1 + 1 + 3);
    CHECK(m.succeeded >= 3);
    CHECK(m.http_5xx >= 2);
    rlc_client_free(client);
}

static void breaker_of_two(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_retry(cfg, 0, 0, 0), RLC_OK);
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 2, 60000), RLC_OK);
}

static void breaker_opens(void) {
    rlc_client *client = client_with(base_url, breaker_of_two);
    rlc_response *resp = NULL;
    rlc_request_id id = 4242;
    rlc_metrics m;
    int i;

    for (i = 0; i < 2; i++) {
        resp = NULL;
        CHECK_RC(rlc_send(client, request("GET", "/down"), 0, &resp), RLC_OK);
        if (resp) {
            CHECK(rlc_response_status(resp) == 503);
            rlc_response_free(resp);
        }
    }
    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.breaker_state == RLC_BREAKER_OPEN);
    CHECK(m.breaker_transitions >= 1);
    /* Open: refused at submit, at once, with no callback; the request is freed. */
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 0, never_called, NULL, &id), RLC_E_CIRCUIT_OPEN);
    CHECK(id == 4242);
    CHECK_LAST_ERROR_SET();
    resp = (rlc_response *)0x1;
    CHECK_RC(rlc_send(client, request("GET", "/ok"), 0, &resp), RLC_E_CIRCUIT_OPEN);
    CHECK(resp == (rlc_response *)0x1);
    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.circuit_open >= 2);
    CHECK(m.http_5xx == 2);
    rlc_client_free(client);
}

static void no_retries_no_breaker(rlc_config *cfg) {
    CHECK_RC(rlc_config_set_retry(cfg, 0, 0, 0), RLC_OK);
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 0, 0), RLC_OK);
    CHECK_RC(rlc_config_set_max_response_bytes(cfg, 1000), RLC_OK);
    CHECK_RC(rlc_config_set_timeout(cfg, 10000), RLC_OK);
}

static void timeouts_and_caps(void) {
    rlc_client *client = client_with(base_url, no_retries_no_breaker);
    rlc_response *resp = (rlc_response *)0x1;
    rlc_request *req;
    rlc_metrics m;
    latch l;
    ticket t;
    rlc_request_id id;

    /* An attempt's timeout. */
    req = request("GET", "/slow/5000");
    CHECK_RC(rlc_request_set_timeout(req, 200), RLC_OK);
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_E_TIMEOUT);
    CHECK(resp == (rlc_response *)0x1);

    /* A deadline, through a callback: status 0 and a reason. */
    latch_init(&l);
    t.latch = &l;
    t.tag = 0;
    req = request("GET", "/slow/5000");
    CHECK_RC(rlc_request_set_deadline(req, 200), RLC_OK);
    CHECK_RC(rlc_submit(client, req, 0, on_done, &t, &id), RLC_OK);
    CHECK(latch_wait(&l, 1, 30000) == 1);
    CHECK(l.seen[0].result == RLC_E_TIMEOUT);
    CHECK(l.seen[0].status == 0 && l.seen[0].error[0] != '\0');
    latch_destroy(&l);

    /* The response cap: 1000 bytes. */
    resp = NULL;
    CHECK_RC(rlc_send(client, request("GET", "/bytes/1000"), 0, &resp), RLC_OK);
    if (resp) rlc_response_free(resp);
    resp = (rlc_response *)0x1;
    CHECK_RC(rlc_send(client, request("GET", "/bytes/5000"), 0, &resp), RLC_E_BODY_TOO_LARGE);
    CHECK(resp == (rlc_response *)0x1);

    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.timeouts == 2);
    CHECK(m.other_errors >= 1);
    rlc_client_free(client);
}

/* Servers that break HTTP: a malformed answer and a truncated body are RLC_E_IO. */
static void broken_servers(const char *malformed_url, const char *truncated_url) {
    rlc_client *client = client_with(base_url, no_retries_no_breaker);
    const char *urls[2];
    char url[256];
    int i;

    urls[0] = malformed_url;
    urls[1] = truncated_url;
    for (i = 0; i < 2; i++) {
        rlc_response *resp = (rlc_response *)0x1;
        latch l;
        ticket t;
        rlc_request_id id;

        snprintf(url, sizeof url, "%s/x", urls[i]);
        CHECK_RC(rlc_send(client, request("GET", url), 0, &resp), RLC_E_IO);
        CHECK(resp == (rlc_response *)0x1);
        CHECK_LAST_ERROR_SET();

        latch_init(&l);
        t.latch = &l;
        t.tag = 0;
        CHECK_RC(rlc_submit(client, request("GET", url), 0, on_done, &t, &id), RLC_OK);
        CHECK(latch_wait(&l, 1, 30000) == 1);
        CHECK(l.seen[0].result == RLC_E_IO);
        CHECK(l.seen[0].status == 0 && l.seen[0].attempts == 1 && l.seen[0].error[0] != '\0');
        latch_destroy(&l);
    }
    rlc_client_free(client);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s BASE_URL MALFORMED_URL TRUNCATED_URL\n", argv[0]);
        return 2;
    }
    base_url = argv[1];
    retries();
    breaker_opens();
    timeouts_and_caps();
    broken_servers(argv[2], argv[3]);
    return finish("resilience");
}
