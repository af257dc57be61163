/* rlc through its C ABI (librlc.so), for the overhead table and the peer comparison.
 *
 *   rlc-bench-cabi overhead  URL REQUESTS WORKERS REP [WINDOW_FACTOR]
 *       REQUESTS GETs of URL with WORKERS workers and no rate limit, keeping between
 *       half of and WINDOW_FACTOR x WORKERS requests outstanding (default 4), like
 *       the Rust overhead program; prints one JSON line (req/s, p50/p99 submit-to-callback,
 *       and rlc's own attempt percentiles).
 *   rlc-bench-cabi precision URL RATE SECS BURST [WORKERS] [STRICT]
 *       Sends at RATE/s (window 1 s, burst BURST) for SECS seconds plus 0.3 s to the
 *       counter server at URL; the arrival times are judged afterwards by
 *       `rlc-bench-precision --analyse`. Prints nothing on success.
 *
 * Callbacks run on rlc's completion thread; a mutex and condition variable keep the
 * window and count completions.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rlc.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double loadavg(void) {
  double l = 0;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = 0;
    fclose(f);
  }
  return l;
}

#define CHECK(call)                                                               \
  do {                                                                            \
    rlc_result r_ = (call);                                                       \
    if (r_ != RLC_OK) {                                                           \
      char msg_[256] = "";                                                        \
      rlc_last_error(msg_, sizeof msg_);                                          \
      fprintf(stderr, "%s: %s (%s)\n", #call, rlc_result_str(r_), msg_);          \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

struct state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t outstanding, completed, ok, errors, total;
  size_t low; /* wake the submitter when `outstanding` falls to this */
  uint64_t *latency; /* per request, ns */
  uint64_t *submitted_at;
};

struct slot {
  struct state *st;
  size_t index;
};

