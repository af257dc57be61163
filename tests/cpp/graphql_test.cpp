// GraphQL through the C++ wrapper, against mock-api's Shopify-cost-model endpoint
// (argv[2]): a query's data, variables and operation name, a GraphQLError carrying
// the errors, garbage refused with Result::Graphql, the cost limit, the counters.
// Run by tests/cpp_abi.rs under valgrind; argv[1] is the mock API (unused).
#include "rlc.hpp"

#include <cstdio>
#include <string>

#ifndef RLC_HAS_JSON
#error "this test needs nlohmann/json (Debian's nlohmann-json3-dev, which .ci/run installs)"
#endif
#if !RLC_HAS_JSON
#error "this test needs nlohmann/json (Debian's nlohmann-json3-dev, which .ci/run installs)"
#endif

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

void building() {
    const char *github_51 =
        "query { viewer { login repositories(first: 100) { edges { node { id "
        "issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } "
        "} } } } } } } }";
    rlc::Request req = rlc::Request::graphql("/graphql", github_51);
    CHECK(req.graphql_points() == 51);
    req.cost(7);
    CHECK(req.graphql_points() == 7);
    try {
        (void)rlc::Request::graphql("/graphql", "query {");
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::Graphql);
        CHECK(std::string(e.message()).find("does not parse") != std::string::npos);
    }
    try {
        (void)rlc::Request::graphql("/graphql", "{ a }", "[1]");
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::Graphql);
    }
    CHECK(std::string(rlc::to_string(rlc::Result::Graphql)) == "RLC_E_GRAPHQL");
}

void answers(const std::string &endpoint) {
    rlc::Client client(rlc::Config().base_url(endpoint).cost_limit(1000, 20s));
    rlc::GraphQLOptions options;
    options.operation_name = "Q";
    nlohmann::json data = client.graphql_data("query Q($n: Int) { items(first: $n) { nodes { id } } }",
                                              {{"n", 5}}, options);
    CHECK(data["variables"]["n"] == 5);
    CHECK(data["actual"] == 7);

    try {
        (void)client.graphql("{ fail }");
        CHECK(false);
    } catch (const rlc::GraphQLError &e) {
        CHECK(e.errors_json()[0]["message"] == "Field 'fail' doesn't exist on type 'QueryRoot'");
        CHECK(e.response().status() == 200);
    }

    rlc::GraphQLOptions too_dear;
    too_dear.cost = 1001;
    try {
        (void)client.graphql("{ a }", "", too_dear);
        CHECK(false);
    } catch (const rlc::Error &e) {
        CHECK(e.result() == rlc::Result::InvalidArgument);
    }
    CHECK(client.metric(RLC_METRIC_GRAPHQL_POINTS) == 7);
    CHECK(client.metric(RLC_METRIC_GRAPHQL_ERRORS) == 1);
    CHECK(client.metric(RLC_METRIC_GRAPHQL_THROTTLED) == 0);
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MOCK_URL GRAPHQL_URL\n", argv[0]);
        return 2;
    }
    building();
    answers(argv[2]);
    if (failures) {
        std::fprintf(stderr, "graphql_test: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("graphql_test: all checks passed\n");
    return 0;
}
