// rlc.hpp: a header-only C++17 wrapper over rlc's C ABI (include/rlc.h).
//
//     using namespace std::chrono_literals;
//     rlc::Client client(rlc::Config().base_url("http://127.0.0.1:8080").rate_limit(10, 1s));
//     rlc::Response r = client.send(rlc::Request("GET", "/ok"));        // blocks
//     std::future<rlc::Response> f = client.submit_future(rlc::Request("GET", "/ok"), 5);
//     client.submit(rlc::Request("GET", "/ok"), 1, [](rlc::Response r, rlc::Result) { ... });
//
// Ownership: RAII owns every C handle. rlc::Config, rlc::Request and rlc::Client are
// move-only and free what they hold; rlc::Response is a plain value copied out of the
// C response, so it outlives the callback that received it. A moved-from object holds
// nothing: using it throws rlc::Error instead of crashing.
//
// Errors: synchronous failures throw rlc::Error, which carries the rlc::Result and the
// library's sentence for it (rlc_last_error, read on the failing thread). A request's
// own outcome is not thrown at the callback: it gets the Response and its Result. A
// future holds the outcome instead: get() returns the Response (an HTTP response of
// any status) or throws the rlc::Error (RLC_E_CONNECT, RLC_E_SHUTDOWN, ...).
//
// Threads: callbacks, and so the completion of futures, run on the client's one
// completion thread, one at a time, never inside submit. A Client may be used from
// many threads at once, but not while it is being moved, assigned or closed. Waiting
// on a future inside a callback would deadlock that thread: don't (send() refuses
// there with RLC_E_INVALID_STATE).
//
// Exceptions never cross into C. One that escapes a user's callback is caught by the
// trampoline, written to stderr and swallowed: std::terminate is NOT called, the
// client keeps running, and the callback counts as delivered. (There is nobody to
// rethrow it to: the callback's caller is the library's thread.) Code that must not
// lose an error catches it inside its callback, or uses submit_future.
//
// Build: -std=c++17 with include/ and bindings/cpp/ on the include path; link -lrlc.
// With CMake: find_package(rlc) and target_link_libraries(app PRIVATE rlc::rlc).
//
// JSON: when <nlohmann/json.hpp> is on the include path (and RLC_NO_JSON is not
// defined), Request::json(value) sends a JSON body and Response::json() parses one;
// RLC_HAS_JSON is then 1. Without it nothing of nlohmann is included.

#ifndef RLC_HPP
#define RLC_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rlc.h"

#if !defined(RLC_NO_JSON) && defined(__has_include)
#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define RLC_HAS_JSON 1
#endif
#endif
#ifndef RLC_HAS_JSON
#define RLC_HAS_JSON 0
#endif

namespace rlc {

/// rlc_result as a scoped enum, with the same values.
enum class Result : int {
    Ok = RLC_OK,
    InvalidArgument = RLC_E_INVALID_ARGUMENT,
    QueueFull = RLC_E_QUEUE_FULL,
    CircuitOpen = RLC_E_CIRCUIT_OPEN,
    Timeout = RLC_E_TIMEOUT,
    Connect = RLC_E_CONNECT,
    Tls = RLC_E_TLS,
    Io = RLC_E_IO,
    BodyTooLarge = RLC_E_BODY_TOO_LARGE,
    Cancelled = RLC_E_CANCELLED,
    Shutdown = RLC_E_SHUTDOWN,
    UnknownRequest = RLC_E_UNKNOWN_REQUEST,
    InvalidState = RLC_E_INVALID_STATE,
    Panic = RLC_E_PANIC,
    Redirect = RLC_E_REDIRECT,
    Journal = RLC_E_JOURNAL,
    Graphql = RLC_E_GRAPHQL,
    Redis = RLC_E_REDIS,
};

/// What a client with a shared limit (Config::redis) does while its Redis is away.
enum class RedisFailure : std::uint32_t {
    /// Requests wait for Redis; those with a deadline time out.
    Closed = RLC_REDIS_FAIL_CLOSED,
    /// A local limiter at a share of the rate (Config::redis_local_share). The default.
    Local = RLC_REDIS_FAIL_LOCAL,
    /// Requests go at this client's own full rate, unshared.
    Open = RLC_REDIS_FAIL_OPEN,
};

using RequestId = rlc_request_id;
/// A snapshot of a client's counters and latencies (rlc_metrics in rlc.h).
using Metrics = rlc_metrics;

/// The static name of `r`, such as "RLC_E_QUEUE_FULL".
inline const char *to_string(Result r) noexcept {
    return rlc_result_str(static_cast<uint32_t>(r));
}

/// The library's version (rlc_version); RLC_VERSION_STRING is the header's.
inline const char *version() noexcept { return rlc_version(); }

/// The calling thread's last error sentence (rlc_last_error); "" when none.
inline std::string last_error() {
    std::string text(rlc_last_error(nullptr, 0), '\0');
    rlc_last_error(text.data(), text.size());
    text.resize(std::strlen(text.c_str()));
    return text;
}

/// What every failure throws: the code, and a sentence saying why. what() reads
/// "RLC_E_CONNECT: <sentence>". A std::runtime_error underneath, so copying (as
/// std::exception_ptr and futures do) never throws.
class Error : public std::runtime_error {
public:
    Error(Result result, const std::string &message)
        : std::runtime_error(std::string(to_string(result)) + ": " + message),
          result_(result),
          skip_(std::strlen(to_string(result)) + 2) {}

    /// The failure of the C call that just returned `rc` on this thread.
    static Error last(rlc_result rc) { return Error(static_cast<Result>(rc), last_error()); }

