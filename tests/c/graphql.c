/* GraphQL from C: a query built with rlc_graphql_request_new, its estimated and given
 * cost, a cost limit, the data and the errors of the answers, THROTTLED counted, and
 * garbage refused with RLC_E_GRAPHQL. argv[1]: the mock API (unused); argv[2]: a
 * GraphQL endpoint charging by Shopify's cost model. Leak-free under valgrind. */
#include "check.h"

static const char *GITHUB_51 =
    "query { viewer { login repositories(first: 100) { edges { node { id "
    "issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } } "
    "} } } } }";

/* Whether the `len` bytes at `data` hold `needle`. */
static int contains(const uint8_t *data, size_t len, const char *needle) {
    size_t n = strlen(needle), i;
    for (i = 0; i + n <= len; i++) {
        if (memcmp(data + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void building(void) {
    rlc_request *req = NULL;
    uint32_t points = 0;
    char msg[256];

    CHECK_RC(rlc_graphql_request_new("/graphql", GITHUB_51, NULL, NULL, &req), RLC_OK);
    CHECK_RC(rlc_graphql_request_points(req, &points), RLC_OK);
    CHECK(points == 51);
    CHECK_RC(rlc_request_set_cost(req, 7), RLC_OK);
    CHECK_RC(rlc_graphql_request_points(req, &points), RLC_OK);
    CHECK(points == 7);
    rlc_request_free(req);

    /* Garbage is refused at once, with a sentence, and *out is left alone. */
    req = NULL;
    CHECK_RC(rlc_graphql_request_new("/graphql", "query {", NULL, NULL, &req), RLC_E_GRAPHQL);
    CHECK(req == NULL);
    rlc_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "does not parse") != NULL);
    CHECK_RC(rlc_graphql_request_new("/graphql", "{ a }", "[1, 2]", NULL, &req), RLC_E_GRAPHQL);
    rlc_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "JSON object") != NULL);
    CHECK_RC(rlc_graphql_request_new("/graphql", "query A { a } query B { b }", NULL, NULL, &req),
             RLC_E_GRAPHQL);
    CHECK_RC(rlc_graphql_request_new(NULL, "{ a }", NULL, NULL, &req), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_graphql_request_new("/graphql", NULL, NULL, NULL, &req), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_graphql_request_new("/graphql", "{ a }", NULL, NULL, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK(req == NULL);
    CHECK_STR(rlc_result_str(RLC_E_GRAPHQL), "RLC_E_GRAPHQL");
    CHECK(RLC_E_GRAPHQL == 18);

    /* A plain request has no point cost to read. */
    req = rlc_request_new("GET", "/x");
    CHECK_RC(rlc_graphql_request_points(req, &points), RLC_E_INVALID_ARGUMENT);
    rlc_request_free(req);
    CHECK_RC(rlc_config_set_cost_limit(NULL, 1, 1), RLC_E_INVALID_ARGUMENT);
    CHECK(rlc_response_graphql_errors(NULL) == NULL);
}

static void answers(const char *endpoint) {
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    rlc_request *req = NULL;
    rlc_response *resp = NULL;
    const uint8_t *body;
    size_t len = 0;
    uint64_t value = 0;
    const char *errors;

    CHECK_RC(rlc_config_set_base_url(cfg, endpoint), RLC_OK);
    CHECK_RC(rlc_config_set_cost_limit(cfg, 0, 1000), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_cost_limit(cfg, 1000, 20000), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    rlc_config_free(cfg);

    /* Data, with the variables passed through. */
    CHECK_RC(rlc_graphql_request_new("/graphql", "query Q($n: Int) { items(first: $n) { nodes { id } } }",
                                     "{\"n\": 5}", "Q", &req),
             RLC_OK);
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_OK);
    CHECK(rlc_response_status(resp) == 200);
    CHECK(rlc_response_graphql_errors(resp) == NULL);
    body = rlc_response_body(resp, &len);
    CHECK(len > 0 && contains(body, len, "\"n\":5"));
    rlc_response_free(resp);

    /* A GraphQL error completes normally; its errors array is handed back. */
    CHECK_RC(rlc_graphql_request_new("/graphql", "{ fail }", NULL, NULL, &req), RLC_OK);
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_OK);
    CHECK(rlc_response_status(resp) == 200);
    errors = rlc_response_graphql_errors(resp);
    CHECK(errors != NULL && errors[0] == '[' && strstr(errors, "doesn't exist") != NULL);
    rlc_response_free(resp);

    /* A cost above what the limit ever holds is refused at submit. */
    CHECK_RC(rlc_graphql_request_new("/graphql", "{ a }", NULL, NULL, &req), RLC_OK);
    CHECK_RC(rlc_request_set_cost(req, 1001), RLC_OK);
    CHECK_RC(rlc_send(client, req, 0, &resp), RLC_E_INVALID_ARGUMENT);

    CHECK_RC(rlc_client_metric(client, RLC_METRIC_GRAPHQL_POINTS, &value), RLC_OK);
    CHECK(value == 7);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_GRAPHQL_ERRORS, &value), RLC_OK);
    CHECK(value == 1);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_GRAPHQL_THROTTLED, &value), RLC_OK);
    CHECK(value == 0);
    rlc_client_free(client);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: graphql MOCK_URL GRAPHQL_URL\n");
        return 2;
    }
    building();
    answers(argv[2]);
    return finish("graphql");
}