static void on_done(void *user_data, rlc_request_id id, rlc_result result,
                    const rlc_response *response) {
  (void)id;
  struct slot *slot = user_data;
  struct state *st = slot->st;
  uint64_t t = now_ns();
  int good = result == RLC_OK && rlc_response_status(response) == 200;
  pthread_mutex_lock(&st->lock);
  if (st->latency) st->latency[slot->index] = t - st->submitted_at[slot->index];
  if (good)
    st->ok++;
  else
    st->errors++;
  st->completed++;
  st->outstanding--;
  if (st->outstanding <= st->low || st->completed == st->total) pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double q) {
  if (n == 0) return 0;
  size_t rank = (size_t)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

static void submit_one(rlc_client *client, struct slot *slot, const char *path) {
  rlc_request *req = rlc_request_new("GET", path);
  if (!req) {
    fprintf(stderr, "rlc_request_new failed\n");
    exit(1);
  }
  rlc_request_id id;
  CHECK(rlc_submit(client, req, 0, on_done, slot, &id));
}

static int overhead(const char *url, size_t n, uint32_t workers, int rep, size_t factor) {
  rlc_config *cfg = rlc_config_new();
  CHECK(rlc_config_set_base_url(cfg, url));
  CHECK(rlc_config_set_workers(cfg, workers));
  CHECK(rlc_config_set_max_queue_size(cfg, n + 1024));
  /* RLC_BENCH_CALLBACKS_ON_WORKERS=1: the callbacks run on the workers. */
  const char *inline_env = getenv("RLC_BENCH_CALLBACKS_ON_WORKERS");
  bool on_workers = inline_env && strcmp(inline_env, "1") == 0;
  const char *impl = on_workers ? "cabi_inline" : "cabi";
  CHECK(rlc_config_set_callbacks_on_workers(cfg, on_workers));
  rlc_client *client;
  CHECK(rlc_client_new(cfg, &client));
  rlc_config_free(cfg);

  struct state st = {.outstanding = 0};
  pthread_mutex_init(&st.lock, NULL);
  pthread_cond_init(&st.cond, NULL);
  struct slot *slots = calloc(n + 2 * workers, sizeof *slots);
  st.latency = calloc(n, sizeof(uint64_t));
  st.submitted_at = calloc(n, sizeof(uint64_t));

  /* Warm-up: open the workers' connections before the clock starts. */
  uint64_t *keep_lat = st.latency;
  st.latency = NULL;
  for (size_t i = 0; i < 2 * workers; i++) {
    slots[n + i] = (struct slot){&st, 0};
    pthread_mutex_lock(&st.lock);
    st.outstanding++;
    pthread_mutex_unlock(&st.lock);
    submit_one(client, &slots[n + i], "/");
  }
  pthread_mutex_lock(&st.lock);
  while (st.outstanding > 0) pthread_cond_wait(&st.cond, &st.lock);
  st.completed = st.ok = st.errors = 0;
  st.latency = keep_lat;
  pthread_mutex_unlock(&st.lock);

  /* Keep between window/2 and window requests outstanding, as the Rust program does:
   * the callbacks wake the submitter when the count falls to window/2. */
  size_t window = factor * workers;
  pthread_mutex_lock(&st.lock);
  st.low = window / 2;
  st.total = n;
  pthread_mutex_unlock(&st.lock);
  uint64_t start = now_ns();
  size_t i = 0;
  while (i < n) {
    pthread_mutex_lock(&st.lock);
    while (st.outstanding > st.low) pthread_cond_wait(&st.cond, &st.lock);
    size_t top_up = window - st.outstanding;
    if (top_up > n - i) top_up = n - i;
    st.outstanding += top_up;
    pthread_mutex_unlock(&st.lock);
    for (size_t k = 0; k < top_up; k++, i++) {
      st.submitted_at[i] = now_ns();
      slots[i] = (struct slot){&st, i};
      submit_one(client, &slots[i], "/");
    }
  }
  pthread_mutex_lock(&st.lock);
  while (st.completed < n) pthread_cond_wait(&st.cond, &st.lock);
  pthread_mutex_unlock(&st.lock);
  double secs = (double)(now_ns() - start) / 1e9;

  rlc_metrics m;
  CHECK(rlc_client_metrics(client, &m));
  rlc_client_free(client);
  qsort(st.latency, n, sizeof(uint64_t), cmp_u64);
  double rps = (double)st.ok / secs;
  fprintf(stderr,
          "overhead rep %d %s threads %2u: %9.0f req/s, p50 %6.1f µs, p99 %7.1f µs, errors %zu\n",
          rep, impl, workers, rps, pct(st.latency, n, 0.5) / 1e3, pct(st.latency, n, 0.99) / 1e3,
          st.errors);
  printf("{\"bench\":\"overhead\",\"impl\":\"%s\",\"threads\":%u,\"rep\":%d,\"requests\":%zu,"
         "\"ok\":%zu,\"errors\":%zu,\"secs\":%.6f,\"rps\":%.3f,\"p50_us\":%.3f,\"p99_us\":%.3f,"
         "\"loadavg\":%.2f,\"attempt_p50_us\":%" PRIu64 ",\"attempt_p99_us\":%" PRIu64
         ",\"window\":%zu}\n",
         impl, workers, rep, n, st.ok, st.errors, secs, rps, pct(st.latency, n, 0.5) / 1e3,
         pct(st.latency, n, 0.99) / 1e3, loadavg(), m.attempt_p50_us, m.attempt_p99_us, window);
  fflush(stdout);
  free(slots);
  free(st.latency);
  free(st.submitted_at);
  return st.errors == 0 ? 0 : 1;
}

static int precision(const char *url, uint32_t rate, double secs, uint32_t burst, uint32_t workers,
                     int strict) {
  rlc_config *cfg = rlc_config_new();
  CHECK(rlc_config_set_base_url(cfg, url));
  CHECK(rlc_config_set_workers(cfg, workers));
  CHECK(rlc_config_set_rate_limit(cfg, rate, 1000));
  CHECK(rlc_config_set_burst(cfg, burst));
  if (strict) CHECK(rlc_config_set_strict_window(cfg, true));
  size_t spare = (size_t)(rate * 0.3) > 20 ? (size_t)(rate * 0.3) : 20;
  size_t n = burst + (size_t)(rate * secs) + spare;
  CHECK(rlc_config_set_max_queue_size(cfg, n + 16));
  rlc_client *client;
  CHECK(rlc_client_new(cfg, &client));
  rlc_config_free(cfg);

  struct state st = {.outstanding = 0};
  pthread_mutex_init(&st.lock, NULL);
  pthread_cond_init(&st.cond, NULL);
  struct slot *slots = calloc(n, sizeof *slots);
  for (size_t i = 0; i < n; i++) {
    slots[i] = (struct slot){&st, i};
    pthread_mutex_lock(&st.lock);
    st.outstanding++;
    pthread_mutex_unlock(&st.lock);
    submit_one(client, &slots[i], "/p");
  }
  pthread_mutex_lock(&st.lock);
  while (st.completed < n) pthread_cond_wait(&st.cond, &st.lock);
  pthread_mutex_unlock(&st.lock);
  rlc_client_free(client);
  free(slots);
  if (st.errors) fprintf(stderr, "precision: %zu errors\n", st.errors);
  return st.errors == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "overhead") == 0) {
    size_t factor = argc >= 7 ? (size_t)atoi(argv[6]) : 4;
    return overhead(argv[2], (size_t)strtoull(argv[3], NULL, 10), (uint32_t)atoi(argv[4]),
                    atoi(argv[5]), factor);
  }
  if (argc >= 6 && strcmp(argv[1], "precision") == 0) {
    uint32_t workers = argc >= 7 ? (uint32_t)atoi(argv[6]) : 16;
    int strict = argc >= 8 ? atoi(argv[7]) : 0;
    return precision(argv[2], (uint32_t)atoi(argv[3]), atof(argv[4]), (uint32_t)atoi(argv[5]),
                     workers, strict);
  }
  fprintf(stderr,
          "usage: %s overhead URL REQUESTS WORKERS REP [WINDOW_FACTOR]\n"
          "       %s precision URL RATE SECS BURST [WORKERS] [STRICT]\n",
          argv[0], argv[0]);
  return 2;
}
