/* Every NULL and bad-input path of every function: each is refused with
 * RLC_E_INVALID_ARGUMENT (or NULL / 0), sets the last error, writes no output
 * argument and never crashes. Run under valgrind: nothing may leak, even when
 * rlc_submit and rlc_send refuse the request they took. argv[1]: the mock API. */
#include "check.h"

#define BAD RLC_E_INVALID_ARGUMENT

static const char *NOT_UTF8 = "\xff\xfe";

static void results_and_last_error(void) {
    static const char *names[] = {
        "RLC_OK", "RLC_E_INVALID_ARGUMENT", "RLC_E_QUEUE_FULL", "RLC_E_CIRCUIT_OPEN",
        "RLC_E_TIMEOUT", "RLC_E_CONNECT", "RLC_E_TLS", "RLC_E_IO", "RLC_E_BODY_TOO_LARGE",
        "RLC_E_CANCELLED", "RLC_E_SHUTDOWN", "RLC_E_UNKNOWN_REQUEST", "RLC_E_INVALID_STATE",
        "RLC_E_PANIC", "RLC_E_REDIRECT",
    };
    int i;
    char buf[8];
    char big[256];
    size_t needed;

    CHECK(RLC_OK == 0);
    CHECK(RLC_E_PANIC == 13 && RLC_E_REDIRECT == 14);
    for (i = 0; i <= (int)RLC_E_REDIRECT; i++) {
        CHECK_STR(rlc_result_str((uint32_t)i), names[i]);
    }
    /* A number that is no code (from a newer header, or garbage) is defined. */
    CHECK_STR(rlc_result_str(15), "RLC_E_UNKNOWN");
    CHECK_STR(rlc_result_str(UINT32_MAX), "RLC_E_UNKNOWN");
    CHECK(RLC_BREAKER_CLOSED == 0 && RLC_BREAKER_OPEN == 1 && RLC_BREAKER_HALF_OPEN == 2);

    /* No error yet on this thread: "" needs one byte. */
    CHECK(rlc_last_error(NULL, 0) == 1);
    big[0] = 'x';
    CHECK(rlc_last_error(big, sizeof big) == 1);
    CHECK(big[0] == '\0');

    /* A failure records a sentence; the size query, truncation and NUL work. */
    CHECK_RC(rlc_config_set_base_url(NULL, "http://x"), BAD);
    needed = rlc_last_error(NULL, 0);
    CHECK(needed > 1);
    CHECK(rlc_last_error(big, sizeof big) == needed);
    CHECK(strlen(big) == needed - 1);
    CHECK(strstr(big, "cfg") != NULL);
    memset(buf, 'x', sizeof buf);
    CHECK(rlc_last_error(buf, sizeof buf) == needed);
    CHECK(buf[sizeof buf - 1] == '\0' && strlen(buf) == sizeof buf - 1);
    CHECK(strncmp(buf, big, sizeof buf - 1) == 0);
    buf[0] = 'x';
    CHECK(rlc_last_error(buf, 0) == needed); /* len 0: nothing written */
    CHECK(buf[0] == 'x');
    /* A later success does not clear it. */
    CHECK_STR(rlc_version(), RLC_VERSION_STRING);
    CHECK(rlc_last_error(NULL, 0) == needed);
}

