// The C++ wrapper (bindings/cpp/rlc.hpp) against the mock API: send, a binary body
// round trip, headers, submit with a std::function, futures (success, a connect
// error, queue full), priority order, cancel, RAII shutdown with pending futures, a
// throwing callback, move semantics, refused settings, limits. Counts and orders only, no
// timing assertions. Run by tests/cpp_abi.rs under valgrind; argv[1]: the base URL.
#include "rlc.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace {

int failures = 0;
std::string base_url;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                               \
        }                                                                             \
    } while (0)

// Checks that `expr` throws rlc::Error with `want`.
#define CHECK_THROWS(expr, want)                                                      \
    do {                                                                              \
        try {                                                                         \
            (void)(expr);                                                             \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr); \
            ++failures;                                                               \
        } catch (const rlc::Error &e_) {                                              \
            if (e_.result() != (want) || e_.message()[0] == '\0') {                   \
                std::fprintf(stderr, "%s:%d: %s threw %s, expected %s\n", __FILE__,   \
                             __LINE__, #expr, e_.what(), rlc::to_string(want));       \
                ++failures;                                                           \
            }                                                                         \
        }                                                                             \
    } while (0)

// Wrapper types own C handles: none may be copied; moving must not throw.
static_assert(!std::is_copy_constructible_v<rlc::Client>, "Client is move-only");
static_assert(!std::is_copy_constructible_v<rlc::Request>, "Request is move-only");
static_assert(!std::is_copy_constructible_v<rlc::Config>, "Config is move-only");
static_assert(std::is_nothrow_move_constructible_v<rlc::Client>, "");
static_assert(std::is_nothrow_move_assignable_v<rlc::Client>, "");
static_assert(std::is_nothrow_move_constructible_v<rlc::Request>, "");
static_assert(std::is_copy_constructible_v<rlc::Response>, "Response is a value");
static_assert(std::is_nothrow_copy_constructible_v<rlc::Error>, "exceptions copy freely");

// Collects the responses that callbacks hand over; the test thread waits on it.
class Inbox {
public:
    rlc::Callback callback() {
        return [this](rlc::Response r, rlc::Result) { put(std::move(r)); };
    }
    void put(rlc::Response r) {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(std::move(r));
        cv_.notify_all();
    }
    // Waits until `n` responses arrived (or 60 s passed); returns them all so far.
    std::vector<rlc::Response> wait(std::size_t n) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, 60s, [&] { return seen_.size() >= n; });
        return seen_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<rlc::Response> seen_;
};

rlc::Config base() { return std::move(rlc::Config().base_url(base_url)); }

// A client that sends one request, then holds every other one for a minute.
rlc::Config one_then_hold() {
    return std::move(base().rate_limit(1, 60s).burst(1).workers(1));
}

void send_basic() {
    rlc::Client client(base());
    rlc::Response r = client.send(rlc::Request("GET", "/ok"));
    CHECK(r.result() == rlc::Result::Ok);
    CHECK(r.status() == 200);
    CHECK(r.text() == "ok");
    CHECK(r.attempts() == 1);
    CHECK(r.error_message().empty());
    CHECK(r.id() == 0);

    // An HTTP error is a response, not an exception.
    r = client.send(rlc::Request("GET", "/status/404"), 7);
    CHECK(r.status() == 404);
    CHECK(r.result() == rlc::Result::Ok);

    // No response at all is: port 1 refuses connections.
    rlc::Client once(base().retry(0, 0ms, 0ms));
    CHECK_THROWS(once.send(rlc::Request("GET", "http://127.0.0.1:1/ok")), rlc::Result::Connect);

    rlc::Metrics m = client.metrics();
    CHECK(m.submitted == 2 && m.succeeded == 1 && m.http_4xx == 1);
    CHECK(client.metrics_prometheus().find("rlc_") != std::string::npos);
}

