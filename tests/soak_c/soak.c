/* Soak and chaos through the C ABI, built with -fsanitize=address (or thread) by
 * tests/c_soak.rs and run against mock_api::chaos on 127.0.0.1.
 *
 *   soak <base-url> <seconds> <max-requests>
 *
 * 4 submitting threads, random cancels, request bodies, headers and deadlines; a
 * second client is created a third of the way in, takes part of the load, and is
 * freed two thirds of the way in while requests are still queued and in flight.
 * Every submission has a slot; rlc_submit == RLC_OK must mean exactly one callback
 * for that slot, and anything else none. Exits non-zero on any violation. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlc.h"

#define SUBMITTERS 4
#define RECENT 32
#define MAX_OUTSTANDING 2000

static const char *base_url;
static size_t max_slots;
static atomic_size_t next_slot;
static atomic_int *calls;          /* callbacks per slot */
static atomic_char *accepted;      /* 1 when rlc_submit said RLC_OK */
static atomic_char *owner;         /* 1: client A, 2: client B */
static atomic_char *is_loop;       /* 1 for a redirect loop (/loop, /pingpong/a) */
static atomic_long outstanding;
static atomic_long n_accepted, n_completed, n_refused, n_cancel_ok, n_results[32];
static atomic_int stop;
/* Set while client A (1) or B (2) is being freed. */
static atomic_int closing_a, closing_b;
/* Redirect loops completed as RLC_OK with a 3xx while their client was freed: rlc does
 * not follow a hop once closing and hands the 3xx back as a success (finding F2). */
static atomic_long n_loop_3xx_at_close;
static atomic_int failures;

static pthread_rwlock_t second_lock = PTHREAD_RWLOCK_INITIALIZER;
static rlc_client *client_a;
static rlc_client *client_b; /* guarded by second_lock */

#define FAIL(...)                                                                       \
  do {                                                                                  \
    fprintf(stderr, "soak.c: FAIL: " __VA_ARGS__);                                      \
    fputc('\n', stderr);                                                                \
    atomic_fetch_add(&failures, 1);                                                     \
  } while (0)