static void config(void) {
    rlc_config *cfg = rlc_config_new();
    CHECK(cfg != NULL);

    CHECK_RC(rlc_config_set_base_url(NULL, "http://h"), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, NULL), BAD);
    CHECK_LAST_ERROR_SET();
    CHECK_RC(rlc_config_set_base_url(cfg, NOT_UTF8), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, ""), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, "ftp://h"), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, "http://"), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, "http://h /x"), BAD);
    CHECK_RC(rlc_config_set_base_url(cfg, "http://h:8080/api/"), RLC_OK);

    CHECK_RC(rlc_config_set_rate_limit(NULL, 1, 1000), BAD);
    CHECK_RC(rlc_config_set_burst(cfg, 2), BAD); /* before a rate limit */
    CHECK_RC(rlc_config_set_strict_window(cfg, true), BAD);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 0, 1000), BAD);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 1, 0), BAD);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 10, 1000), RLC_OK);
    CHECK_RC(rlc_config_set_burst(NULL, 1), BAD);
    CHECK_RC(rlc_config_set_burst(cfg, 0), BAD);
    CHECK_RC(rlc_config_set_burst(cfg, 5), RLC_OK);
    CHECK_RC(rlc_config_set_strict_window(NULL, true), BAD);
    CHECK_RC(rlc_config_set_strict_window(cfg, true), RLC_OK);
    CHECK_RC(rlc_config_add_rate_limit(NULL, 1, 1, 1), BAD);
    CHECK_RC(rlc_config_add_rate_limit(cfg, 0, 1000, 1), BAD);
    CHECK_RC(rlc_config_add_rate_limit(cfg, 1, 0, 1), BAD);
    CHECK_RC(rlc_config_add_rate_limit(cfg, 1, 1000, 0), BAD);
    CHECK_RC(rlc_config_add_rate_limit(cfg, 1000, 3600000, 1000), RLC_OK);

    CHECK_RC(rlc_config_set_retry(NULL, 3, 100, 1000), BAD);
    CHECK_RC(rlc_config_set_retry(cfg, 3, 0, 1000), BAD);
    CHECK_RC(rlc_config_set_retry(cfg, 3, 100, 10), BAD);
    CHECK_RC(rlc_config_set_retry(cfg, 0, 0, 0), RLC_OK); /* retries off */
    CHECK_RC(rlc_config_set_retry(cfg, 5, 50, 5000), RLC_OK);

    CHECK_RC(rlc_config_set_circuit_breaker(NULL, 5, 1000), BAD);
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 5, 0), BAD);
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 0, 0), RLC_OK); /* 0 disables it */
    CHECK_RC(rlc_config_set_circuit_breaker(cfg, 3, 500), RLC_OK);

    CHECK_RC(rlc_config_set_max_queue_size(NULL, 10), BAD);
    CHECK_RC(rlc_config_set_max_queue_size(cfg, 0), BAD);
    CHECK_RC(rlc_config_set_max_queue_size(cfg, 10), RLC_OK);

    CHECK_RC(rlc_config_set_workers(NULL, 2), BAD);
    CHECK_RC(rlc_config_set_workers(cfg, 0), BAD);
    CHECK_RC(rlc_config_set_workers(cfg, 100000), BAD);
    CHECK_RC(rlc_config_set_workers(cfg, 2), RLC_OK);

    CHECK_RC(rlc_config_set_timeout(NULL, 100), BAD);
    CHECK_RC(rlc_config_set_timeout(cfg, 0), BAD);
    CHECK_RC(rlc_config_set_timeout(cfg, 5000), RLC_OK);

    CHECK_RC(rlc_config_set_default_header(NULL, "X-A", "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, NULL, "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", NULL), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "", "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "Bad Name", "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A:", "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", "1\r\nInjected: yes"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", "line\nbreak"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, NOT_UTF8, "1"), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", NOT_UTF8), BAD);
    CHECK_RC(rlc_config_set_default_header(cfg, "X-A", "secret-token"), RLC_OK);
    {
        /* A refused header value is never quoted back: it may be a secret. */
        char e[256];
        CHECK_RC(rlc_config_set_default_header(cfg, "Authorization", "Bearer hunter2\r\n"), BAD);
        rlc_last_error(e, sizeof e);
        CHECK(strstr(e, "hunter2") == NULL);
    }

    CHECK_RC(rlc_config_set_max_response_bytes(NULL, 10), BAD);
    CHECK_RC(rlc_config_set_max_response_bytes(cfg, 0), BAD);
    CHECK_RC(rlc_config_set_max_response_bytes(cfg, 1024), RLC_OK);

    CHECK_RC(rlc_config_set_user_agent(NULL, "a"), BAD);
    CHECK_RC(rlc_config_set_user_agent(cfg, NULL), BAD);
    CHECK_RC(rlc_config_set_user_agent(cfg, "a\nb"), BAD);
    CHECK_RC(rlc_config_set_user_agent(cfg, NOT_UTF8), BAD);
    CHECK_RC(rlc_config_set_user_agent(cfg, "rlc-test/1"), RLC_OK);
    CHECK_RC(rlc_config_set_ca_bundle(NULL, "/etc/ssl/certs/ca-certificates.crt"), BAD);
    CHECK_RC(rlc_config_set_ca_bundle(cfg, NULL), BAD);
    CHECK_RC(rlc_config_set_ca_bundle(cfg, NOT_UTF8), BAD);
    CHECK_RC(rlc_config_set_ca_bundle(cfg, "/nonexistent/ca.pem"), BAD);

    rlc_config_free(cfg);
    rlc_config_free(NULL);
}

