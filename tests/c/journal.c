/* The persistent queue through the C ABI: a client leaves its unsent requests in the
 * journal, the next one recovers them with their tags; a second live client, a file
 * that is not rlc's, and a missing journal are refused with clear errors.
 * argv[1]: the mock API's base URL; argv[2]: a scratch directory. */

#include "check.h"

#define TAGS_MAX 8

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
    rlc_result result[TAGS_MAX];
    uint16_t status[TAGS_MAX];
    char tag[TAGS_MAX][32];
} tags_seen;

static void on_tagged(void *user_data, rlc_request_id id, rlc_result result,
                    const rlc_response *resp) {
    tags_seen *t = user_data;
    (void)id;
    pthread_mutex_lock(&t->mu);
    if (t->count < TAGS_MAX) {
        t->result[t->count] = result;
        t->status[t->count] = rlc_response_status(resp);
        snprintf(t->tag[t->count], sizeof t->tag[0], "%s", rlc_response_tag(resp));
    }
    t->count++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void wait_for(tags_seen *t, int n) {
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&t->mu);
        int count = t->count;
        pthread_mutex_unlock(&t->mu);
        if (count >= n) {
            return;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "timed out waiting for %d callbacks\n", n);
    failures++;
}

static int seen_tag(tags_seen *t, const char *tag, rlc_result result, uint16_t status) {
    for (int i = 0; i < t->count && i < TAGS_MAX; i++) {
        if (strcmp(t->tag[i], tag) == 0 && t->result[i] == result && t->status[i] == status) {
            return 1;
        }
    }
    return 0;
}

static rlc_config *journaled(const char *url, const char *path) {
    rlc_config *cfg = rlc_config_new();
    CHECK_RC(rlc_config_set_base_url(cfg, url), RLC_OK);
    CHECK_RC(rlc_config_set_journal(cfg, path), RLC_OK);
    return cfg;
}

static void submit_tagged(rlc_client *client, const char *tag, tags_seen *t) {
    rlc_request *req = rlc_request_new("POST", "/ok");
    rlc_request_id id;
    CHECK_RC(rlc_request_set_tag(req, tag), RLC_OK);
    CHECK_RC(rlc_submit(client, req, 0, on_tagged, t, &id), RLC_OK);
}

static void last_error_contains(const char *needle) {
    char msg[512];
    rlc_last_error(msg, sizeof msg);
    if (strstr(msg, needle) == NULL) {
        fprintf(stderr, "last error \"%s\" does not say \"%s\"\n", msg, needle);
        failures++;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE_URL SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/c-journal.db", argv[2]);
    remove(path);

    /* One request a minute: the first goes, the other two stay queued. */
    tags_seen first = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, {{0}}};
    rlc_config *cfg = journaled(argv[1], path);
    CHECK_RC(rlc_config_set_rate_limit(cfg, 1, 60000), RLC_OK);
    rlc_client *client = NULL;
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);

    /* A second live client on the same journal is refused, and *out is left alone. */
    rlc_client *second = (rlc_client *)&first;
    CHECK_RC(rlc_client_new(cfg, &second), RLC_E_JOURNAL);
    CHECK(second == (rlc_client *)&first);
    last_error_contains("locked by another live client");
    CHECK_STR(rlc_result_str(RLC_E_JOURNAL), "RLC_E_JOURNAL");

    submit_tagged(client, "order-1", &first);
    submit_tagged(client, "order-2", &first);
    submit_tagged(client, "order-3", &first);
    wait_for(&first, 1);
    rlc_client_free(client);
    CHECK(first.count == 3);
    CHECK(seen_tag(&first, "order-1", RLC_OK, 200));
    CHECK(seen_tag(&first, "order-2", RLC_E_SHUTDOWN, 0));
    CHECK(seen_tag(&first, "order-3", RLC_E_SHUTDOWN, 0));
    rlc_config_free(cfg);

    /* The next client recovers the two, with their tags. */
    tags_seen again = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, {{0}}};
    cfg = journaled(argv[1], path);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    size_t count = 99;
    CHECK_RC(rlc_client_recover(client, 5, on_tagged, &again, &count), RLC_OK);
    CHECK(count == 2);
    wait_for(&again, 2);
    CHECK(seen_tag(&again, "order-2", RLC_OK, 200));
    CHECK(seen_tag(&again, "order-3", RLC_OK, 200));
    uint64_t recovered = 0;
    CHECK_RC(rlc_client_metric(client, RLC_METRIC_JOURNAL_RECOVERED, &recovered), RLC_OK);
    CHECK(recovered == 2);
    CHECK_RC(rlc_client_recover(client, 5, on_tagged, &again, &count), RLC_OK);
    CHECK(count == 0);
    CHECK_RC(rlc_client_recover(client, 0, NULL, NULL, &count), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_client_recover(client, 0, on_tagged, NULL, NULL), RLC_E_INVALID_ARGUMENT);
    rlc_client_free(client);
    rlc_config_free(cfg);

    /* No journal: nothing to recover from. */
    CHECK_RC(rlc_client_recover(NULL, 0, on_tagged, NULL, &count), RLC_E_INVALID_ARGUMENT);
    cfg = rlc_config_new();
    CHECK_RC(rlc_config_set_journal(cfg, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_journal(cfg, ""), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_config_set_base_url(cfg, argv[1]), RLC_OK);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_OK);
    CHECK_RC(rlc_client_recover(client, 0, on_tagged, NULL, &count), RLC_E_INVALID_STATE);
    rlc_client_free(client);
    rlc_config_free(cfg);

    /* A file that is not rlc's is refused and left as it was. */
    char foreign[1024];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", argv[2]);
    FILE *f = fopen(foreign, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("my notes\n", f);
        fclose(f);
    }
    cfg = journaled(argv[1], foreign);
    CHECK_RC(rlc_client_new(cfg, &client), RLC_E_JOURNAL);
    last_error_contains("not an rlc journal");
    rlc_config_free(cfg);
    char back[64] = {0};
    f = fopen(foreign, "r");
    if (f) {
        CHECK(fgets(back, sizeof back, f) != NULL);
        fclose(f);
    }
    CHECK_STR(back, "my notes\n");

    /* Tags on requests and responses: bad input refused. */
    rlc_request *req = rlc_request_new("GET", "/ok");
    CHECK_RC(rlc_request_set_tag(req, NULL), RLC_E_INVALID_ARGUMENT);
    CHECK_RC(rlc_request_set_tag(NULL, "x"), RLC_E_INVALID_ARGUMENT);
    rlc_request_free(req);
    CHECK(rlc_response_tag(NULL) == NULL);

    remove(path);
    return finish("journal");
}