void binary_body_and_headers() {
    rlc::Client client(base().default_header("X-Default", "from-config"));
    std::vector<std::uint8_t> data(1024);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<std::uint8_t>(i * 7); // every byte value, NULs included
    }
    rlc::Request req("POST", "/echo");
    req.body(data).header("X-Custom", "hello world");
    rlc::Response r = client.send(std::move(req));
    CHECK(r.status() == 200);
    CHECK(r.body() == data);
    CHECK(r.header("x-method") == "POST");
    CHECK(r.header("X-METHOD") == "POST"); // names compare without case
    CHECK(r.header("x-echo-x-custom") == "hello world");
    CHECK(r.header("x-echo-x-default") == "from-config");
    CHECK(!r.header("x-not-there").has_value());

    // A temporary built in place, with a text body.
    r = client.send(rlc::Request("PUT", "/echo").body("a\0b"));
    CHECK(r.text() == "a"); // a C string stops at its NUL: use body(data, len) for bytes
    r = client.send(rlc::Request("PUT", "/echo").body(std::string_view("a\0b", 3)));
    CHECK(r.text() == std::string("a\0b", 3));

    r = client.send(rlc::Request("GET", "/headers"));
    std::vector<std::string> multi;
    for (const auto &h : r.headers()) {
        if (h.first == "x-multi") multi.push_back(h.second);
    }
    CHECK((multi == std::vector<std::string>{"a", "b"})); // every line, in order
    CHECK(r.header("X-Multi") == "a");                     // the first one
    CHECK(r.header("x-one") == "1");
}

void submit_with_function() {
    rlc::Client client(base());
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    rlc::Response got;
    rlc::Result got_result = rlc::Result::Panic;
    bool on_other_thread = false, in_callback = false;
    rlc::Result send_inside = rlc::Result::Ok;
    const auto submitter = std::this_thread::get_id();

    rlc::RequestId id = client.submit(rlc::Request("GET", "/ok"), 5,
                                      [&](rlc::Response r, rlc::Result result) {
        in_callback = client.in_callback();
        on_other_thread = std::this_thread::get_id() != submitter;
        try { // waiting inside a callback would deadlock: refused
            client.send(rlc::Request("GET", "/ok"));
        } catch (const rlc::Error &e) {
            send_inside = e.result();
        }
        std::lock_guard<std::mutex> lock(mu);
        got = std::move(r);
        got_result = result;
        done = true;
        cv.notify_all();
    });
    CHECK(id != 0);
    {
        std::unique_lock<std::mutex> lock(mu);
        CHECK(cv.wait_for(lock, 60s, [&] { return done; }));
    }
    CHECK(got_result == rlc::Result::Ok);
    CHECK(got.id() == id && got.status() == 200 && got.text() == "ok");
    CHECK(on_other_thread && in_callback);
    CHECK(send_inside == rlc::Result::InvalidState);
    CHECK(!client.in_callback());
    CHECK(!client.cancel(id)); // done: nothing to cancel

    // An empty std::function is refused at once.
    CHECK_THROWS(client.submit(rlc::Request("GET", "/ok"), 0, rlc::Callback()),
                 rlc::Result::InvalidArgument);
}

void futures() {
    rlc::Client client(base().retry(0, 0ms, 0ms));
    std::future<rlc::Response> ok = client.submit_future(rlc::Request("GET", "/ok"), 1);
    std::future<rlc::Response> refused =
        client.submit_future(rlc::Request("GET", "http://127.0.0.1:1/ok"));
    rlc::Response r = ok.get();
    CHECK(r.status() == 200 && r.text() == "ok" && r.id() != 0);
    CHECK_THROWS(refused.get(), rlc::Result::Connect);

    // A refused submit is in the future too, ready at once.
    rlc::Client held(one_then_hold().max_queue_size(1));
    CHECK(held.submit_future(rlc::Request("GET", "/ok")).get().status() == 200);
    std::future<rlc::Response> queued = held.submit_future(rlc::Request("GET", "/ok"));
    std::future<rlc::Response> full = held.submit_future(rlc::Request("GET", "/ok"));
    CHECK(full.wait_for(0s) == std::future_status::ready);
    CHECK_THROWS(full.get(), rlc::Result::QueueFull);
    CHECK(queued.wait_for(0s) == std::future_status::timeout);
    held.close(); // the queued one completes as shut down
    CHECK(queued.wait_for(0s) == std::future_status::ready);
    CHECK_THROWS(queued.get(), rlc::Result::Shutdown);
    CHECK_THROWS(held.submit_future(rlc::Request("GET", "/ok")).get(),
                 rlc::Result::InvalidState);
}

