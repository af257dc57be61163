//! The circuit breaker as a plain state machine; time comes in as an argument, so
//! it needs no timer of its own and tests can drive it by hand.

use crate::clock::{nanos, Nanos};
use crate::config::BreakerConfig;

/// The breaker's state, as the C ABI numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BreakerState {
    /// Requests flow; consecutive failures are counted.
    Closed = 0,
    /// Requests fail fast until the recovery timeout has passed.
    Open = 1,
    /// One probe at a time is let through; its outcome decides.
    HalfOpen = 2,
}

/// What the breaker says to a request that wants to go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go. `probe` is true when this is the half-open probe; pass it back to `record`.
    Allow {
        /// Whether this send is the half-open probe.
        probe: bool,
    },
    /// The breaker is open: fail the request fast.
    Reject,
    /// Half-open with a probe in flight: keep the request queued and ask again later.
    Wait,
}

/// CLOSED -> OPEN after `failure_threshold` consecutive failures; OPEN until
/// `recovery_timeout` has passed since it opened, then HALF_OPEN (lazily, when next
/// asked); HALF_OPEN lets one probe through at a time: its success closes the
/// breaker, its failure opens it again for another `recovery_timeout`. Outcomes of
/// sends that were not the probe do not move a HALF_OPEN or OPEN breaker: they were
/// admitted before it opened and say nothing about the server's recovery. A
/// threshold of 0 disables the breaker: always CLOSED, always Allow.
///
/// The recovery timeout counts as passed when `now - opened_at >= recovery_timeout`.
/// The breaker keeps no timer, so OPEN -> HALF_OPEN happens when [`admit`] lets the
/// probe go; until then [`state`] and [`peek`] already report what `admit` would do,
/// but [`transitions`] counts that transition only once `admit` has made it. A full
/// round CLOSED -> OPEN -> HALF_OPEN -> CLOSED is therefore three transitions.
///
/// [`admit`]: CircuitBreaker::admit
/// [`state`]: CircuitBreaker::state
/// [`peek`]: CircuitBreaker::peek
/// [`transitions`]: CircuitBreaker::transitions
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    recovery: Nanos,
    phase: Phase,
    transitions: u64,
}

/// The stored state. HALF_OPEN is only ever entered by letting the probe go, so a
/// half-open breaker always has its probe in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed { failures: u32 },
    Open { since: Nanos },
    HalfOpen,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            threshold: config.failure_threshold,
            recovery: nanos(config.recovery_timeout),
            phase: Phase::Closed { failures: 0 },
            transitions: 0,
        }
    }

    fn recovery_due(&self, since: Nanos, now: Nanos) -> bool {
        now.saturating_sub(since) >= self.recovery
    }

    /// The state at `now` (OPEN reads as HALF_OPEN once the recovery timeout has passed).
    pub fn state(&self, now: Nanos) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { since } if self.recovery_due(since, now) => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// The state as stored, without the lazy OPEN -> HALF_OPEN reading of [`state`]:
    /// what changes when a transition is counted.
    ///
    /// [`state`]: CircuitBreaker::state
    pub fn stored_state(&self) -> BreakerState {
        state_of(self.phase)
    }

    /// Whether a new submit is accepted at `now`: false only while OPEN. Once the
    /// recovery timeout has passed a submit is accepted, since it may become the probe.
    pub fn accepts_submit(&self, now: Nanos) -> bool {
        self.state(now) != BreakerState::Open
    }

    /// Asks to send one request at `now`. `Allow { probe: true }` marks the probe as
    /// in flight (and moves OPEN to HALF_OPEN when due): call it only when the
    /// request really goes, and always record its outcome, or the breaker waits
    /// for it forever.
    pub fn admit(&mut self, now: Nanos) -> Admission {
        let admission = self.peek(now);
        if admission == (Admission::Allow { probe: true }) {
            self.phase = Phase::HalfOpen;
            self.transitions += 1;
        }
        admission
    }

    /// Like `admit`, but changes nothing (for a scheduler that must first wait for a token).
    pub fn peek(&self, now: Nanos) -> Admission {
        match self.phase {
            Phase::Closed { .. } => Admission::Allow { probe: false },
            Phase::Open { since } if self.recovery_due(since, now) => {
                Admission::Allow { probe: true }
            }
            Phase::Open { .. } => Admission::Reject,
            Phase::HalfOpen => Admission::Wait,
        }
    }

    /// Records the outcome of a send admitted earlier. `failure` is true for
    /// transport errors, timeouts and 5xx. Returns true if the state changed.
    ///
    /// `probe` is trusted only while HALF_OPEN; elsewhere every outcome counts as a
    /// plain one (CLOSED counts it, OPEN ignores it).
    pub fn record(&mut self, now: Nanos, probe: bool, failure: bool) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let next = match self.phase {
            Phase::Closed { failures } if failure => {
                let failures = failures.saturating_add(1);
                if failures >= self.threshold {
                    Phase::Open { since: now }
                } else {
                    Phase::Closed { failures }
                }
            }
            Phase::Closed { .. } => Phase::Closed { failures: 0 },
            Phase::HalfOpen if probe && failure => Phase::Open { since: now },
            Phase::HalfOpen if probe => Phase::Closed { failures: 0 },
            Phase::HalfOpen | Phase::Open { .. } => self.phase,
        };
        // Every move that `record` can make changes the kind of state: it never
        // re-opens an OPEN breaker, so its timer is never restarted by a late result.
        let changed = state_of(next) != state_of(self.phase);
        self.phase = next;
        if changed {
            self.transitions += 1;
        }
        changed
    }

    /// Gives back the probe slot of a probe that never reached the network (its
    /// deadline passed before it was sent, or it failed inside rlc): it says nothing
    /// about the server, so the breaker neither closes nor re-opens its timer; the next
    /// request that may go becomes the probe. No effect unless HALF_OPEN.
    pub fn release_probe(&mut self) {
        if self.phase == Phase::HalfOpen {
            // OPEN since the clock's origin: recovery is due, so `admit` probes again.
            self.phase = Phase::Open { since: 0 };
            self.transitions += 1;
        }
    }

    /// How many state transitions happened so far (OPEN -> HALF_OPEN included, counted
    /// when `admit` lets the probe go).
    pub fn transitions(&self) -> u64 {
        self.transitions
    }
}

