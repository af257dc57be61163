//! The script against a real redis-server, and against its Rust twin.

use std::time::Duration;

use mock_api::redis::RedisServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::conn::{limit_key, Gcra, Link};
use super::gcra::{Decision, LimitSpec, Twin};

/// A redis-server for one test, or None (with a line saying so) when none is installed.
pub(crate) fn redis_server() -> Option<RedisServer> {
    if !RedisServer::available() {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    Some(RedisServer::start().expect("start redis-server"))
}

/// One recorded call.
#[derive(Clone, Copy, Debug)]
enum Call {
    Take { limits: usize, min: u64, max: u64, horizon_us: u64 },
    Pause { pause_us: u64 },
}

fn limit_sets() -> Vec<Vec<LimitSpec>> {
    vec![
        // 7 per 50 ms (a token is 7142.857... µs), burst 3; and 30 per 500 ms, burst 10.
        vec![LimitSpec { max: 7, window_us: 50_000, burst: 3 }],
        vec![
            LimitSpec { max: 7, window_us: 50_000, burst: 3 },
            LimitSpec { max: 30, window_us: 500_000, burst: 10 },
        ],
    ]
}

#[test]
fn the_script_and_its_rust_twin_decide_alike_on_a_recorded_sequence() {
    let Some(server) = redis_server() else { return };
    let mut link = Link::open(&server.url(), Duration::from_secs(2)).unwrap();
    let script = Gcra::new();
    let sets = limit_sets();
    let mut rng = StdRng::seed_from_u64(0x6c_7261);
    // Record: run the calls against Redis, keeping each answer and its server time.
    let mut recorded: Vec<(Call, Decision)> = Vec::new();
    for i in 0..400 {
        let call = if rng.gen_bool(0.03) {
            Call::Pause { pause_us: rng.gen_range(1_000..40_000) }
        } else {
            let min = rng.gen_range(1..=3);
            Call::Take {
                limits: rng.gen_range(0..sets.len()),
                min,
                max: min + rng.gen_range(0..4),
                horizon_us: [0, 0, 10_000, 60_000][rng.gen_range(0..4)],
            }
        };
        if i == 200 {
            // A Redis restart forgets its scripts: EVALSHA gets NOSCRIPT, then EVAL runs.
            server.command(&["SCRIPT", "FLUSH"]).unwrap();
        }
        let answer = match call {
            Call::Take { limits, min, max, horizon_us } => {
                link.take(&script, "replay", &sets[limits], min, max, horizon_us, "me").unwrap().0
            }
            Call::Pause { pause_us } => link.pause(&script, "replay", pause_us).unwrap(),
        };
        recorded.push((call, answer));
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..6_000)));
    }
    assert_eq!(
        link.round_trips, 402,
        "400 calls, and an EVAL after NOSCRIPT on the first and after the flush"
    );
    // Replay through the twin at the recorded times: the same answers.
    let mut twin = Twin::new();
    let mut granted = 0;
    for (i, (call, answer)) in recorded.iter().enumerate() {
        let now = answer.now_us;
        let replayed = match *call {
            Call::Take { limits, min, max, horizon_us } => {
                twin.take(now, &sets[limits], min, max, horizon_us)
            }
            Call::Pause { pause_us } => twin.pause(now, pause_us),
        };
        assert_eq!(&replayed, answer, "call {i}: {call:?}");
        granted += answer.granted;
    }
    // The sequence exercised refusals, grants, batches and pauses.
    let refused = recorded.iter().filter(|(c, d)| matches!(c, Call::Take { .. }) && d.granted == 0);
    assert!(refused.count() > 20 && granted > 100, "granted {granted}");
    assert!(recorded.iter().any(|(_, d)| d.granted >= 3 && d.due_us > 0));
    assert!(recorded.iter().any(|(c, d)| matches!(c, Call::Take { .. }) && d.pause_us > 0));
}

#[test]
fn keys_carry_the_hash_tag_and_vanish_when_idle() {
    let Some(server) = redis_server() else { return };
    let mut link = Link::open(&server.url(), Duration::from_secs(2)).unwrap();
    let script = Gcra::new();
    let limits = [LimitSpec { max: 10, window_us: 100_000, burst: 5 }];
    let (d, clients) = link.take(&script, "idle", &limits, 5, 5, 0, "me").unwrap();
    assert_eq!((d.granted, clients), (5, 1));
    let key = limit_key("idle", &limits[0]);
    assert!(key.starts_with("{idle}:"), "{key}");
    let ttl = server.command(&["PTTL", &key]).unwrap();
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    // Empty now, full again in 50 ms: the key lives about that long, and no longer.
    assert!((40..=60).contains(&ttl), "PTTL {ttl}");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(server.command(&["EXISTS", &key]).unwrap().trim(), ":0");
    // And a full bucket is what it left behind.
    assert_eq!(link.take(&script, "idle", &limits, 5, 5, 0, "me").unwrap().0.granted, 5);
}
