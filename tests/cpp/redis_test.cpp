// The C++ wrapper's shared limit (Config::redis and its options) against a real
// redis-server that tests/cpp_abi.rs started: two clients share one limit, the
// metrics say so, a server that is no Redis throws Result::Redis, bad options throw
// InvalidArgument. Run under valgrind; argv[1]: the base URL, argv[2]: the redis URL.
#include "rlc.hpp"

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                               \
        }                                                                             \
    } while (0)

rlc::Config sharer(const std::string &base, const std::string &redis) {
    rlc::Config cfg;
    cfg.base_url(base).rate_limit(40, 1000ms);
    cfg.redis(redis, "cpp-test").redis_failure(rlc::RedisFailure::Local).redis_local_share(50);
    cfg.redis_max_lease(2);
    return cfg;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s BASE_URL REDIS_URL\n", argv[0]);
        return 2;
    }
    const std::string base = argv[1], redis = argv[2];
    {
        rlc::Client a(sharer(base, redis));
        rlc::Client b(sharer(base, redis));
        for (int i = 0; i < 4; ++i) {
            CHECK(a.send(rlc::Request("GET", "/ok")).status() == 200);
            CHECK(b.send(rlc::Request("GET", "/ok")).status() == 200);
        }
        CHECK(a.metric(RLC_METRIC_REDIS_STATE) == RLC_REDIS_CONNECTED);
        CHECK(a.metric(RLC_METRIC_REDIS_TOKENS_LEASED) >= 4);
        CHECK(b.metric(RLC_METRIC_REDIS_CLIENTS) == 2);
        CHECK(a.metric(RLC_METRIC_REDIS_ROUND_TRIPS) >= 2);
    }
    try {
        rlc::Config cfg;
        cfg.redis("http://not-redis", "k");
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::InvalidArgument);
    }
    try {
        rlc::Config cfg;
        cfg.redis_local_share(50);  // Redis first
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::InvalidArgument);
    }
    try {
        // The mock API speaks HTTP, not Redis: refused at the start, password unsaid.
        std::string http = base.substr(std::string("http://").size());
        rlc::Client c(rlc::Config().base_url(base).rate_limit(5, 1000ms).redis(
            "redis://:hush-hush@" + http + "/0", "k"));
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::Redis);
        CHECK(std::string(e.what()).find("hush-hush") == std::string::npos);
    }
    if (failures) {
        std::fprintf(stderr, "redis_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("redis_test: all checks passed\n");
    return 0;
}