/* A hang (a lost completion that rlc_client_free waits for) fails the run. */
static void on_alarm(int sig) {
  static const char msg[] = "soak.c: FAIL: HUNG (alarm)\n";
  (void)sig;
  (void)!write(2, msg, sizeof msg - 1);
  _exit(3);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_done(void *user_data, rlc_request_id id, rlc_result result,
                    const rlc_response *response) {
  size_t slot = (size_t)(uintptr_t)user_data;
  (void)id;
  if (slot >= max_slots) {
    FAIL("callback with a slot never used: %zu", slot);
    return;
  }
  if (atomic_fetch_add(&calls[slot], 1) != 0) FAIL("slot %zu: a second callback", slot);
  if (response == NULL) {
    FAIL("slot %zu: NULL response", slot);
  } else {
    /* Touch everything the response hands out (ASan checks the C side's reads). */
    size_t len = 0;
    const uint8_t *body = rlc_response_body(response, &len);
    if (len > 0 && body != NULL) {
      char *copy = malloc(len);
      memcpy(copy, body, len);
      free(copy);
    }
    const char *msg = rlc_response_error_message(response);
    if (msg == NULL) FAIL("slot %zu: NULL error message", slot);
    else (void)strlen(msg);
    if (result != RLC_OK && rlc_response_status(response) != 0)
      FAIL("slot %zu: an error with status %u", slot, rlc_response_status(response));
    const char *ct = rlc_response_header(response, "content-type");
    if (ct != NULL) (void)strlen(ct);
    (void)rlc_response_attempts(response);
  }
  int closing = atomic_load(&owner[slot]) == 2 ? atomic_load(&closing_b) : atomic_load(&closing_a);
  if (atomic_load(&is_loop[slot]) && result == RLC_OK && closing && response != NULL &&
      rlc_response_status(response) / 100 == 3) {
    atomic_fetch_add(&n_loop_3xx_at_close, 1);
  } else if (atomic_load(&is_loop[slot]) && result != RLC_E_REDIRECT && result != RLC_E_CANCELLED &&
      result != RLC_E_SHUTDOWN && result != RLC_E_TIMEOUT && result != RLC_E_CIRCUIT_OPEN)
    FAIL("slot %zu: a redirect loop completed with %s", slot, rlc_result_str(result));
  if ((unsigned)result < 32) atomic_fetch_add(&n_results[result], 1);
  atomic_fetch_add(&n_completed, 1);
  atomic_fetch_sub(&outstanding, 1);
}

static rlc_request *random_request(unsigned *seed, size_t slot) {
  char path[96];
  int roll = (int)(rand_r(seed) % 100);
  const char *method = "GET";
  if (roll < 2) snprintf(path, sizeof path, "/loop");
  else if (roll < 4) snprintf(path, sizeof path, "/pingpong/a");
  if (roll < 4) atomic_store(&is_loop[slot], 1);
  else if (roll < 8) { method = "POST"; snprintf(path, sizeof path, "/chaos/post/%zu", slot); }
  else snprintf(path, sizeof path, "/chaos/%zu?r=%d", slot, rand_r(seed));
  rlc_request *req = rlc_request_new(method, path);
  if (req == NULL) {
    FAIL("rlc_request_new(%s, %s) failed", method, path);
    return NULL;
  }
  if (roll >= 4 && roll < 8) {
    size_t n = (size_t)(rand_r(seed) % 4096);
    uint8_t *body = malloc(n + 1);
    memset(body, 'b', n + 1);
    if (rlc_request_set_body(req, body, n) != RLC_OK) FAIL("set_body");
    free(body);
  }
  if (rand_r(seed) % 10 == 0 && rlc_request_set_header(req, "X-Soak", "c") != RLC_OK)
    FAIL("set_header");
  if (rand_r(seed) % 20 == 0 &&
      rlc_request_set_deadline(req, 1 + (uint64_t)(rand_r(seed) % 500)) != RLC_OK)
    FAIL("set_deadline");
  /* A bad header must be refused and leave the request usable. */
  if (rand_r(seed) % 50 == 0 &&
      rlc_request_set_header(req, "X-Bad", "a\r\nInjected: 1") != RLC_E_INVALID_ARGUMENT)
    FAIL("a header with CR/LF was not refused");
  return req;
}

static void *submitter(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 7919u + (unsigned)time(NULL);
  rlc_request_id recent[RECENT];
  rlc_client *recent_client[RECENT];
  int n_recent = 0;
  while (!atomic_load(&stop)) {
    if (atomic_load(&outstanding) > MAX_OUTSTANDING) {
      usleep(1000);
      continue;
    }
    size_t slot = atomic_fetch_add(&next_slot, 1);
    if (slot >= max_slots) break;
    rlc_request *req = random_request(&seed, slot);
    if (req == NULL) break;
    int use_b = rand_r(&seed) % 3 == 0;
    pthread_rwlock_rdlock(&second_lock);
    rlc_client *client = use_b && client_b != NULL ? client_b : client_a;
    atomic_store(&owner[slot], client == client_a ? 1 : 2);
    rlc_request_id id = 0;
    atomic_fetch_add(&outstanding, 1);
    rlc_result r = rlc_submit(client, req, (int32_t)(rand_r(&seed) % 11) - 5, on_done,
                              (void *)(uintptr_t)slot, &id);
    if (r == RLC_OK) {
      atomic_store(&accepted[slot], 1);
      atomic_fetch_add(&n_accepted, 1);
      if (id == 0) FAIL("id 0");
      int at = n_recent < RECENT ? n_recent++ : (int)(rand_r(&seed) % RECENT);
      recent[at] = id;
      recent_client[at] = client;
    } else {
      atomic_fetch_sub(&outstanding, 1);
      atomic_fetch_add(&n_refused, 1);
      if (r != RLC_E_QUEUE_FULL && r != RLC_E_CIRCUIT_OPEN && r != RLC_E_SHUTDOWN)
        FAIL("rlc_submit: %s", rlc_result_str(r));
      char buf[7]; /* an odd size: truncated, always terminated */
      size_t need = rlc_last_error(buf, sizeof buf);
      if (need < 1 || strlen(buf) >= sizeof buf) FAIL("rlc_last_error");
      usleep(1000);
    }
    if (n_recent > 0 && rand_r(&seed) % 33 == 0) {
      int k = (int)(rand_r(&seed) % (unsigned)n_recent);
      if (recent_client[k] == client) {
        rlc_result c = rlc_cancel(client, recent[k]);
        if (c == RLC_OK) atomic_fetch_add(&n_cancel_ok, 1);
        else if (c != RLC_E_UNKNOWN_REQUEST) FAIL("rlc_cancel: %s", rlc_result_str(c));
      }
    }
    pthread_rwlock_unlock(&second_lock);
    if (client != client_a) {
      /* The second client may be freed: forget its ids. */
      for (int k = 0; k < n_recent; k++)
        if (recent_client[k] != client_a) recent[k] = 0, recent_client[k] = client_a;
    }
  }
  return NULL;
}

static rlc_client *new_client(void) {
  rlc_config *cfg = rlc_config_new();
  if (cfg == NULL) return NULL;
  int ok = rlc_config_set_base_url(cfg, base_url) == RLC_OK &&
           rlc_config_set_workers(cfg, 6) == RLC_OK &&
           rlc_config_set_timeout(cfg, 2000) == RLC_OK &&
           rlc_config_set_retry(cfg, 2, 2, 20) == RLC_OK &&
           rlc_config_set_circuit_breaker(cfg, 8, 100) == RLC_OK &&
           rlc_config_set_rate_limit(cfg, 50000, 1000) == RLC_OK &&
           rlc_config_set_default_header(cfg, "X-Client", "soak") == RLC_OK;
  rlc_client *client = NULL;
  if (!ok || rlc_client_new(cfg, &client) != RLC_OK) client = NULL;
  rlc_config_free(cfg);
  return client;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: soak <base-url> <seconds> <max-requests>\n");
    return 2;
  }
  base_url = argv[1];
  double seconds = atof(argv[2]);
  max_slots = (size_t)strtoull(argv[3], NULL, 10);
  calls = calloc(max_slots, sizeof *calls);
  accepted = calloc(max_slots, sizeof *accepted);
  owner = calloc(max_slots, sizeof *owner);
  is_loop = calloc(max_slots, sizeof *is_loop);
  if (!calls || !accepted || !owner || !is_loop) return 2;

  signal(SIGALRM, on_alarm);
  alarm((unsigned)seconds + 300);
  client_a = new_client();
  if (client_a == NULL) {
    fprintf(stderr, "soak.c: no client\n");
    return 1;
  }
  pthread_t threads[SUBMITTERS];
  for (int i = 0; i < SUBMITTERS; i++)
    pthread_create(&threads[i], NULL, submitter, (void *)(uintptr_t)(i + 1));

  double start = now_s();
  int phase = 0, seconds_done = 0;
  /* Runs until the time is up or every slot is used, and at least until the second
   * client has been created and freed. */
  while ((now_s() - start < seconds && atomic_load(&next_slot) < max_slots) || phase < 2) {
    usleep(20000);
    double t = (now_s() - start) / seconds;
    double done = (double)atomic_load(&next_slot) / (double)max_slots;
    double progress = t > done ? t : done;
    if (phase == 0 && progress > 1.0 / 3) {
      rlc_client *b = new_client();
      if (b == NULL) FAIL("second client");
      pthread_rwlock_wrlock(&second_lock);
      client_b = b;
      pthread_rwlock_unlock(&second_lock);
      phase = 1;
    } else if (phase == 1 && progress > 2.0 / 3) {
      pthread_rwlock_wrlock(&second_lock);
      rlc_client *b = client_b;
      client_b = NULL;
      pthread_rwlock_unlock(&second_lock);
      atomic_store(&closing_b, 1);
      rlc_client_free(b); /* with requests queued and in flight */
      atomic_store(&closing_b, 0);
      size_t used = atomic_load(&next_slot);
      if (used > max_slots) used = max_slots;
      for (size_t s = 0; s < used; s++)
        if (atomic_load(&owner[s]) == 2 && atomic_load(&accepted[s]) && atomic_load(&calls[s]) != 1)
          FAIL("slot %zu of the freed client: %d callbacks", s, atomic_load(&calls[s]));
      phase = 2;
    }
    if ((int)(now_s() - start) / 5 > seconds_done) {
      seconds_done = (int)(now_s() - start) / 5;
      rlc_metrics m;
      if (rlc_client_metrics(client_a, &m) != RLC_OK) FAIL("metrics");
      fprintf(stderr, "soak.c: %.0f s: %ld accepted, %ld completed, queue %llu, in flight %llu\n",
              now_s() - start, atomic_load(&n_accepted), atomic_load(&n_completed),
              (unsigned long long)m.queue_depth, (unsigned long long)m.in_flight);
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < SUBMITTERS; i++) pthread_join(threads[i], NULL);
  atomic_store(&closing_b, 1);
  if (client_b != NULL) rlc_client_free(client_b);
  atomic_store(&closing_a, 1);
  rlc_client_free(client_a);
  double took = now_s() - start;

  size_t used = atomic_load(&next_slot);
  if (used > max_slots) used = max_slots;
  long bad = 0;
  for (size_t s = 0; s < used; s++) {
    int want = atomic_load(&accepted[s]) ? 1 : 0;
    if (atomic_load(&calls[s]) != want) {
      if (bad++ < 10)
        FAIL("slot %zu: accepted %d, %d callbacks", s, want, atomic_load(&calls[s]));
    }
  }
  fprintf(stderr, "soak.c: %zu submitted, %ld accepted, %ld completed, %ld refused, %ld cancels "
          "took, in %.1f s; second client %s\n", used, atomic_load(&n_accepted),
          atomic_load(&n_completed), atomic_load(&n_refused), atomic_load(&n_cancel_ok), took,
          phase == 2 ? "created and freed" : "NOT exercised");
  fprintf(stderr, "soak.c: redirect loops completed as OK 3xx while freeing (finding F2): %ld\n",
          atomic_load(&n_loop_3xx_at_close));
  fprintf(stderr, "soak.c: results:");
  for (int r = 0; r < 32; r++)
    if (atomic_load(&n_results[r]) > 0)
      fprintf(stderr, " %s=%ld", rlc_result_str((uint32_t)r), atomic_load(&n_results[r]));
  fprintf(stderr, "\n");
  if (atomic_load(&n_accepted) != atomic_load(&n_completed)) FAIL("accepted != completed");
  /* Finding F2 is fixed: a loop cut short by the close completes as RLC_E_SHUTDOWN. */
  if (atomic_load(&n_loop_3xx_at_close) != 0) FAIL("redirect loops completed as OK 3xx while freeing");
  if (phase != 2) FAIL("the second client was not created and freed");
  free(calls);
  free(accepted);
  free(owner);
  free(is_loop);
  if (atomic_load(&failures) > 0) {
    fprintf(stderr, "soak.c: %d failure(s)\n", atomic_load(&failures));
    return 1;
  }
  fprintf(stderr, "soak.c: OK\n");
  return 0;
}