    Result result() const noexcept { return result_; }
    /// The sentence alone, without the code's name.
    const char *message() const noexcept { return what() + skip_; }

private:
    Result result_;
    std::size_t skip_;
};

namespace detail {

inline void check(rlc_result rc) {
    if (rc != RLC_OK) throw Error::last(rc);
}

/// A duration as the C ABI's unsigned milliseconds. A negative one is refused here:
/// the cast would turn it into centuries.
inline std::uint64_t millis(std::chrono::milliseconds d) {
    if (d.count() < 0) throw Error(Result::InvalidArgument, "a duration must not be negative");
    return static_cast<std::uint64_t>(d.count());
}

/// ASCII case-insensitive equality, as HTTP header names compare.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

} // namespace detail

/// The outcome of one request, copied out of the C response: an HTTP response of any
/// status (result() is Ok), or, with status 0, why none came.
class Response {
public:
    using Headers = std::vector<std::pair<std::string, std::string>>;

    Response() = default;

    /// Copies everything out of `resp`, which stays the caller's. `id` is 0 for the
    /// response of Client::send, which has none.
    static Response copy_of(RequestId id, Result result, const rlc_response *resp) {
        Response r;
        r.id_ = id;
        r.result_ = result;
        r.status_ = rlc_response_status(resp);
        r.attempts_ = rlc_response_attempts(resp);
        if (const char *msg = rlc_response_error_message(resp)) r.error_message_ = msg;
        if (const char *tag = rlc_response_tag(resp)) r.tag_ = tag;
        if (const char *errors = rlc_response_graphql_errors(resp)) r.graphql_errors_ = errors;
        std::size_t len = 0;
        if (const std::uint8_t *body = rlc_response_body(resp, &len)) {
            r.body_.assign(body, body + len);
        }
        const std::size_t count = rlc_response_header_count(resp);
        r.headers_.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const char *name = nullptr;
            const char *value = nullptr;
            if (rlc_response_header_at(resp, i, &name, &value) == RLC_OK) {
                r.headers_.emplace_back(name, value);
            }
        }
        return r;
    }

    /// The id submit returned; 0 for a response of send.
    RequestId id() const noexcept { return id_; }
    /// Ok when an HTTP response of any status came; otherwise why none did.
    Result result() const noexcept { return result_; }
    /// The HTTP status, or 0 when no response came.
    std::uint16_t status() const noexcept { return status_; }
    /// How many attempts reached the network (0 when none did, e.g. cancelled queued).
    std::uint32_t attempts() const noexcept { return attempts_; }
    /// Why the request failed; "" when a response came.
    const std::string &error_message() const noexcept { return error_message_; }
    /// The request's tag (Request::tag); "" when it had none.
    const std::string &tag() const noexcept { return tag_; }
    /// Every header line in the order received; a repeated name once per line.
    const Headers &headers() const noexcept { return headers_; }
    /// The value of the first header named `name`, compared without regard to case.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto &h : headers_) {
            if (detail::iequals(h.first, name)) return h.second;
        }
        return std::nullopt;
    }
    /// A GraphQL answer's `errors` array as JSON text; nullopt for other requests or
    /// when it had none.
    const std::optional<std::string> &graphql_errors() const noexcept { return graphql_errors_; }
    /// The body's bytes (any bytes, NULs included).
    const std::vector<std::uint8_t> &body() const noexcept { return body_; }
    /// The same bytes as a string.
    std::string text() const { return std::string(body_.begin(), body_.end()); }
#if RLC_HAS_JSON
    /// The body parsed as JSON; throws nlohmann::json::parse_error when it is not.
    nlohmann::json json() const { return nlohmann::json::parse(body_.begin(), body_.end()); }
#endif

private:
    RequestId id_ = 0;
    Result result_ = Result::Ok;
    std::uint16_t status_ = 0;
    std::uint32_t attempts_ = 0;
    std::string error_message_;
    std::string tag_;
    std::optional<std::string> graphql_errors_;
    Headers headers_;
    std::vector<std::uint8_t> body_;
};

/// A client configuration (rlc_config). Setters chain and throw Error when the
/// library refuses a value. A Client copies it, so one Config may start several.
/// Watches a client's events (rlc_event in rlc.h: breaker transitions, retries,
/// server pauses, dropped requests, limit changes); runs on the completion thread.
using EventHandler = std::function<void(const rlc_event &)>;

} // namespace rlc

extern "C" {
/// The C event callback of every Config::on_event: `user_data` is the handler. No
/// exception leaves.
inline void rlc_hpp_event(void *user_data, const rlc_event *event) noexcept {
    try {
        (*static_cast<rlc::EventHandler *>(user_data))(*event);
    } catch (...) {
        std::fprintf(stderr, "rlc.hpp: the event handler threw (ignored)\n");
    }
}

/// Releases an event handler kept alive for a shutdown finished by the library.
inline void rlc_hpp_release_handler(void *user_data) noexcept {
    delete static_cast<std::shared_ptr<rlc::EventHandler> *>(user_data);
}
}