void priority_order() {
    // One request per 250 ms and one worker: the queue decides the order.
    rlc::Client client(base().rate_limit(1, 250ms).burst(1).workers(1));
    // The first takes the only token; once it is answered every other request
    // surely waits for the next token, whatever the threads' start-up took.
    CHECK(client.send(rlc::Request("GET", "/ok")).status() == 200);
    Inbox inbox;
    std::vector<rlc::RequestId> lows, highs;
    for (int i = 0; i < 3; ++i) {
        lows.push_back(client.submit(rlc::Request("GET", "/ok"), 1, inbox.callback()));
    }
    for (int i = 0; i < 3; ++i) {
        highs.push_back(client.submit(rlc::Request("GET", "/ok"), 100, inbox.callback()));
    }
    std::vector<rlc::Response> seen = inbox.wait(6);
    CHECK(seen.size() == 6);
    std::vector<rlc::RequestId> order;
    for (const auto &r : seen) order.push_back(r.id());
    std::vector<rlc::RequestId> want = highs; // the urgent ones first, each in FIFO order
    want.insert(want.end(), lows.begin(), lows.end());
    if (order != want) {
        std::fprintf(stderr, "priority: completion order is");
        for (auto id : order) std::fprintf(stderr, " %llu", static_cast<unsigned long long>(id));
        std::fprintf(stderr, "\n");
    }
    CHECK(order == want);
}

void cancel() {
    rlc::Client client(one_then_hold());
    CHECK(client.send(rlc::Request("GET", "/ok")).status() == 200); // the only token
    Inbox inbox;
    rlc::RequestId id = client.submit(rlc::Request("GET", "/ok"), 0, inbox.callback());
    CHECK(client.cancel(id));
    CHECK(!client.cancel(id)); // once
    std::vector<rlc::Response> seen = inbox.wait(1);
    CHECK(seen.size() == 1);
    if (seen.empty()) return;
    CHECK(seen[0].id() == id && seen[0].result() == rlc::Result::Cancelled);
    CHECK(seen[0].status() == 0 && seen[0].attempts() == 0 && !seen[0].error_message().empty());
}

void shutdown_makes_every_future_ready() {
    std::vector<std::future<rlc::Response>> pending;
    std::weak_ptr<int> alive;
    {
        rlc::Client client(one_then_hold());
        CHECK(client.submit_future(rlc::Request("GET", "/ok")).get().status() == 200);
        for (int i = 0; i < 5; ++i) {
            pending.push_back(client.submit_future(rlc::Request("GET", "/ok"), i));
        }
        // A callback's captures live until it has run, and no longer.
        auto token = std::make_shared<int>(0);
        alive = token;
        client.submit(rlc::Request("GET", "/ok"), 0, [token](rlc::Response, rlc::Result) {});
        token.reset();
        CHECK(!alive.expired());
        CHECK(client.metrics().queue_depth == 6);
    } // the destructor: queued requests complete as shut down before it returns
    CHECK(alive.expired());
    for (auto &f : pending) {
        CHECK(f.wait_for(0s) == std::future_status::ready);
        CHECK_THROWS(f.get(), rlc::Result::Shutdown);
    }
}