static void requests(void) {
    rlc_request *req;
    const uint8_t bytes[3] = {1, 0, 2};

    CHECK(rlc_request_new(NULL, "/x") == NULL);
    CHECK_LAST_ERROR_SET();
    CHECK(rlc_request_new("GET", NULL) == NULL);
    CHECK(rlc_request_new("", "/x") == NULL);
    CHECK(rlc_request_new("GE T", "/x") == NULL);
    CHECK(rlc_request_new("GET\n", "/x") == NULL);
    CHECK(rlc_request_new(NOT_UTF8, "/x") == NULL);
    CHECK(rlc_request_new("GET", NOT_UTF8) == NULL);
    CHECK(rlc_request_new("GET", "") == NULL);
    CHECK(rlc_request_new("GET", "x") == NULL);
    CHECK(rlc_request_new("GET", "/a b") == NULL);
    CHECK(rlc_request_new("GET", "/a\r\nHost: evil") == NULL);
    CHECK(rlc_request_new("GET", "ftp://h/x") == NULL);
    CHECK(rlc_request_new("GET", "http:///x") == NULL);

    req = rlc_request_new("post", "http://127.0.0.1:9/x");
    CHECK(req != NULL);
    rlc_request_free(req);

    req = rlc_request_new("GET", "/x");
    CHECK(req != NULL);
    CHECK_RC(rlc_request_set_header(NULL, "X-A", "1"), BAD);
    CHECK_RC(rlc_request_set_header(req, NULL, "1"), BAD);
    CHECK_RC(rlc_request_set_header(req, "X-A", NULL), BAD);
    CHECK_RC(rlc_request_set_header(req, "", "1"), BAD);
    CHECK_RC(rlc_request_set_header(req, "Bad Name", "1"), BAD);
    CHECK_RC(rlc_request_set_header(req, "X-A", "1\r\nInjected: yes"), BAD);
    CHECK_RC(rlc_request_set_header(req, "X-A", "1\r"), BAD);
    CHECK_RC(rlc_request_set_header(req, NOT_UTF8, "1"), BAD);
    CHECK_RC(rlc_request_set_header(req, "X-A", NOT_UTF8), BAD);
    CHECK_RC(rlc_request_set_header(req, "X-A", "1"), RLC_OK);
    CHECK_RC(rlc_request_set_header(req, "X-A", "2"), RLC_OK); /* repeats are fine */
    CHECK_RC(rlc_request_set_header(req, "X-Empty", ""), RLC_OK);

    CHECK_RC(rlc_request_set_body(NULL, bytes, 3), BAD);
    CHECK_RC(rlc_request_set_body(req, NULL, 3), BAD);
    CHECK_RC(rlc_request_set_body(req, NULL, 0), RLC_OK);
    CHECK_RC(rlc_request_set_body(req, bytes, 3), RLC_OK);

    CHECK_RC(rlc_request_set_timeout(NULL, 100), BAD);
    CHECK_RC(rlc_request_set_timeout(req, 0), BAD);
    CHECK_RC(rlc_request_set_timeout(req, 100), RLC_OK);
    CHECK_RC(rlc_request_set_deadline(NULL, 100), BAD);
    CHECK_RC(rlc_request_set_deadline(req, 0), BAD);
    CHECK_RC(rlc_request_set_deadline(req, 1000), RLC_OK);
    CHECK_RC(rlc_request_set_retry_non_idempotent(NULL, true), BAD);
    CHECK_RC(rlc_request_set_retry_non_idempotent(req, true), RLC_OK);

    rlc_request_free(req);
    rlc_request_free(NULL);
}

static void responses(void) {
    size_t len = 12345;
    const char *name = "untouched";
    const char *value = "untouched";

    CHECK(rlc_response_status(NULL) == 0);
    CHECK(rlc_response_body(NULL, &len) == NULL);
    CHECK(len == 12345);
    CHECK(rlc_response_header(NULL, "x") == NULL);
    CHECK(rlc_response_header_count(NULL) == 0);
    CHECK_RC(rlc_response_header_at(NULL, 0, &name, &value), BAD);
    CHECK(strcmp(name, "untouched") == 0 && strcmp(value, "untouched") == 0);
    CHECK(rlc_response_attempts(NULL) == 0);
    CHECK(rlc_response_error_message(NULL) == NULL);
    CHECK_LAST_ERROR_SET();
    rlc_response_free(NULL);
}