namespace rlc {

class Config {
public:
    Config() : cfg_(rlc_config_new()) {
        if (!cfg_) throw Error(Result::Panic, "rlc_config_new returned NULL");
    }
    ~Config() { rlc_config_free(cfg_); }
    Config(Config &&other) noexcept : cfg_(std::exchange(other.cfg_, nullptr)) {}
    Config &operator=(Config &&other) noexcept {
        if (this != &other) {
            rlc_config_free(cfg_);
            cfg_ = std::exchange(other.cfg_, nullptr);
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;

    /// Where paths starting with '/' go: `http(s)://host[:port][/prefix]`.
    Config &base_url(const std::string &url) & {
        return ok(rlc_config_set_base_url(cfg_, url.c_str()));
    }
    /// At most `max_requests` per `window`, with a burst of `max_requests`.
    Config &rate_limit(std::uint32_t max_requests, std::chrono::milliseconds window) & {
        return ok(rlc_config_set_rate_limit(cfg_, max_requests, detail::millis(window)));
    }
    /// The burst of the rate_limit, which must come first.
    Config &burst(std::uint32_t burst) & { return ok(rlc_config_set_burst(cfg_, burst)); }
    /// A further limit beside the others (10 per second and 1000 per hour).
    Config &add_rate_limit(std::uint32_t max_requests, std::chrono::milliseconds window,
                           std::uint32_t burst) & {
        return ok(rlc_config_add_rate_limit(cfg_, max_requests, detail::millis(window), burst));
    }
    /// No sliding window ever holds more than the rate_limit's `max_requests` sends.
    Config &strict_window(bool strict = true) & {
        return ok(rlc_config_set_strict_window(cfg_, strict));
    }
    /// Up to `max_retries` more attempts, from `base_delay` doubling up to `max_delay`.
    Config &retry(std::uint32_t max_retries, std::chrono::milliseconds base_delay,
                  std::chrono::milliseconds max_delay) & {
        return ok(rlc_config_set_retry(cfg_, max_retries, detail::millis(base_delay),
                                       detail::millis(max_delay)));
    }
    /// Opens after `failure_threshold` consecutive failures (0: no breaker).
    Config &circuit_breaker(std::uint32_t failure_threshold,
                            std::chrono::milliseconds recovery) & {
        const std::uint64_t ms = detail::millis(recovery);
        return ok(rlc_config_set_circuit_breaker(cfg_, failure_threshold, ms));
    }
    /// Past `max` waiting requests, submits are refused with QueueFull.
    Config &max_queue_size(std::size_t max) & {
        return ok(rlc_config_set_max_queue_size(cfg_, max));
    }
    /// Worker threads: the most requests in flight at once.
    Config &workers(std::uint32_t workers) & { return ok(rlc_config_set_workers(cfg_, workers)); }
    /// The timeout of one attempt, connect to last byte.
    Config &timeout(std::chrono::milliseconds timeout) & {
        return ok(rlc_config_set_timeout(cfg_, detail::millis(timeout)));
    }
    /// A header sent with every request (a request's own one of that name wins).
    Config &default_header(const std::string &name, const std::string &value) & {
        return ok(rlc_config_set_default_header(cfg_, name.c_str(), value.c_str()));
    }
    /// The largest response body accepted; larger ones complete with BodyTooLarge.
    Config &max_response_bytes(std::uint64_t max_bytes) & {
        return ok(rlc_config_set_max_response_bytes(cfg_, max_bytes));
    }
    Config &user_agent(const std::string &user_agent) & {
        return ok(rlc_config_set_user_agent(cfg_, user_agent.c_str()));
    }
    /// The `client` label of every sample in metrics_prometheus() (default "default").
    Config &name(const std::string &name) & { return ok(rlc_config_set_name(cfg_, name.c_str())); }
    /// Trust the PEM certificates in the file at `path` instead of the built-in roots.
    Config &ca_bundle(const std::string &path) & {
        return ok(rlc_config_set_ca_bundle(cfg_, path.c_str()));
    }
    /// Redirect hops followed (default 10; 0 hands the 3xx back). Each takes a token.
    Config &max_redirects(std::uint32_t max) & { return ok(rlc_config_set_max_redirects(cfg_, max)); }
    /// Follow redirects from https to http (refused with Result::Redirect by default).
    Config &redirect_to_http(bool allow = true) & {
        return ok(rlc_config_set_redirect_to_http(cfg_, allow));
    }
    /// A header a redirect to another origin drops, like Authorization and Cookie.
    Config &sensitive_header(const std::string &name) & {
        return ok(rlc_config_add_sensitive_header(cfg_, name.c_str()));
    }
    /// The longest pause a server's Retry-After or rate-limit headers may impose.
    Config &max_server_pause(std::chrono::milliseconds max) & {
        return ok(rlc_config_set_max_server_pause(cfg_, detail::millis(max)));
    }
    /// Calls `handler` with every event of the clients made from this config, on their
    /// completion thread, in order with the callbacks. Each client keeps it alive.
    Config &on_event(EventHandler handler) & {
        if (!handler) throw Error(Result::InvalidArgument, "on_event needs a function");
        auto kept = std::make_shared<EventHandler>(std::move(handler));
        ok(rlc_config_set_event_callback(cfg_, &rlc_hpp_event, kept.get()));
        on_event_ = std::move(kept);
        return *this;
    }

    // The same setters on a temporary, handing it on: Client(Config().workers(2)).
    Config &&base_url(const std::string &url) && { return std::move(base_url(url)); }
    Config &&rate_limit(std::uint32_t max_requests, std::chrono::milliseconds window) && {
        return std::move(rate_limit(max_requests, window));
    }
    Config &&burst(std::uint32_t b) && { return std::move(burst(b)); }
    Config &&add_rate_limit(std::uint32_t max_requests, std::chrono::milliseconds window,
                            std::uint32_t b) && {
        return std::move(add_rate_limit(max_requests, window, b));
    }
    Config &&strict_window(bool strict = true) && { return std::move(strict_window(strict)); }
    Config &&retry(std::uint32_t max_retries, std::chrono::milliseconds base_delay,
                   std::chrono::milliseconds max_delay) && {
        return std::move(retry(max_retries, base_delay, max_delay));
    }
    Config &&circuit_breaker(std::uint32_t failure_threshold,
                             std::chrono::milliseconds recovery) && {
        return std::move(circuit_breaker(failure_threshold, recovery));
    }
    Config &&max_queue_size(std::size_t max) && { return std::move(max_queue_size(max)); }
    Config &&workers(std::uint32_t n) && { return std::move(workers(n)); }
    Config &&timeout(std::chrono::milliseconds t) && { return std::move(timeout(t)); }
    Config &&default_header(const std::string &name, const std::string &value) && {
        return std::move(default_header(name, value));
    }
    Config &&max_response_bytes(std::uint64_t max_bytes) && {
        return std::move(max_response_bytes(max_bytes));
    }
    Config &&user_agent(const std::string &ua) && { return std::move(user_agent(ua)); }
    Config &&name(const std::string &n) && { return std::move(name(n)); }

    // ---- The persistent queue ----------------------------------------------------
    /// Keeps every accepted request in a journal at `path` (an SQLite file) until its
    /// callback has run: submit returns only once the request is on disk, and after
    /// a crash the next process's Client::recover queues what is left. At least once:
    /// a request in flight at the crash is sent again, with the same Idempotency-Key
    /// (each journaled request gets one unless it has its own). The Client
    /// constructor throws Result::Journal when the journal is locked by another live
    /// client, corrupt, from a newer rlc, read-only, or not rlc's file.
    Config &journal(const std::string &path) & {
        return ok(rlc_config_set_journal(cfg_, path.c_str()));
    }
    Config &&journal(const std::string &path) && { return std::move(journal(path)); }
    Config &&ca_bundle(const std::string &path) && { return std::move(ca_bundle(path)); }
    Config &&max_redirects(std::uint32_t max) && { return std::move(max_redirects(max)); }
    Config &&redirect_to_http(bool allow = true) && { return std::move(redirect_to_http(allow)); }
    Config &&sensitive_header(const std::string &name) && { return std::move(sensitive_header(name)); }
    Config &&max_server_pause(std::chrono::milliseconds max) && {
        return std::move(max_server_pause(max));
    }
    Config &&on_event(EventHandler handler) && { return std::move(on_event(std::move(handler))); }

    // Limits (issue 12).

    /// Bounds retries: over any ten seconds at most `percent` % of the first attempts
    /// plus `min_per_second` per second (20 % and 10/s by default); (0, 0) turns retries
    /// off. A retry the budget refuses completes with the last response.
    Config &retry_budget(std::uint32_t percent, std::uint32_t min_per_second) & {
        return ok(rlc_config_set_retry_budget(cfg_, percent, min_per_second));
    }
    /// Replaces the retried statuses (429, 502, 503, 504 by default); empty: none.
    /// Transport errors and timeouts stay retried. Codes must be within 100..=599.
    Config &retry_on_status(const std::vector<std::uint16_t> &codes) & {
        return ok(rlc_config_set_retry_on_status(cfg_, codes.empty() ? nullptr : codes.data(),
                                                 codes.size()));
    }
    Config &retry_on_status(std::initializer_list<std::uint16_t> codes) & {
        return retry_on_status(std::vector<std::uint16_t>(codes));
    }
    /// Adaptive limiting: a throttle (429, or 503 with Retry-After) cuts the rate limit
    /// to three quarters, quiet seconds climb back toward the configured rate, which is
    /// the ceiling (so a rate_limit is needed: Client throws InvalidArgument without).
    Config &adaptive(bool on = true) & { return ok(rlc_config_set_adaptive(cfg_, on)); }
    /// Runs the callback of a request a worker finished on that worker, at once, not on
    /// the completion thread: the highest throughput, but callbacks run concurrently (in
    /// no order across workers) and a slow one holds its worker. Requests the client
    /// completes itself, and events, still come on the completion thread.
    Config &callbacks_on_workers(bool on = true) & {
        return ok(rlc_config_set_callbacks_on_workers(cfg_, on));
    }

    Config &&retry_budget(std::uint32_t percent, std::uint32_t min_per_second) && {
        return std::move(retry_budget(percent, min_per_second));
    }
    Config &&retry_on_status(const std::vector<std::uint16_t> &codes) && {
        return std::move(retry_on_status(codes));
    }
    Config &&retry_on_status(std::initializer_list<std::uint16_t> codes) && {
        return std::move(retry_on_status(codes));
    }
    Config &&adaptive(bool on = true) && { return std::move(adaptive(on)); }
    Config &&callbacks_on_workers(bool on = true) && {
        return std::move(callbacks_on_workers(on));
    }

    // GraphQL (issue 17).

    /// Adds a limit counted in points (a GraphQL API's cost budget): a bucket of
    /// `points` refilled at `points` per `window` (Shopify's 1,000 restored at 50/s is
    /// cost_limit(1000, 20s)). Client::graphql takes each query's cost from it and
    /// corrects the charge from the server's report.
    Config &cost_limit(std::uint32_t points, std::chrono::milliseconds window) & {
        return ok(rlc_config_set_cost_limit(cfg_, points, detail::millis(window)));
    }
    Config &&cost_limit(std::uint32_t points, std::chrono::milliseconds window) && {
        return std::move(cost_limit(points, window));
    }
    // -- A limit shared through Redis (rlc_config_set_redis) ---------------------------
    /// Shares the rate limits (set one) with every client on the same Redis and `key`:
    /// `redis://[user:password@]host[:port][/db]` or `rediss://` for TLS. The Client
    /// constructor throws Result::Redis when Redis refuses (wrong password, no such
    /// database); an unreachable Redis does not throw: the failure policy applies. The
    /// shared rate may exceed the limit by at most the lease size per client in any
    /// window. No message ever holds the password.
    Config &redis(const std::string &url, const std::string &key) & {
        return ok(rlc_config_set_redis(cfg_, url.c_str(), key.c_str()));
    }
    /// What the client does while Redis is away (RedisFailure::Local by default).
    Config &redis_failure(RedisFailure policy) & {
        return ok(rlc_config_set_redis_failure(cfg_, static_cast<std::uint32_t>(policy)));
    }
    /// The share of the rate, 1 to 100 %, of RedisFailure::Local (by default 100 / the
    /// clients seen on the key).
    Config &redis_local_share(std::uint32_t percent) & {
        return ok(rlc_config_set_redis_local_share(cfg_, percent));
    }
    /// The most tokens taken per round trip to Redis (by default 5 % of the rate per second).
    Config &redis_max_lease(std::uint32_t tokens) & {
        return ok(rlc_config_set_redis_max_lease(cfg_, tokens));
    }
    Config &&redis(const std::string &url, const std::string &key) && {
        return std::move(redis(url, key));
    }
    Config &&redis_failure(RedisFailure policy) && { return std::move(redis_failure(policy)); }
    Config &&redis_local_share(std::uint32_t percent) && {
        return std::move(redis_local_share(percent));
    }
    Config &&redis_max_lease(std::uint32_t tokens) && { return std::move(redis_max_lease(tokens)); }

    /// The event handler set with on_event, shared with the clients made since.
    const std::shared_ptr<EventHandler> &event_handler() const noexcept { return on_event_; }

    /// The C handle, still owned by this Config (NULL once moved from).
    const rlc_config *get() const noexcept { return cfg_; }

private:
    Config &ok(rlc_result rc) {
        detail::check(rc);
        return *this;
    }

    rlc_config *cfg_;
    std::shared_ptr<EventHandler> on_event_;
};

/// One HTTP request (rlc_request). Client::submit, submit_future and send take it
/// by value: it is handed to the library, which owns it from then on.
class Request {
public:
    /// `method` such as "GET"; `path_or_url` a path starting with '/' (joined to the
    /// base URL) or an absolute http(s) URL. Throws Error when either is malformed.
    Request(const std::string &method, const std::string &path_or_url)
        : req_(rlc_request_new(method.c_str(), path_or_url.c_str())) {
        if (!req_) throw Error::last(RLC_E_INVALID_ARGUMENT);
    }
    ~Request() { rlc_request_free(req_); }
    Request(Request &&other) noexcept
        : req_(std::exchange(other.req_, nullptr)),
          json_(other.json_),
          has_content_type_(other.has_content_type_) {}
    Request &operator=(Request &&other) noexcept {
        if (this != &other) {
            rlc_request_free(req_);
            req_ = std::exchange(other.req_, nullptr);
            json_ = other.json_;
            has_content_type_ = other.has_content_type_;
        }
        return *this;
    }
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;

    /// Adds a header; a name may be added more than once.
    Request &header(const std::string &name, const std::string &value) & {
        ok(rlc_request_set_header(req_, name.c_str(), value.c_str()));
        if (detail::iequals(name, "content-type")) has_content_type_ = true;
        return *this;
    }
    /// The body: a copy of `len` bytes at `data` (NULs included).
    Request &body(const void *data, std::size_t len) & {
        ok(rlc_request_set_body(req_, static_cast<const std::uint8_t *>(data), len));
        json_ = false; // a later raw body is not JSON any more
        return *this;
    }
    Request &body(std::string_view text) & { return body(text.data(), text.size()); }
    Request &body(const std::vector<std::uint8_t> &bytes) & {
        return body(bytes.data(), bytes.size());
    }
    /// The timeout of each attempt, overriding the client's.
    Request &timeout(std::chrono::milliseconds timeout) & {
        return ok(rlc_request_set_timeout(req_, detail::millis(timeout)));
    }
    /// Bounds the whole life of the request, queueing and retries included.
    Request &deadline(std::chrono::milliseconds deadline) & {
        return ok(rlc_request_set_deadline(req_, detail::millis(deadline)));
    }
    /// Retry it even though its method is not idempotent (e.g. POST).
    Request &retry_non_idempotent(bool allow = true) & {
        return ok(rlc_request_set_retry_non_idempotent(req_, allow));
    }

#if RLC_HAS_JSON
    /// The body: `value` serialized as JSON, sent with Content-Type: application/json
    /// unless header() sets a Content-Type (before or after this call).
    Request &json(const nlohmann::json &value) & {
        body(value.dump());
        json_ = true;
        return *this;
    }
    Request &&json(const nlohmann::json &value) && { return std::move(json(value)); }
#endif

    // The same setters on a temporary, handing it on:
    // client.send(rlc::Request("POST", "/x").header("a", "b").body(text)).
    Request &&header(const std::string &name, const std::string &value) && {
        return std::move(header(name, value));
    }
    Request &&body(const void *data, std::size_t len) && { return std::move(body(data, len)); }
    Request &&body(std::string_view text) && { return std::move(body(text)); }
    Request &&body(const std::vector<std::uint8_t> &bytes) && { return std::move(body(bytes)); }
    Request &&timeout(std::chrono::milliseconds t) && { return std::move(timeout(t)); }
    Request &&deadline(std::chrono::milliseconds d) && { return std::move(deadline(d)); }
    Request &&retry_non_idempotent(bool allow = true) && {
        return std::move(retry_non_idempotent(allow));
    }

    /// The tokens it takes from every rate limit (1 by default): a batch call the API
    /// counts as ten costs 10. Submit throws InvalidArgument for a cost above the
    /// smallest burst of the client's limits (it could never go); 0 throws here.
    Request &cost(std::uint32_t tokens) & { return ok(rlc_request_set_cost(req_, tokens)); }
    /// How many times it is retried, instead of the client's max_retries (0: never).
    /// The client's retry budget still applies.
    Request &max_retries(std::uint32_t n) & { return ok(rlc_request_set_max_retries(req_, n)); }
    Request &&cost(std::uint32_t tokens) && { return std::move(cost(tokens)); }
    Request &&max_retries(std::uint32_t n) && { return std::move(max_retries(n)); }

    /// The application's own name for the request (an order number...), kept in the
    /// journal with it and read back as Response::tag, also by Client::recover in
    /// the next process. At most 4 KiB.
    Request &tag(const std::string &tag) & { return ok(rlc_request_set_tag(req_, tag.c_str())); }
    Request &&tag(const std::string &t) && { return std::move(tag(t)); }
    /// A GraphQL request (rlc_graphql_request_new): a POST of {query, variables,
    /// operationName} to `path_or_url`. `variables_json` ("" for none) must be a JSON
    /// object; `operation_name` ("" for none) picks one of several operations. Throws
    /// Error Graphql for a query that does not parse. cost() then sets its points
    /// (GitHub's estimate otherwise).
    static Request graphql(const std::string &path_or_url, const std::string &query,
                           const std::string &variables_json = "",
                           const std::string &operation_name = "") {
        rlc_request *req = nullptr;
        detail::check(rlc_graphql_request_new(
            path_or_url.c_str(), query.c_str(),
            variables_json.empty() ? nullptr : variables_json.c_str(),
            operation_name.empty() ? nullptr : operation_name.c_str(), &req));
        return Request(req);
    }
    /// The points a GraphQL request takes from the cost limits.
    std::uint32_t graphql_points() const {
        std::uint32_t points = 0;
        detail::check(rlc_graphql_request_points(req_, &points));
        return points;
    }

    /// The C handle, still owned by this Request (NULL once moved from or handed on).
    rlc_request *get() const noexcept { return req_; }
    /// Gives the C handle up: the caller owns it now. A JSON body's Content-Type is
    /// added here, at the last moment, so that a Content-Type set after json() wins
    /// instead of being sent beside it.
    rlc_request *release() noexcept {
        if (req_ && json_ && !has_content_type_) {
            // A constant, valid header on a live request: it cannot be refused.
            (void)rlc_request_set_header(req_, "Content-Type", "application/json");
            has_content_type_ = true;
        }
        return std::exchange(req_, nullptr);
    }

private:
    explicit Request(rlc_request *owned) noexcept : req_(owned) {}

    Request &ok(rlc_result rc) {
        detail::check(rc);
        return *this;
    }

    rlc_request *req_;
    bool json_ = false;             // json() set the body
    bool has_content_type_ = false; // header() set a Content-Type
};

/// What a request's callback gets: the response (or why none came), and its result.
using Callback = std::function<void(Response, Result)>;

/// A GraphQL answer with errors (or not a GraphQL answer at all: then errors() is
/// "[]"): the server's `errors` array as JSON text, and the whole response.
class GraphQLError : public std::runtime_error {
public:
    GraphQLError(std::string errors, Response response)
        : std::runtime_error("GraphQL errors: " + errors), errors_(std::move(errors)),
          response_(std::move(response)) {}
    /// The `errors` array as JSON text.
    const std::string &errors() const noexcept { return errors_; }
    const Response &response() const noexcept { return response_; }
#if RLC_HAS_JSON
    /// The `errors` array parsed.
    nlohmann::json errors_json() const { return nlohmann::json::parse(errors_); }
#endif

private:
    std::string errors_;
    Response response_;
};

/// Options of Client::graphql.
struct GraphQLOptions {
    /// Which operation of the document runs ("" when it holds one).
    std::string operation_name;
    /// Its cost in points (0: GitHub's estimate from the query).
    std::uint32_t cost = 0;
    /// Where the endpoint is: a path joined to the base URL, or a URL.
    std::string path = "/graphql";
    std::int32_t priority = 0;
};

} // namespace rlc

namespace rlc::detail {

/// The callback that Client::recover shares between the requests it queues, deleted
/// after the last of them has run. `pending` starts at a bias and counts callbacks
/// down; recover takes the bias back less the count once it knows it, so the count
/// reaches zero exactly when every callback has run and recover has returned.
struct Recovery {
    static constexpr std::int64_t bias = std::int64_t{1} << 40;
    Callback callback;
    std::atomic<std::int64_t> pending{bias};

