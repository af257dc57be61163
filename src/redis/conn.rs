//! One connection to Redis and the two calls rlc makes on it: the script's "take" and
//! "pause", run with EVALSHA and again with EVAL when Redis answers NOSCRIPT (a
//! restarted Redis has forgotten its scripts). Connect, read and write have timeouts.
//! No message that leaves this module holds the password: errors are described by
//! what went wrong, never by the URL.

use std::time::Duration;

use redis::{Client, Connection, ErrorKind as RedisErrorKind, RedisError, Script, Value};

use super::gcra::{Decision, LimitSpec};

/// The script, and its SHA-1 for EVALSHA.
pub(crate) struct Gcra {
    source: &'static str,
    sha: String,
}

impl Gcra {
    pub fn new() -> Self {
        let source = include_str!("gcra.lua");
        Gcra { source, sha: Script::new(source).get_hash().to_owned() }
    }
}

/// Why a call failed, already free of secrets.
#[derive(Debug)]
pub(crate) struct Failure {
    /// True when Redis itself answered with an error (a wrong password, a wrong
    /// database, a key of another type): retrying the same call will not help. False
    /// for a connection that failed, timed out or broke.
    pub refused: bool,
    pub message: String,
}

/// Describes a redis-rs error without the URL (redis-rs does not put the URL in its
/// errors, and this scrubs the password anyway, should a future version do so).
pub(crate) fn describe(e: &RedisError, password: Option<&str>) -> Failure {
    let refused = !(e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.kind() == RedisErrorKind::IoError);
    let mut message = e.to_string();
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        message = message.replace(p, "***");
    }
    Failure { refused, message }
}

/// A connection with its timeouts and a count of the round trips made.
pub(crate) struct Link {
    client: Client,
    password: Option<String>,
    con: Option<Connection>,
    pub timeout: Duration,
    pub round_trips: u64,
}

impl Link {
    /// Checks the URL (`redis://`, `rediss://`, `unix://`); nothing is connected yet.
    pub fn open(url: &str, timeout: Duration) -> Result<Link, String> {
        let client = Client::open(url).map_err(|e| {
            let f = describe(&e, password_of(url).as_deref());
            format!("Redis URL: {}", f.message)
        })?;
        let password = client.get_connection_info().redis.password.clone();
        Ok(Link { client, password, con: None, timeout, round_trips: 0 })
    }

    /// Connects (with AUTH and SELECT from the URL) unless connected.
    pub fn connect(&mut self) -> Result<(), Failure> {
        if self.con.is_some() {
            return Ok(());
        }
        let con = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| describe(&e, self.password.as_deref()))?;
        let timeouts = con
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| con.set_write_timeout(Some(self.timeout)));
        timeouts.map_err(|e| describe(&e, self.password.as_deref()))?;
        self.con = Some(con);
        Ok(())
    }

    /// Drops the connection (the next call connects again).
    pub fn disconnect(&mut self) {
        self.con = None;
    }

    /// The script's "take": see `gcra.lua`. Returns the decision and the number of
    /// clients seen on the key in the last ten seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn take(
        &mut self,
        script: &Gcra,
        key: &str,
        limits: &[LimitSpec],
        min: u64,
        max: u64,
        horizon_us: u64,
        client_id: &str,
    ) -> Result<(Decision, u64), Failure> {
        let mut keys = vec![format!("{{{key}}}:pause"), format!("{{{key}}}:clients")];
        keys.extend(limits.iter().map(|l| limit_key(key, l)));
        let mut args =
            vec!["take".to_owned(), min.to_string(), max.to_string(), horizon_us.to_string()];
        args.push(client_id.to_owned());
        for l in limits {
            args.extend([l.max.to_string(), l.window_us.to_string(), l.burst.to_string()]);
        }
        self.eval(script, &keys, &args)
    }

    /// The script's "pause": every client on `key` pauses for `pause_us` from now.
    pub fn pause(&mut self, script: &Gcra, key: &str, pause_us: u64) -> Result<Decision, Failure> {
        let keys = [format!("{{{key}}}:pause"), format!("{{{key}}}:clients")];
        let args = ["pause".to_owned(), pause_us.to_string()];
        self.eval(script, &keys, &args).map(|(d, _)| d)
    }

    /// EVALSHA, then EVAL after NOSCRIPT; a failed connection is dropped.
    fn eval(
        &mut self,
        script: &Gcra,
        keys: &[String],
        args: &[String],
    ) -> Result<(Decision, u64), Failure> {
        self.connect()?;
        let con = self.con.as_mut().expect("connected");
        let run = |con: &mut Connection, cmd: &str, body: &str| {
            redis::cmd(cmd).arg(body).arg(keys.len()).arg(keys).arg(args).query::<Value>(con)
        };
        self.round_trips += 1;
        let mut reply = run(con, "EVALSHA", &script.sha);
        if matches!(&reply, Err(e) if e.kind() == RedisErrorKind::NoScriptError) {
            self.round_trips += 1;
            reply = run(con, "EVAL", script.source);
        }
        match reply {
            Ok(value) => parse(&value).ok_or_else(|| Failure {
                refused: true,
                message: "the script answered something unexpected".into(),
            }),
            Err(e) => {
                let failure = describe(&e, self.password.as_deref());
                if !failure.refused {
                    self.con = None;
                }
                Err(failure)
            }
        }
    }
}

/// The key of one limit: named by its numbers, so clients that share a key and a
/// limit share its state, under the hash tag `{key}`.
pub(crate) fn limit_key(key: &str, l: &LimitSpec) -> String {
    format!("{{{key}}}:gcra:{}:{}us:{}", l.max, l.window_us, l.burst)
}

fn parse(value: &Value) -> Option<(Decision, u64)> {
    let Value::Array(items) = value else { return None };
    let ints: Vec<u64> = items
        .iter()
        .map(|v| match v {
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [granted, due_us, wait_us, now_us, pause_us, clients] = ints[..] else { return None };
    Some((Decision { granted, due_us, wait_us, now_us, pause_us }, clients))
}

/// The password in a URL, found without a URL parser (for scrubbing an error about
/// the URL itself): what lies between the last ':' and the '@' of the authority.
pub(crate) fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    (!password.is_empty()).then(|| password.to_owned())
}

/// The URL with its password replaced by `***`, for display.
pub(crate) fn redacted(url: &str) -> String {
    match password_of(url) {
        Some(p) => {
            url.replacen(&format!(":{p}@"), ":***@", 1).replacen(&format!("//{p}@"), "//***@", 1)
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_found_and_hidden() {
        assert_eq!(password_of("redis://:s3cret@host:6379/2").as_deref(), Some("s3cret"));
        assert_eq!(password_of("rediss://user:p%40ss@host/0").as_deref(), Some("p%40ss"));
        assert_eq!(password_of("redis://host:6379/0"), None);
        assert_eq!(redacted("redis://user:s3cret@host:1/0"), "redis://user:***@host:1/0");
        assert_eq!(redacted("redis://s3cret@host/0"), "redis://***@host/0");
    }
}