static void never_called(void *user_data, rlc_request_id id, rlc_result result,
                         const rlc_response *resp) {
    (void)user_data; (void)id; (void)result; (void)resp;
    fprintf(stderr, "a refused request's callback was called\n");
    abort();
}

static void clients(const char *base_url) {
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = (rlc_client *)0x1; /* a sentinel: must stay untouched */
    rlc_client *no_base = NULL;
    rlc_request_id id = 777;
    rlc_response *resp = (rlc_response *)0x1;
    rlc_metrics m;
    char text[16];
    size_t needed = 4242;

    CHECK_RC(rlc_client_new(NULL, &client), BAD);
    CHECK(client == (rlc_client *)0x1);
    CHECK_RC(rlc_client_new(cfg, NULL), BAD);
    rlc_client_free(NULL);

    /* A client without a base URL refuses relative paths (and takes the request). */
    CHECK_RC(rlc_client_new(cfg, &no_base), RLC_OK);
    CHECK_RC(rlc_submit(no_base, request("GET", "/ok"), 0, never_called, NULL, &id), BAD);
    CHECK(id == 777);
    CHECK_RC(rlc_send(no_base, request("GET", "/ok"), 0, &resp), BAD);
    CHECK(resp == (rlc_response *)0x1);
    rlc_client_free(no_base);

    CHECK_RC(rlc_config_set_base_url(cfg, base_url), RLC_OK);
    client = NULL;
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    CHECK(client != NULL);
    rlc_config_free(cfg); /* the client made its own copy */

    /* rlc_submit takes the request in every case: valgrind sees a leak otherwise. */
    CHECK_RC(rlc_submit(NULL, request("GET", "/ok"), 0, never_called, NULL, &id), BAD);
    CHECK_RC(rlc_submit(client, NULL, 0, never_called, NULL, &id), BAD);
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 0, NULL, NULL, &id), BAD);
    CHECK_RC(rlc_submit(client, request("GET", "/ok"), 0, never_called, NULL, NULL), BAD);
    CHECK(id == 777);

    CHECK_RC(rlc_send(NULL, request("GET", "/ok"), 0, &resp), BAD);
    CHECK_RC(rlc_send(client, NULL, 0, &resp), BAD);
    CHECK_RC(rlc_send(client, request("GET", "/ok"), 0, NULL), BAD);
    CHECK(resp == (rlc_response *)0x1);

    CHECK_RC(rlc_cancel(NULL, 1), BAD);
    CHECK_RC(rlc_cancel(client, 0), RLC_E_UNKNOWN_REQUEST);
    CHECK_RC(rlc_cancel(client, 123456), RLC_E_UNKNOWN_REQUEST);
    CHECK_LAST_ERROR_SET();

    CHECK(!rlc_client_in_callback(NULL));
    CHECK(!rlc_client_in_callback(client));

    memset(&m, 0xAB, sizeof m);
    CHECK_RC(rlc_client_metrics(NULL, &m), BAD);
    CHECK(m.submitted == 0xABABABABABABABABull);
    CHECK_RC(rlc_client_metrics(client, NULL), BAD);
    CHECK_RC(rlc_client_metrics(client, &m), RLC_OK);
    CHECK(m.submitted == 0);
    CHECK(m.breaker_state == RLC_BREAKER_CLOSED);
    CHECK(m.tokens_available == UINT64_MAX); /* no rate limit */

    CHECK_RC(rlc_client_metrics_prometheus(NULL, text, sizeof text, &needed), BAD);
    CHECK_RC(rlc_client_metrics_prometheus(client, text, sizeof text, NULL), BAD);
    CHECK_RC(rlc_client_metrics_prometheus(client, NULL, 10, &needed), BAD);
    CHECK(needed == 4242);
    CHECK_RC(rlc_client_metrics_prometheus(client, NULL, 0, &needed), RLC_OK);
    CHECK(needed > sizeof text);
    text[0] = 'x';
    CHECK_RC(rlc_client_metrics_prometheus(client, text, sizeof text, &needed), RLC_OK);
    CHECK(text[0] == '\0'); /* too small: "" and the size */

    rlc_client_free(client);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    results_and_last_error();
    config();
    requests();
    responses();
    clients(argv[1]);
    return finish("bad_input");
}