    /// Counts `n` down; deletes this when it reaches zero.
    void release(std::int64_t n) {
        if (pending.fetch_sub(n) == n) delete this;
    }
};

} // namespace rlc::detail

extern "C" {
/// The C callback of Client::recover: `user_data` is the shared rlc::detail::Recovery.
/// Exceptions are handled as in rlc_hpp_complete.
inline void rlc_hpp_recovered(void *user_data, rlc_request_id id, rlc_result result,
                              const rlc_response *response) noexcept {
    auto *recovery = static_cast<rlc::detail::Recovery *>(user_data);
    try {
        auto r = static_cast<rlc::Result>(result);
        recovery->callback(rlc::Response::copy_of(id, r, response), r);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "rlc.hpp: the callback of request %llu threw: %s (ignored)\n",
                     static_cast<unsigned long long>(id), e.what());
    } catch (...) {
        std::fprintf(stderr, "rlc.hpp: the callback of request %llu threw (ignored)\n",
                     static_cast<unsigned long long>(id));
    }
    recovery->release(1);
}

/// The C callback of every submit: `user_data` is a heap-allocated rlc::Callback,
/// which this deletes -- the library calls it exactly once per accepted request, and
/// a refused submit deletes it itself. No exception leaves: one from the user's
/// callback (or from copying the response) is written to stderr and swallowed.
inline void rlc_hpp_complete(void *user_data, rlc_request_id id, rlc_result result,
                             const rlc_response *response) noexcept {
    try {
        std::unique_ptr<rlc::Callback> callback(static_cast<rlc::Callback *>(user_data));
        auto r = static_cast<rlc::Result>(result);
        (*callback)(rlc::Response::copy_of(id, r, response), r);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "rlc.hpp: the callback of request %llu threw: %s (ignored)\n",
                     static_cast<unsigned long long>(id), e.what());
    } catch (...) {
        std::fprintf(stderr, "rlc.hpp: the callback of request %llu threw (ignored)\n",
                     static_cast<unsigned long long>(id));
    }
}
}

