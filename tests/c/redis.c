/* The shared limit: rlc_config_set_redis and its options (argument checks), a client
 * sharing a limit through a real redis-server, its metrics and events, and
 * RLC_E_REDIS for a server that is no Redis. argv[1]: the mock API's base URL,
 * argv[2]: the redis:// URL of a redis-server the test started. */
#include "check.h"

static int lost_or_back = 0;

static void on_event(void *user_data, const rlc_event *e) {
    (void)user_data;
    if (e->kind == RLC_EVENT_REDIS) lost_or_back++;
}

static void options(const char *redis_url) {
    rlc_config *cfg = rlc_config_new();
    CHECK_RC(rlc_config_set_redis(NULL, redis_url, "k"), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis(cfg, NULL, "k"), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis(cfg, redis_url, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis(cfg, "http://127.0.0.1:1", "k"), RLC_E_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_SET();
    CHECK_RC(rlc_config_set_redis(cfg, redis_url, ""), RLC_E_INVALID_ARGUMENT);
    /* Policy and share need Redis first. */
    CHECK_RC(rlc_config_set_redis_failure(cfg, RLC_REDIS_FAIL_OPEN), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis(cfg, redis_url, "k"), RLC_OK);
    CHECK_RC(rlc_config_set_redis_failure(cfg, RLC_REDIS_FAIL_CLOSED), RLC_OK);
    CHECK_RC(rlc_config_set_redis_failure(cfg, 7), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis_local_share(cfg, 0), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis_local_share(cfg, 101), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis_local_share(cfg, 50), RLC_OK);
    CHECK_RC(rlc_config_set_redis_max_lease(cfg, 0), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_redis_max_lease(cfg, 4), RLC_OK);
    CHECK_STR(rlc_result_str(RLC_E_REDIS), "RLC_E_REDIS");
    CHECK(RLC_E_REDIS == 19);
    rlc_config_free(cfg);
}

static void shared(const char *api, const char *redis_url) {
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    uint64_t value = 0;
    int i;

    CHECK_RC(rlc_config_set_base_url(cfg, api), RLC_OK);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 50, 1000), RLC_OK);
    CHECK_RC(rlc_config_set_redis(cfg, redis_url, "c-test"), RLC_OK);
    CHECK_RC(rlc_config_set_event_callback(cfg, on_event, NULL), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    rlc_config_free(cfg);
    if (!client) return;
    for (i = 0; i < 5; i++) {
        rlc_response *resp = NULL;
        CHECK_RC(rlc_send(client, request("GET", "/ok"), 0, &resp), RLC_OK);
        if (resp) {
            CHECK(rlc_response_status(resp) == 200);
            rlc_response_free(resp);
        }
    }
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIS_STATE, &value), RLC_OK);
    CHECK(value == RLC_REDIS_CONNECTED);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIS_ROUND_TRIPS, &value), RLC_OK);
    CHECK(value >= 2);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIS_TOKENS_LEASED, &value), RLC_OK);
    CHECK(value >= 5);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIS_DOWN_MS, &value), RLC_OK);
    CHECK(value == 0);
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_REDIS_CLIENTS, &value), RLC_OK);
    CHECK(value == 1);
    CHECK(lost_or_back == 0);
    rlc_client_free(client);
}

static void not_redis(const char *api, const char *http_addr) {
    rlc_config *cfg = rlc_config_new();
    rlc_client *client = NULL;
    char url[256];
    snprintf(url, sizeof url, "redis://:secret-pw@%s/0", http_addr);
    CHECK_RC(rlc_config_set_base_url(cfg, api), RLC_OK);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 5, 1000), RLC_OK);
    CHECK_RC(rlc_config_set_redis(cfg, url, "k"), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_E_REDIS);
    CHECK(client == NULL);
    {
        char msg[512];
        rlc_last_error(msg, sizeof msg);
        CHECK(strstr(msg, "secret-pw") == NULL);
    }
    rlc_config_free(cfg);
}

int main(int argc, char **argv) {
    if (argc < 3 || strncmp(argv[1], "http://", 7) != 0) {
        fprintf(stderr, "usage: redis http://<api-host:port> <redis-url>\n");
        return 2;
    }
    options(argv[2]);
    shared(argv[1], argv[2]);
    /* The mock API's address speaks HTTP, not Redis. */
    not_redis(argv[1], argv[1] + 7);
    return finish("redis");
}
