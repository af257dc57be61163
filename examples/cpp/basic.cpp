// basic.cpp: the C++ wrapper (bindings/cpp/rlc.hpp): a client, a blocking send, and
// requests whose answers arrive through std::future.
//
//   g++ -std=c++17 basic.cpp -I include -I bindings/cpp -L target/release -lrlc
//   ./a.out http://127.0.0.1:8080
//
// argv[1] is the API's base URL (default http://127.0.0.1:8080).
#include <chrono>
#include <future>
#include <iostream>
#include <string>

#include "rlc.hpp"

using namespace std::chrono_literals;

int main(int argc, char **argv) {
    const std::string base_url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
    try {
        // Setters chain; each throws rlc::Error if the library refuses the value.
        rlc::Client client(
            rlc::Config().base_url(base_url).rate_limit(10, 1s).retry(1, 50ms, 100ms));

        // send() blocks. Any HTTP status is a Response; only "no response" throws.
        rlc::Response hello = client.send(rlc::Request("GET", "/ok"));
        std::cout << "GET /ok -> " << hello.status() << " " << hello.text() << "\n";

        // submit_future() returns at once; the answer arrives on the client's thread.
        std::future<rlc::Response> echo = client.submit_future(
            rlc::Request("POST", "/echo").header("Content-Type", "text/plain").body("hi from C++"),
            /*priority=*/5);
        std::future<rlc::Response> down =
            client.submit_future(rlc::Request("GET", "http://127.0.0.1:1/"), 1); // nobody there

        rlc::Response r = echo.get();
        std::cout << "POST /echo -> " << r.status() << " " << r.text()
                  << " (x-method: " << r.header("X-Method").value_or("?") << ")\n";

        // A request that got no response: get() throws, with the reason.
        try {
            down.get();
        } catch (const rlc::Error &e) {
            // e.result() is rlc::Result::Connect; what() reads "RLC_E_CONNECT: <why>".
            std::cout << "GET 127.0.0.1:1 -> " << e.what() << "\n";
        }
    } catch (const rlc::Error &e) { // a refused setting, or a failed send()
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    // The client's destructor has shut it down: every callback ran, every thread joined.
    return 0;
}
