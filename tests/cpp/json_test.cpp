// The C++ wrapper's JSON helpers (bindings/cpp/rlc.hpp with nlohmann/json.hpp, which
// .ci/run installs as Debian's nlohmann-json3-dev) against the mock API's /echo, which
// answers with the request body and each request header as x-echo-<name>. Run by
// tests/cpp_abi.rs under valgrind; argv[1]: the base URL.

#include "rlc.hpp"

#if !RLC_HAS_JSON
#error "nlohmann/json.hpp was not found: install nlohmann-json3-dev (.ci/run does)"
#endif

#include <cstdio>
#include <string>

namespace {

int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                               \
        }                                                                             \
    } while (0)

// How many header lines named `name` the response has (a second Content-Type sent
// beside the first would show as two).
std::size_t count_headers(const rlc::Response &r, const std::string &name) {
    std::size_t n = 0;
    for (const auto &h : r.headers()) {
        if (h.first == name) ++n;
    }
    return n;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    rlc::Client client(rlc::Config().base_url(argv[1]));
    const nlohmann::json payload = {{"name", "ada"}, {"n", 3}, {"tags", {"x", "y"}}};

    // A JSON body with its Content-Type, and the answer parsed back.
    rlc::Response r = client.send(rlc::Request("POST", "/echo").json(payload));
    CHECK(r.status() == 200);
    CHECK(r.json() == payload);
    CHECK(r.header("x-echo-content-type").value_or("") == "application/json");
    CHECK(count_headers(r, "x-echo-content-type") == 1);

    // The caller's Content-Type wins, set before or after json(), and is sent alone.
    rlc::Response before = client.send(
        rlc::Request("PUT", "/echo").header("Content-Type", "application/vnd.x+json").json(payload));
    CHECK(before.header("x-echo-content-type").value_or("") == "application/vnd.x+json");
    CHECK(count_headers(before, "x-echo-content-type") == 1);
    rlc::Response after = client.send(
        rlc::Request("PUT", "/echo").json(payload).header("content-type", "application/vnd.y+json"));
    CHECK(after.header("x-echo-content-type").value_or("") == "application/vnd.y+json");
    CHECK(count_headers(after, "x-echo-content-type") == 1);
    CHECK(after.json() == payload);

    // A raw body after json() is not JSON any more: no Content-Type is added.
    rlc::Response raw = client.send(rlc::Request("POST", "/echo").json(payload).body("plain"));
    CHECK(raw.text() == "plain");
    CHECK(count_headers(raw, "x-echo-content-type") == 0);

    // A body that is not JSON throws nlohmann's parse_error.
    rlc::Response ok = client.send(rlc::Request("GET", "/ok"));
    bool threw = false;
    try {
        (void)ok.json();
    } catch (const nlohmann::json::parse_error &) {
        threw = true;
    }
    CHECK(threw);

    if (failures) {
        std::fprintf(stderr, "json_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("json_test: ok\n");
    return 0;
}