/// The stored phase's state, ignoring the lazy OPEN -> HALF_OPEN reading.
fn state_of(phase: Phase) -> BreakerState {
    match phase {
        Phase::Closed { .. } => BreakerState::Closed,
        Phase::Open { .. } => BreakerState::Open,
        Phase::HalfOpen => BreakerState::HalfOpen,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SEC: Nanos = 1_000_000_000;
    const ALLOW: Admission = Admission::Allow { probe: false };
    const PROBE: Admission = Admission::Allow { probe: true };

    fn breaker(threshold: u32, recovery_secs: u64) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: threshold,
            recovery_timeout: Duration::from_secs(recovery_secs),
        })
    }

    /// Fails `n` plain sends at `now`, returning how many of the records changed the state.
    fn fail(b: &mut CircuitBreaker, now: Nanos, n: u32) -> u32 {
        (0..n).filter(|_| b.record(now, false, true)).count() as u32
    }

    #[test]
    fn starts_closed_and_allows() {
        let mut b = breaker(3, 10);
        assert_eq!(b.state(0), BreakerState::Closed);
        assert!(b.accepts_submit(0));
        assert_eq!(b.peek(0), ALLOW);
        assert_eq!(b.admit(0), ALLOW);
        assert_eq!(b.transitions(), 0);
    }

    #[test]
    fn state_numbers_match_the_c_abi() {
        assert_eq!(BreakerState::Closed as u32, 0);
        assert_eq!(BreakerState::Open as u32, 1);
        assert_eq!(BreakerState::HalfOpen as u32, 2);
    }

    #[test]
    fn opens_exactly_at_the_threshold() {
        let mut b = breaker(3, 10);
        assert!(!b.record(0, false, true));
        assert!(!b.record(1, false, true));
        assert_eq!(b.state(1), BreakerState::Closed);
        assert_eq!(b.admit(1), ALLOW);
        assert!(b.record(2, false, true));
        assert_eq!(b.state(2), BreakerState::Open);
        assert_eq!(b.transitions(), 1);
        assert!(!b.accepts_submit(2));
        assert_eq!(b.peek(2), Admission::Reject);
        assert_eq!(b.admit(2), Admission::Reject);
        assert_eq!(b.transitions(), 1);
    }

    #[test]
    fn threshold_of_one_opens_on_first_failure() {
        let mut b = breaker(1, 10);
        assert!(b.record(5, false, true));
        assert_eq!(b.state(5), BreakerState::Open);
    }

    #[test]
    fn a_success_in_between_resets_the_count() {
        let mut b = breaker(3, 10);
        assert_eq!(fail(&mut b, 0, 2), 0);
        assert!(!b.record(0, false, false));
        assert_eq!(fail(&mut b, 0, 2), 0);
        assert_eq!(b.state(0), BreakerState::Closed);
        assert!(!b.record(0, false, false));
        assert_eq!(fail(&mut b, 0, 2), 0);
        assert_eq!(b.state(0), BreakerState::Closed);
        assert_eq!(fail(&mut b, 0, 1), 1);
        assert_eq!(b.state(0), BreakerState::Open);
    }

    #[test]
    fn recovery_boundary_is_exactly_the_timeout() {
        let mut b = breaker(2, 10);
        let opened = 100 * SEC;
        fail(&mut b, opened, 2);
        let due = opened + 10 * SEC;
        assert_eq!(b.state(due - 1), BreakerState::Open);
        assert!(!b.accepts_submit(due - 1));
        assert_eq!(b.admit(due - 1), Admission::Reject);
        assert_eq!(b.state(due), BreakerState::HalfOpen);
        assert!(b.accepts_submit(due));
        // Reading the state, peeking and accepting change nothing.
        assert_eq!(b.peek(due), PROBE);
        assert_eq!(b.peek(due), PROBE);
        assert_eq!(b.transitions(), 1);
        assert_eq!(b.admit(due), PROBE);
        assert_eq!(b.transitions(), 2);
        assert_eq!(b.state(due), BreakerState::HalfOpen);
    }

    #[test]
    fn one_probe_at_a_time() {
        let mut b = breaker(1, 10);
        b.record(0, false, true);
        assert_eq!(b.admit(10 * SEC), PROBE);
        for t in [10 * SEC, 11 * SEC, 1000 * SEC] {
            assert_eq!(b.peek(t), Admission::Wait);
            assert_eq!(b.admit(t), Admission::Wait);
            assert_eq!(b.state(t), BreakerState::HalfOpen);
            assert!(b.accepts_submit(t));
        }
        assert_eq!(b.transitions(), 2);
    }

    #[test]
    fn probe_success_closes_with_a_clean_count() {
        let mut b = breaker(3, 10);
        fail(&mut b, 0, 3);
        assert_eq!(b.admit(10 * SEC), PROBE);
        assert!(b.record(12 * SEC, true, false));
        assert_eq!(b.state(12 * SEC), BreakerState::Closed);
        assert_eq!(b.admit(12 * SEC), ALLOW);
        assert_eq!(b.transitions(), 3);
        // The count starts from zero again: two failures do not reopen it.
        assert_eq!(fail(&mut b, 13 * SEC, 2), 0);
        assert_eq!(b.state(13 * SEC), BreakerState::Closed);
        assert_eq!(fail(&mut b, 13 * SEC, 1), 1);
        assert_eq!(b.state(13 * SEC), BreakerState::Open);
        assert_eq!(b.transitions(), 4);
    }

    #[test]
    fn probe_failure_reopens_with_a_fresh_timer() {
        let mut b = breaker(2, 10);
        fail(&mut b, 0, 2);
        assert_eq!(b.admit(15 * SEC), PROBE);
        // The probe fails at 17 s: open until 27 s, not 25 s or 20 s.
        assert!(b.record(17 * SEC, true, true));
        assert_eq!(b.transitions(), 3);
        assert_eq!(b.state(17 * SEC), BreakerState::Open);
        assert_eq!(b.admit(25 * SEC), Admission::Reject);
        assert_eq!(b.state(27 * SEC - 1), BreakerState::Open);
        assert!(!b.accepts_submit(27 * SEC - 1));
        assert_eq!(b.state(27 * SEC), BreakerState::HalfOpen);
        assert_eq!(b.admit(27 * SEC), PROBE);
        assert!(b.record(28 * SEC, true, false));
        assert_eq!(b.state(28 * SEC), BreakerState::Closed);
        assert_eq!(b.transitions(), 5);
    }

    #[test]
    fn late_plain_results_do_not_move_open() {
        let mut b = breaker(2, 10);
        fail(&mut b, 0, 2);
        // Results of sends admitted before it opened trickle in.
        assert!(!b.record(SEC, false, false));
        assert!(!b.record(2 * SEC, false, true));
        assert_eq!(b.state(2 * SEC), BreakerState::Open);
        // Nor do they restart the timer.
        assert_eq!(b.state(10 * SEC), BreakerState::HalfOpen);
        // Even after the timeout, before the probe goes.
        assert!(!b.record(11 * SEC, false, false));
        assert_eq!(b.peek(11 * SEC), PROBE);
        assert_eq!(b.transitions(), 1);
    }

    #[test]
    fn late_plain_results_do_not_move_half_open() {
        let mut b = breaker(2, 10);
        fail(&mut b, 0, 2);
        assert_eq!(b.admit(10 * SEC), PROBE);
        assert!(!b.record(11 * SEC, false, false));
        assert!(!b.record(11 * SEC, false, true));
        assert_eq!(b.state(11 * SEC), BreakerState::HalfOpen);
        assert_eq!(b.admit(11 * SEC), Admission::Wait);
        assert_eq!(b.transitions(), 2);
        // The probe's own outcome still decides.
        assert!(b.record(12 * SEC, true, false));
        assert_eq!(b.state(12 * SEC), BreakerState::Closed);
    }

    #[test]
    fn probe_flag_outside_half_open_counts_as_plain() {
        let mut b = breaker(2, 10);
        assert!(!b.record(0, true, true));
        assert!(b.record(0, true, true));
        assert_eq!(b.state(0), BreakerState::Open);
        assert!(!b.record(1, true, false));
        assert_eq!(b.state(1), BreakerState::Open);
    }

    #[test]
    fn disabled_breaker_never_opens() {
        let mut b = breaker(0, 0);
        for t in 0..1000 {
            assert!(!b.record(t, false, true));
            assert!(!b.record(t, true, true));
            assert_eq!(b.state(t), BreakerState::Closed);
            assert!(b.accepts_submit(t));
            assert_eq!(b.peek(t), ALLOW);
            assert_eq!(b.admit(t), ALLOW);
        }
        assert_eq!(b.transitions(), 0);
    }

    #[test]
    fn zero_recovery_is_due_at_once() {
        let mut b = breaker(1, 0);
        assert!(b.record(7, false, true));
        assert_eq!(b.state(7), BreakerState::HalfOpen);
        assert_eq!(b.admit(7), PROBE);
    }

    #[test]
    fn huge_recovery_does_not_overflow() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 1,
            recovery_timeout: Duration::MAX,
        });
        let opened = u64::MAX - 10;
        b.record(opened, false, true);
        assert_eq!(b.state(u64::MAX), BreakerState::Open);
        assert_eq!(b.admit(u64::MAX), Admission::Reject);
    }

    #[test]
    fn a_released_probe_lets_the_next_request_probe_and_closes_nothing() {
        let mut b = breaker(1, 10);
        fail(&mut b, 0, 1);
        let later = nanos(Duration::from_secs(10));
        assert_eq!(b.admit(later), Admission::Allow { probe: true });
        assert_eq!(b.peek(later), Admission::Wait);
        b.release_probe();
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert_eq!(b.admit(later + 1), Admission::Allow { probe: true });
        b.record(later + 2, true, false);
        assert_eq!(b.state(later + 2), BreakerState::Closed);
        // Outside HALF_OPEN it changes nothing.
        let before = b.transitions();
        b.release_probe();
        assert_eq!((b.state(later + 3), b.transitions()), (BreakerState::Closed, before));
    }

    #[test]
    fn transitions_count_every_change() {
        let mut b = breaker(1, 5);
        let mut t = 0;
        for round in 1..=10u64 {
            assert!(b.record(t, false, true)); // CLOSED -> OPEN
            t += 5 * SEC;
            assert_eq!(b.admit(t), PROBE); // OPEN -> HALF_OPEN
            assert!(b.record(t, true, true)); // HALF_OPEN -> OPEN
            t += 5 * SEC;
            assert_eq!(b.admit(t), PROBE); // OPEN -> HALF_OPEN
            assert!(b.record(t, true, false)); // HALF_OPEN -> CLOSED
            assert_eq!(b.transitions(), 5 * round);
        }
    }
}
