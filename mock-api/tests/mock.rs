//! Quick checks of the mock server, its rate limiter, the raw servers and the
//! binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mock_api::raw::{RawBehaviour, RawServer};
use mock_api::{MockApi, MockOptions};

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

struct Got {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

fn got(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Got {
    let mut r = r.expect("request failed");
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.body_mut().read_to_vec().unwrap(),
    }
}

fn header<'a>(g: &'a Got, name: &str) -> Vec<&'a str> {
    g.headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

#[test]
fn json_route_answers_any_path_below_it() {
    let api = MockApi::start(MockOptions::default());
    let a = agent(Duration::from_secs(5));
    let u = api.url();
    let g = got(a.post(format!("{u}/json/critical-endpoint")).send(r#"{"data":"urgent"}"#));
    assert_eq!((g.status, header(&g, "content-type")), (200, vec!["application/json"]));
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/json/critical-endpoint");
    assert_eq!(v["json"]["data"], "urgent");
    let g = got(a.get(format!("{u}/json/endpoint")).call());
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!((v["method"].as_str(), v["json"].is_null()), (Some("GET"), true));
    api.stop();
}

#[test]
fn routes() {
    let api = MockApi::start(MockOptions::default());
    let a = agent(Duration::from_secs(5));
    let u = api.url();
    assert!(u.starts_with("http://127.0.0.1:"));

    let g = got(a.get(format!("{u}/ok")).header("x-tag", "t1").call());
    assert_eq!((g.status, &g.body[..]), (200, &b"ok"[..]));
    assert_eq!(got(a.delete(format!("{u}/ok")).call()).status, 200);

    let body: Vec<u8> = (0..=255u8).collect();
    let g = got(a.post(format!("{u}/echo")).header("x-a", "1").header("x-a", "2").send(&body[..]));
    assert_eq!(g.status, 200);
    assert_eq!(g.body, body);
    assert_eq!(header(&g, "x-method"), ["POST"]);
    assert_eq!(header(&g, "x-echo-x-a"), ["1", "2"]);

    let g = got(a.get(format!("{u}/status/418?retry_after=7")).call());
    assert_eq!((g.status, header(&g, "retry-after")), (418, vec!["7"]));
    assert_eq!(got(a.get(format!("{u}/status/600")).call()).status, 400);
    assert_eq!(got(a.get(format!("{u}/status/x")).call()).status, 400);
    let g =
        got(a.get(format!("{u}/down?retry_after=Wed,%2021%20Oct%202015%2007:28:00%20GMT")).call());
    assert_eq!((g.status, header(&g, "retry-after")), (503, vec!["Wed, 21 Oct 2015 07:28:00 GMT"]));

    for _ in 0..2 {
        let g = got(a.get(format!("{u}/flaky/k/2?retry_after=1")).call());
        assert_eq!((g.status, header(&g, "retry-after")), (503, vec!["1"]));
    }
    let g = got(a.get(format!("{u}/flaky/k/2?retry_after=1")).call());
    assert_eq!(
        (g.status, &g.body[..], g.headers.contains_key("retry-after")),
        (200, &b"ok after 2"[..], false)
    );
    assert_eq!(got(a.get(format!("{u}/flaky/other/1?status=500")).call()).status, 500);
    assert_eq!(got(a.get(format!("{u}/flaky/other/1?status=500")).call()).status, 200);

    let t = Instant::now();
    assert_eq!(got(a.get(format!("{u}/slow/60")).call()).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(60));

    let g = got(a.get(format!("{u}/bytes/1000")).call());
    assert_eq!(g.body.len(), 1000);
    assert!(g.body.iter().enumerate().all(|(i, &b)| b as usize == i % 251));

    let g = got(a.get(format!("{u}/headers")).call());
    assert_eq!(header(&g, "x-one"), ["1"]);
    assert_eq!(header(&g, "x-multi"), ["a", "b"]);
    assert_eq!(header(&g, "content-type"), ["text/plain"]);

    let g = got(a.get(format!("{u}/ratelimit-headers?remaining=4&reset=9")).call());
    assert_eq!(
        (header(&g, "x-ratelimit-remaining"), header(&g, "x-ratelimit-reset")),
        (vec!["4"], vec!["9"])
    );
    assert_eq!(got(a.get(format!("{u}/nope")).call()).status, 404);

    let st = api.stats();
    assert_eq!(st.received, 17);
    assert_eq!(st.rejected_429, 0);
    assert_eq!(st.max_in_window, 0);
    assert_eq!((st.arrivals[0].method.as_str(), st.arrivals[0].path.as_str()), ("GET", "/ok"));
    assert_eq!((st.arrivals[0].status, st.arrivals[0].tag.as_deref()), (200, Some("t1")));
    assert_eq!(st.arrivals[3].path, "/status/418?retry_after=7");
    assert!(st.arrivals.windows(2).all(|w| w[0].at <= w[1].at));

    let g = got(a.get(format!("{u}/__stats")).call());
    let json = String::from_utf8(g.body.clone()).unwrap();
    assert_eq!(header(&g, "content-type"), ["application/json"]);
    assert!(json.contains(r#""received":17"#), "{json}");
    assert!(json.contains(r#""/flaky/k/2":3"#), "{json}");
    assert_eq!(api.stats().received, 17, "/__stats is not counted");

    api.reset_stats();
    assert_eq!(api.stats().received, 0);
    assert_eq!(got(a.get(format!("{u}/flaky/k/2")).call()).status, 503, "flaky counters reset");
    api.stop();
}

#[test]
fn rate_limit() {
    let api =
        MockApi::start(MockOptions { port: 0, rate_limit: Some((3, Duration::from_secs(2))) });
    let a = agent(Duration::from_secs(5));
    let mut statuses = Vec::new();
    for i in 0..5 {
        let g = got(a.get(format!("{}/ok", api.url())).header("x-tag", i.to_string()).call());
        statuses.push(g.status);
        if i == 0 {
            assert_eq!(header(&g, "ratelimit"), ["limit=3, remaining=2, reset=2"]);
        }
        if i == 4 {
            assert_eq!(header(&g, "retry-after"), ["2"]);
            assert_eq!(header(&g, "ratelimit-policy"), ["3;w=2"]);
            assert_eq!(header(&g, "ratelimit"), ["limit=3, remaining=0, reset=2"]);
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let st = api.stats();
    assert_eq!((st.received, st.rejected_429, st.max_in_window), (5, 2, 3));
    assert_eq!(st.arrivals[3].status, 429);
    assert_eq!(st.arrivals[3].tag.as_deref(), Some("3"));
    // /__stats is exempt from the limit.
    assert_eq!(got(a.get(format!("{}/__stats", api.url())).call()).status, 200);
}

#[test]
fn raw_behaviours() {
    let a = agent(Duration::from_millis(300));
    for b in [
        RawBehaviour::ResetOnAccept,
        RawBehaviour::Malformed,
        RawBehaviour::Truncated,
        RawBehaviour::Hang,
    ] {
        let s = RawServer::start(b);
        let res =
            a.get(format!("{}/x", s.url())).call().and_then(|mut r| r.body_mut().read_to_vec());
        assert!(res.is_err(), "{b:?}: {res:?}");
        assert!(s.connections() >= 1, "{b:?}");
        let t = Instant::now();
        s.stop();
        assert!(t.elapsed() < Duration::from_secs(1), "{b:?} stop took {:?}", t.elapsed());
    }
}

#[test]
fn binary() {
    let spawn = |extra: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rlc-mock-api"))
            .args(["--limit", "20/1000"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").expect(&line).to_string();
        let g = got(agent(Duration::from_secs(5)).get(format!("{url}/ok")).call());
        assert_eq!(header(&g, "ratelimit"), ["limit=20, remaining=19, reset=1"]);
        child
    };
    let wait = |child: &mut std::process::Child| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        panic!("binary did not exit");
    };

    let mut c = spawn(&["--exit-on-stdin-eof"]);
    drop(c.stdin.take());
    assert!(wait(&mut c).success());

    let mut c = spawn(&[]);
    let killed = Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(wait(&mut c).success());
}

#[test]
fn stop_cuts_off_slow_requests() {
    let api = MockApi::start(MockOptions::default());
    let url = format!("{}/slow/10000", api.url());
    let client = std::thread::spawn(move || {
        agent(Duration::from_secs(20)).get(url).call().map(|r| r.status())
    });
    while api.stats().received == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(api.stats().arrivals[0].status, 0, "status unknown while in flight");
    let t = Instant::now();
    api.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
    assert!(client.join().unwrap().is_err());
}
