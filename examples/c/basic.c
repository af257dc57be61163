/* basic.c: send one GET request with rlc and print what came back.
 *
 *   cc -std=c11 basic.c -I include -L target/release -lrlc -o basic
 *   ./basic http://127.0.0.1:8080
 *
 * argv[1] is the API's base URL (default http://127.0.0.1:8080); `make examples`
 * runs this against the mock API. */
#include <stdio.h>

#include "rlc.h"

int main(int argc, char **argv) {
    const char *base_url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    rlc_request *req;
    rlc_response *resp = NULL;
    const uint8_t *body;
    size_t len = 0;
    char why[256];

    /* A config is a builder: set what differs from the defaults (there is no rate
     * limit until you set one), start a client from it, then free it: the client
     * keeps its own copy. */
    if (cfg == NULL || rlc_config_set_base_url(cfg, base_url) != RLC_OK ||
        rlc_config_set_rate_limit(cfg, 10, 1000) != RLC_OK || /* at most 10 a second */
        rlc_client_new(cfg, &client) != RLC_OK) {
        rlc_last_error(why, sizeof why); /* a sentence about the call that failed */
        fprintf(stderr, "cannot start a client: %s\n", why);
        rlc_config_free(cfg);
        return 1;
    }
    rlc_config_free(cfg);

    /* Paths starting with '/' are joined to the base URL. */
    req = rlc_request_new("GET", "/ok");
    rlc_request_set_header(req, "Accept", "text/plain");

    /* rlc_send queues the request, waits for its answer and takes the request
     * whatever happens: don't free it. Any HTTP status is a success here (check
     * rlc_response_status); a failure means no response came at all. */
    if (rlc_send(client, req, 0, &resp) != RLC_OK) {
        rlc_last_error(why, sizeof why);
        fprintf(stderr, "GET /ok failed: %s\n", why);
        rlc_client_free(client);
        return 1;
    }
    body = rlc_response_body(resp, &len); /* bytes, not NUL-terminated */
    printf("GET %s/ok -> %u after %u attempt(s)\n", base_url, rlc_response_status(resp),
           rlc_response_attempts(resp));
    printf("body: %.*s\n", (int)len, (const char *)body);

    rlc_response_free(resp);  /* rlc_send's response is ours to free */
    rlc_client_free(client);  /* waits for anything still in flight */
    return 0;
}