void throwing_callback() {
    rlc::Client client(base());
    Inbox inbox;
    client.submit(rlc::Request("GET", "/ok"), 0, [](rlc::Response, rlc::Result) {
        throw std::runtime_error("boom from a callback");
    });
    client.submit(rlc::Request("GET", "/ok"), 0, [](rlc::Response, rlc::Result) { throw 42; });
    // Reported on stderr (tests/cpp_abi.rs checks), swallowed: the client goes on.
    client.submit(rlc::Request("GET", "/ok"), 0, inbox.callback());
    CHECK(inbox.wait(1).size() == 1);
    CHECK(client.send(rlc::Request("GET", "/ok")).status() == 200);
}

void move_semantics() {
    rlc::Client a(base());
    rlc::Client b(std::move(a));
    CHECK(a.closed() && !b.closed());
    CHECK(b.send(rlc::Request("GET", "/ok")).status() == 200);
    CHECK_THROWS(a.send(rlc::Request("GET", "/ok")), rlc::Result::InvalidState);
    CHECK(!a.in_callback());

    // Assigning over a client closes it first: its queued request completes.
    rlc::Client held(one_then_hold());
    CHECK(held.send(rlc::Request("GET", "/ok")).status() == 200);
    std::future<rlc::Response> queued = held.submit_future(rlc::Request("GET", "/ok"));
    held = std::move(b);
    CHECK_THROWS(queued.get(), rlc::Result::Shutdown);
    CHECK(held.send(rlc::Request("GET", "/ok")).status() == 200);
    a = std::move(held); // moved-from objects can be assigned again
    CHECK(held.closed() && !a.closed());
    a.close();
    a.close(); // idempotent
    CHECK(a.closed());

    rlc::Request r1("GET", "/ok");
    rlc::Request r2(std::move(r1));
    CHECK(r1.get() == nullptr && r2.get() != nullptr);
    CHECK_THROWS(r1.header("x", "y"), rlc::Result::InvalidArgument); // no crash

    rlc::Config c1;
    rlc::Config c2 = std::move(c1.workers(2));
    CHECK(c1.get() == nullptr && c2.get() != nullptr);
}

void refusals() {
    CHECK_THROWS(rlc::Config().workers(0), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().base_url("not a url"), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().burst(3), rlc::Result::InvalidArgument); // no limit yet
    CHECK_THROWS(rlc::Config().timeout(-5ms), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Request("BAD METHOD", "/ok"), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Request("GET", "/has space"), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Request("GET", "/ok").header("X-Bad", "a\r\nb"),
                 rlc::Result::InvalidArgument);
    try {
        rlc::Config().workers(0);
    } catch (const std::exception &e) { // catchable as any std::exception
        CHECK(std::string(e.what()).rfind("RLC_E_INVALID_ARGUMENT: ", 0) == 0);
    }
    // A client without a base URL refuses relative paths.
    rlc::Client bare{rlc::Config()};
    CHECK_THROWS(bare.submit_future(rlc::Request("GET", "/ok")).get(),
                 rlc::Result::InvalidArgument);
}

void redirects_and_pauses() {
    rlc::Client client(base().sensitive_header("X-Api-Key").max_server_pause(500ms));
    CHECK_THROWS(client.send(rlc::Request("GET", "/loop/a")), rlc::Result::Redirect);
    CHECK(client.metric(RLC_METRIC_REDIRECTS) == 1);
    rlc::Client off(base().max_redirects(0).redirect_to_http(false));
    rlc::Response r = off.send(rlc::Request("GET", "/loop/a"));
    CHECK(r.status() == 302);
    CHECK_THROWS(rlc::Config().sensitive_header("bad name"), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().max_server_pause(0ms), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().user_agent("app\x1b"), rlc::Result::InvalidArgument);
    CHECK(std::string(rlc::to_string(rlc::Result::Redirect)) == "RLC_E_REDIRECT");
}