namespace rlc {

/// A running client (rlc_client): its scheduler, workers and completion thread.
/// Move-only; the destructor (or close()) shuts it down: queued requests complete
/// with Result::Shutdown, requests in flight finish, every callback is delivered and
/// every future made ready before it returns.
class Client {
public:
    /// Starts a client from a copy of `config`. Throws Error if it cannot start.
    explicit Client(const Config &config) : on_event_(config.event_handler()) {
        rlc_client *c = nullptr;
        detail::check(rlc_client_new(config.get(), &c));
        client_ = c;
    }
    ~Client() { close(); }
    Client(Client &&other) noexcept
        : client_(std::exchange(other.client_, nullptr)), on_event_(std::move(other.on_event_)) {}
    /// Closes this client first (waiting as close() does), then takes `other`'s.
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            close();
            client_ = std::exchange(other.client_, nullptr);
            on_event_ = std::move(other.on_event_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    /// Queues `request` with `priority` (higher first: 100 before 1) and returns its
    /// id. `callback` runs exactly once, later, on the completion thread, with the
    /// response and its result (Ok for an HTTP response of any status). Throws
    /// Error, and never calls `callback`, when the submit is refused: QueueFull,
    /// CircuitOpen, Shutdown, InvalidArgument (also for an empty callback),
    /// InvalidState on a closed client. May be called from inside a callback.
    RequestId submit(Request request, std::int32_t priority, Callback callback) {
        if (!callback) throw Error(Result::InvalidArgument, "submit needs a callback");
        rlc_client *client = handle(); // before release(): a throw must not leak the request
        auto heap = std::make_unique<Callback>(std::move(callback));
        RequestId id = 0;
        const rlc_result rc = rlc_submit(client, request.release(), priority, &rlc_hpp_complete,
                                         heap.get(), &id);
        if (rc != RLC_OK) throw Error::last(rc); // never called: `heap` deletes it
        heap.release(); // rlc_hpp_complete deletes it
        return id;
    }

    /// Queues `request` like submit, and returns a future of its outcome. get()
    /// returns the Response of an HTTP response of any status, or throws the Error:
    /// why none came (Connect, Timeout, Cancelled, Shutdown, ...) or why the submit
    /// was refused (QueueFull, ...). Every refusal goes into the future too, so this
    /// throws only std::bad_alloc. The future is ready at the latest when the client
    /// is closed.
    std::future<Response> submit_future(Request request, std::int32_t priority = 0) {
        // Shared, since std::function needs a copyable callable.
        auto promise = std::make_shared<std::promise<Response>>();
        std::future<Response> future = promise->get_future();
        try {
            submit(std::move(request), priority, [promise](Response r, Result result) {
                if (result == Result::Ok) {
                    promise->set_value(std::move(r));
                } else {
                    promise->set_exception(
                        std::make_exception_ptr(Error(result, r.error_message())));
                }
            });
        } catch (const Error &) {
            promise->set_exception(std::current_exception());
        }
        return future;
    }

    /// Submits `request` and waits for it: returns the response of any HTTP status,
    /// or throws the Error (Connect, Timeout, ... or a refusal). InvalidState inside
    /// a callback, where waiting would deadlock the completion thread.
    Response send(Request request, std::int32_t priority = 0) {
        rlc_client *client = handle(); // before release(): a throw must not leak the request
        rlc_response *out = nullptr;
        detail::check(rlc_send(client, request.release(), priority, &out));
        std::unique_ptr<rlc_response, void (*)(rlc_response *)> owned(out, rlc_response_free);
        return Response::copy_of(0, Result::Ok, owned.get());
    }

    /// Queues every request that the journal (Config::journal) holds from an earlier
    /// process, with `priority`, and returns how many. `callback` runs once for each,
    /// on the completion thread; Response::tag tells which request it was. One whose
    /// deadline passed while no process ran completes with Result::Timeout, unsent.
    /// Only the first call finds anything. Throws InvalidState without a journal,
    /// InvalidArgument for an empty callback, Shutdown on a closing client.
    std::size_t recover(std::int32_t priority, Callback callback) {
        if (!callback) throw Error(Result::InvalidArgument, "recover needs a callback");
        rlc_client *client = handle();
        auto *recovery = new detail::Recovery{std::move(callback)};
        std::size_t count = 0;
        const rlc_result rc = rlc_client_recover(client, priority, &rlc_hpp_recovered, recovery, &count);
        if (rc != RLC_OK) {
            delete recovery; // on failure the library never calls it
            throw Error::last(rc);
        }
        recovery->release(detail::Recovery::bias - static_cast<std::int64_t>(count));
        return count;
    }
    /// Runs a GraphQL operation and waits for it: the answer's Response when it has
    /// no errors (the `data` is in its body); throws GraphQLError carrying the errors
    /// when it has any (or is no 2xx), Error Graphql at once for a query that does not
    /// parse, Error for a refusal or when no answer came. THROTTLED answers are
    /// retried, never returned.
    Response graphql(const std::string &query, const std::string &variables_json = "",
                     const GraphQLOptions &options = {}) {
        Request request =
            Request::graphql(options.path, query, variables_json, options.operation_name);
        if (options.cost != 0) request.cost(options.cost);
        Response response = send(std::move(request), options.priority);
        if (response.graphql_errors() || response.status() < 200 || response.status() > 299) {
            std::string errors = response.graphql_errors().value_or("[]");
            throw GraphQLError(std::move(errors), std::move(response));
        }
        return response;
    }
#if RLC_HAS_JSON
    /// graphql() with the variables as JSON, returning the answer's `data`.
    nlohmann::json graphql_data(const std::string &query, const nlohmann::json &variables,
                                const GraphQLOptions &options = {}) {
        const std::string vars = variables.is_null() ? std::string() : variables.dump();
        return graphql(query, vars, options).json().at("data");
    }
#endif

    /// Cancels request `id`: it completes with Result::Cancelled (at once when
    /// queued; when its attempt ends when in flight). False when it is already done,
    /// cancelled, or never was -- a race every canceller must expect, so not thrown.
    bool cancel(RequestId id) {
        const rlc_result rc = rlc_cancel(handle(), id);
        if (rc == RLC_E_UNKNOWN_REQUEST) return false;
        detail::check(rc);
        return true;
    }

    Metrics metrics() const {
        Metrics m{};
        detail::check(rlc_client_metrics(handle(), &m));
        return m;
    }

    /// One counter kept beyond the Metrics struct (an rlc_metric, e.g. RLC_METRIC_REDIRECTS).
    std::uint64_t metric(rlc_metric which) const {
        std::uint64_t value = 0;
        detail::check(rlc_client_metric(handle(), static_cast<std::uint32_t>(which), &value));
        return value;
    }

    /// Changes the rate limit of the running client at once: at most `max_requests`
    /// per `window`, with a burst of `max_requests`. The tokens held carry over (none
    /// lost, none invented); requests waiting for a token see the new rate at once.
    /// On an adaptive client it is the new ceiling. May be called from any thread,
    /// callbacks included. The rate in force reads as
    /// metric(RLC_METRIC_RATE_LIMIT). Throws InvalidArgument for a zero max or window.
    void set_rate_limit(std::uint32_t max_requests, std::chrono::milliseconds window) {
        detail::check(rlc_client_set_rate_limit(handle(), max_requests, detail::millis(window)));
    }

    /// The metrics in the Prometheus text exposition format: every sample labelled
    /// `client` with Config::name, latencies as histograms in seconds.
    std::string metrics_prometheus() const {
        std::string text;
        std::size_t needed = 0;
        do { // the text may grow between the two calls: ask again until it fits
            text.assign(needed, '\0');
            detail::check(rlc_client_metrics_prometheus(handle(), needed ? text.data() : nullptr,
                                                        text.size(), &needed));
        } while (needed > text.size());
        text.resize(needed ? needed - 1 : 0);
        return text;
    }

    /// True inside one of this client's callbacks (where send is refused).
    bool in_callback() const noexcept { return rlc_client_in_callback(client_); }

    /// Shuts the client down now, as the destructor would; later calls throw
    /// InvalidState. Inside one of this client's callbacks it does not wait: the
    /// remaining callbacks are delivered after the current one returns. Idempotent.
    void close() noexcept {
        if (!client_) return;
        if (on_event_ && rlc_client_in_callback(client_)) {
            // The library finishes this shutdown after the current callback, and may
            // still call the event handler then: hand it a reference that it drops
            // once everything is done.
            auto *kept = new (std::nothrow) std::shared_ptr<EventHandler>(on_event_);
            if (kept && rlc_client_free_async(client_, &rlc_hpp_release_handler, kept) == RLC_OK) {
                client_ = nullptr;
                return;
            }
            delete kept;
            // No thread for the async close: the handler must then outlive this object.
            static_cast<void>(new (std::nothrow) std::shared_ptr<EventHandler>(on_event_));
        }
        // Freed first, forgotten after: callbacks that run during the shutdown
        // may still submit (and are refused with Shutdown by the library).
        rlc_client_free(client_);
        client_ = nullptr;
    }

    /// True once closed or moved from.
    bool closed() const noexcept { return client_ == nullptr; }

    /// The C handle, still owned by this Client (NULL once closed or moved from).
    rlc_client *get() const noexcept { return client_; }

private:
    rlc_client *handle() const {
        if (!client_) throw Error(Result::InvalidState, "the client is closed or moved from");
        return client_;
    }

    rlc_client *client_ = nullptr;
    /// Kept alive while the library may call it (see close()).
    std::shared_ptr<EventHandler> on_event_;
};

} // namespace rlc

#endif // RLC_HPP
