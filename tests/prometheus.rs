//! The Prometheus text after real traffic against the mock API: `promtool check metrics`
//! (Debian's `prometheus` package, installed by .ci/run) accepts it, and it says what a
//! user would look for. `RLC_NO_PROMTOOL=1` runs the value checks without promtool.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;
use rlc::{Client, Config};

/// The value of the one sample named `name` whose labels include every pair in `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let wanted = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            (metric == name && wanted).then(|| value.parse().expect("a number"))
        })
        .collect();
    assert_eq!(found.len(), 1, "one sample {name} {labels:?} in:\n{text}");
    found[0]
}

fn promtool_check(text: &str) {
    if std::env::var_os("RLC_NO_PROMTOOL").is_some() {
        eprintln!("RLC_NO_PROMTOOL is set: promtool check metrics skipped");
        return;
    }
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|e| {
        panic!(
            "cannot run promtool ({e}): install Debian's `prometheus` package (.ci/run \
             does), or set RLC_NO_PROMTOOL=1"
        )
    });
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the text:\n{}{}\n--- text:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

#[test]
fn the_prometheus_text_passes_promtool_and_counts_the_traffic() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.name("billing-api").unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    let mut paths = vec!["/ok"; 16];
    paths.extend(["/status/404"; 3]);
    // 503 once, then 200: one retry.
    paths.push("/flaky/prometheus/1");
    for path in &paths {
        done.submit(&client, get(path), 0);
    }
    let results = done.take(paths.len());
    assert!(results.values().all(|r| r.is_ok()));

    let text = client.metrics_prometheus();
    promtool_check(&text);

    let client_label = [("client", "billing-api")];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.contains("client=\"billing-api\""),
            "a sample without the client label: {line}"
        );
    }
    let completed = |outcome| {
        sample(
            &text,
            "rlc_requests_completed_total",
            &[("client", "billing-api"), ("outcome", outcome)],
        )
    };
    assert_eq!(sample(&text, "rlc_requests_submitted_total", &client_label), 20.0);
    assert_eq!(completed("success"), 17.0);
    assert_eq!(completed("http_4xx"), 3.0);
    assert_eq!(completed("http_5xx"), 0.0);
    assert_eq!(sample(&text, "rlc_retries_total", &client_label), 1.0);
    assert_eq!(sample(&text, "rlc_in_flight", &client_label), 0.0);
    assert_eq!(sample(&text, "rlc_breaker_state", &client_label), 0.0);

    // One latency per completion, one attempt time per attempt (20 requests, 1 retry).
    let count = sample(&text, "rlc_latency_seconds_count", &client_label);
    assert_eq!(count, 20.0);
    assert_eq!(sample(&text, "rlc_latency_seconds_bucket", &[("le", "+Inf")]), count);
    assert_eq!(sample(&text, "rlc_queue_wait_seconds_count", &client_label), 20.0);
    assert_eq!(sample(&text, "rlc_attempt_seconds_count", &client_label), 21.0);
    // Each request took well under a minute: all of them are in the 60 s bucket, and
    // the sum of their latencies (seconds, not microseconds) is below 20 minutes.
    assert_eq!(sample(&text, "rlc_latency_seconds_bucket", &[("le", "60")]), count);
    let sum = sample(&text, "rlc_latency_seconds_sum", &client_label);
    assert!(sum > 0.0 && sum < 20.0 * 60.0, "latency sum {sum}");
    // The text and the C struct's snapshot agree.
    let m = client.metrics();
    assert_eq!((m.submitted, m.succeeded, m.http_4xx, m.retries), (20, 17, 3, 1));
}

#[test]
fn a_client_without_traffic_or_name_is_labelled_default_and_passes_promtool() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let text = client.metrics_prometheus();
    promtool_check(&text);
    let default = [("client", "default")];
    assert_eq!(sample(&text, "rlc_requests_submitted_total", &default), 0.0);
    assert_eq!(sample(&text, "rlc_latency_seconds_count", &default), 0.0);
    assert_eq!(sample(&text, "rlc_latency_seconds_sum", &default), 0.0);
}

#[test]
fn a_name_is_checked_where_it_is_given() {
    let mut cfg = Config::new();
    assert!(cfg.name("").is_err());
    assert!(cfg.name(&"x".repeat(129)).is_err());
    assert!(cfg.name("line\nbreak").is_err());
    assert!(cfg.name("tab\there").is_err());
    assert!(cfg.name(&"x".repeat(128)).is_ok());
    // Quotes and backslashes are escaped in the text, so they are allowed.
    cfg.name("api \"v2\" \\ café").unwrap();
    let server = mock();
    cfg.base_url(&server.url()).unwrap();
    let client = Client::new(cfg).unwrap();
    let text = client.metrics_prometheus();
    promtool_check(&text);
    assert!(text.contains(r#"rlc_queue_depth{client="api \"v2\" \\ café"} 0"#), "{text}");
}