void events() {
    std::mutex mu;
    std::vector<std::string> seen;
    {
        rlc::Client client(base().retry(3, 5ms, 20ms).on_event([&](const rlc_event &e) {
            std::lock_guard<std::mutex> lock(mu);
            if (e.kind == RLC_EVENT_RETRY) seen.push_back("retry " + std::to_string(e.attempt));
            else seen.push_back("other");
        }));
        CHECK(client.send(rlc::Request("GET", "/flaky/cpp-events/2")).attempts() == 3);
    } // closed: every event delivered
    std::lock_guard<std::mutex> lock(mu);
    CHECK(seen == (std::vector<std::string>{"retry 1", "retry 2"}));
    CHECK_THROWS(rlc::Config().on_event(nullptr), rlc::Result::InvalidArgument);
}

// Limits (tests/limits.rs): weighted requests, the retry budget, the retried
// statuses and per-request retries, a live limit change, adaptive limiting.
void weighted_requests() {
    rlc::Client client(base().rate_limit(10, 3600s));
    CHECK(client.send(rlc::Request("GET", "/ok").cost(7)).status() == 200);
    CHECK(client.metrics().tokens_available == 3);
    // More than the limit holds can never go: refused at submit, nothing spent.
    CHECK_THROWS(client.submit(rlc::Request("GET", "/ok").cost(11), 0, [](rlc::Response, rlc::Result) {}),
                 rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Request("GET", "/ok").cost(0), rlc::Result::InvalidArgument);
    CHECK(client.metrics().tokens_available == 3);
    CHECK(client.metrics().submitted == 1);
}

void retry_budget() {
    // The breaker would cut this short; the budget alone is under test.
    rlc::Client client(base().retry_budget(20, 0).workers(8).circuit_breaker(0, 30s));
    const std::size_t n = 200;
    Inbox inbox;
    for (std::size_t i = 0; i < n; ++i) client.submit(rlc::Request("GET", "/down"), 0, inbox.callback());
    std::vector<rlc::Response> all = inbox.wait(n);
    CHECK(all.size() == n);
    // A refused retry completes with the last answer.
    CHECK(std::all_of(all.begin(), all.end(), [](const rlc::Response &r) { return r.status() == 503; }));
    // 3 retries each would be 600; the budget allows 20 % of the 200 first attempts.
    rlc::Metrics m = client.metrics();
    CHECK(m.retries <= 50);
    CHECK(client.metric(RLC_METRIC_RETRIES_REFUSED_BY_BUDGET) >= 100);
    rlc::Client off(base().retry_budget(0, 0));
    CHECK(off.send(rlc::Request("GET", "/down")).attempts() == 1);
}

void retry_policy() {
    rlc::Client client(base().retry_on_status({500}));
    rlc::Response r = client.send(rlc::Request("GET", "/flaky/cpp-five-hundred/2?status=500"));
    CHECK(r.status() == 200 && r.attempts() == 3);
    r = client.send(rlc::Request("GET", "/flaky/cpp-not-503/1"));
    CHECK(r.status() == 503 && r.attempts() == 1); // 503 is no longer retried
    r = client.send(rlc::Request("GET", "/flaky/cpp-once/5?status=500").max_retries(1));
    CHECK(r.status() == 500 && r.attempts() == 2);
    r = client.send(rlc::Request("GET", "/flaky/cpp-never/1?status=500").max_retries(0));
    CHECK(r.status() == 500 && r.attempts() == 1);
    rlc::Client none(base().retry_on_status(std::vector<std::uint16_t>{}));
    CHECK(none.send(rlc::Request("GET", "/flaky/cpp-none/1")).attempts() == 1);
    CHECK_THROWS(rlc::Config().retry_on_status({99}), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().retry_on_status({200, 600}), rlc::Result::InvalidArgument);
}

void live_limit_change() {
    rlc::Client client(base().rate_limit(1, 3600s).retry(0, 0ms, 0ms));
    CHECK(client.metric(RLC_METRIC_RATE_LIMIT) == 1);
    CHECK(client.send(rlc::Request("GET", "/ok")).status() == 200);
    // The hour's only token is spent: the next two wait until the limit is raised.
    Inbox inbox;
    client.submit(rlc::Request("GET", "/ok"), 0, inbox.callback());
    client.submit(rlc::Request("GET", "/ok"), 0, inbox.callback());
    std::this_thread::sleep_for(300ms);
    CHECK(client.metrics().succeeded == 1);
    client.set_rate_limit(100, 1s);
    std::vector<rlc::Response> both = inbox.wait(2);
    CHECK(both.size() == 2);
    for (const rlc::Response &r : both) CHECK(r.status() == 200);
    CHECK(client.metric(RLC_METRIC_RATE_LIMIT) == 100);
    CHECK_THROWS(client.set_rate_limit(0, 1s), rlc::Result::InvalidArgument);
    CHECK_THROWS(client.set_rate_limit(10, 0ms), rlc::Result::InvalidArgument);
    client.close();
    CHECK_THROWS(client.set_rate_limit(10, 1s), rlc::Result::InvalidState);
}

void adaptive_limiting() {
    // 40/s configured; the server takes 20 per rolling second and says nothing.
    rlc::Client client(base().rate_limit(40, 1s).burst(1).retry(0, 0ms, 0ms).adaptive());
    const std::size_t n = 120;
    Inbox inbox;
    for (std::size_t i = 0; i < n; ++i) {
        client.submit(rlc::Request("GET", "/hidden-limit/20"), 0, inbox.callback());
    }
    std::vector<rlc::Response> all = inbox.wait(n);
    CHECK(all.size() == n);
    const auto throttled = std::count_if(all.begin(), all.end(),
                                         [](const rlc::Response &r) { return r.status() == 429; });
    const std::uint64_t rate = client.metric(RLC_METRIC_RATE_LIMIT);
    CHECK(rate < 40);  // it came down from 40
    CHECK(rate >= 10); // but not to nothing
    // A fixed 40/s client would see about half its requests refused.
    CHECK(throttled <= 40);
    // Adaptive needs a rate limit to start from.
    CHECK_THROWS(rlc::Client(base().adaptive()), rlc::Result::InvalidArgument);
}

void callbacks_on_workers() {
    // Callbacks on the workers: each request still gets one, and futures still work.
    rlc::Client client(base().workers(4).callbacks_on_workers());
    const std::size_t n = 100;
    Inbox inbox;
    for (std::size_t i = 0; i < n; ++i) {
        client.submit(rlc::Request("GET", "/ok"), 0, inbox.callback());
    }
    std::vector<rlc::Response> all = inbox.wait(n);
    CHECK(all.size() == n);
    CHECK(std::all_of(all.begin(), all.end(), [](const rlc::Response &r) { return r.status() == 200; }));
    CHECK(client.submit_future(rlc::Request("GET", "/ok")).get().status() == 200);
}

void named_metrics() {
    rlc::Client client(base().name("orders"));
    CHECK(client.send(rlc::Request("GET", "/ok")).status() == 200);
    const std::string text = client.metrics_prometheus();
    CHECK(text.find("rlc_requests_submitted_total{client=\"orders\"} 1\n") != std::string::npos);
    CHECK(text.find("rlc_latency_seconds_count{client=\"orders\"} 1\n") != std::string::npos);
    CHECK_THROWS(rlc::Config().name(""), rlc::Result::InvalidArgument);
    CHECK_THROWS(rlc::Config().name("line\nbreak"), rlc::Result::InvalidArgument);
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base_url = argv[1];
    send_basic();
    binary_body_and_headers();
    submit_with_function();
    futures();
    priority_order();
    cancel();
    shutdown_makes_every_future_ready();
    throwing_callback();
    move_semantics();
    refusals();
    redirects_and_pauses();
    events();
    weighted_requests();
    retry_budget();
    retry_policy();
    live_limit_change();
    adaptive_limiting();
    named_metrics();
    callbacks_on_workers();
    if (failures) {
        std::fprintf(stderr, "client_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("client_test: all checks passed\n");
    return 0;
}
