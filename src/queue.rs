//! The scheduler's two heaps: ready requests by priority then submission order,
//! and retries waiting for their not-before time. Entries are small keys; the
//! requests themselves live in the scheduler's table, so a cancel can take one out
//! at once and its stale key is skipped when it reaches the top.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::clock::Nanos;

/// A request's place in the ready heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyKey {
    pub priority: i32,
    pub seq: u64,
    pub id: u64,
}

impl Ord for ReadyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher priority first; among equals, lower sequence (earlier submit) first.
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ReadyKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Ready requests, best first.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    heap: BinaryHeap<ReadyKey>,
}

impl ReadyQueue {
    pub fn push(&mut self, key: ReadyKey) {
        self.heap.push(key);
    }

    pub fn peek(&self) -> Option<&ReadyKey> {
        self.heap.peek()
    }

    pub fn pop(&mut self) -> Option<ReadyKey> {
        self.heap.pop()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = ReadyKey> + '_ {
        self.heap.drain()
    }
}

/// Retries waiting for their not-before time, earliest first.
#[derive(Debug, Default)]
pub(crate) struct DelayQueue {
    heap: BinaryHeap<Reverse<(Nanos, u64, ReadyKeyOrd)>>,
}

/// A [`ReadyKey`] stored in the delay heap; ordered only to make tuples comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ReadyKeyOrd {
    seq: u64,
    id: u64,
    priority: i32,
}

impl DelayQueue {
    pub fn push(&mut self, not_before: Nanos, key: ReadyKey) {
        let stored = ReadyKeyOrd { seq: key.seq, id: key.id, priority: key.priority };
        self.heap.push(Reverse((not_before, key.seq, stored)));
    }

    /// The earliest not-before time, if any.
    pub fn next_due(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the next entry whose time has come by `now`.
    pub fn pop_due(&mut self, now: Nanos) -> Option<ReadyKey> {
        match self.heap.peek() {
            Some(Reverse((t, _, _))) if *t <= now => {
                let Reverse((_, _, k)) = self.heap.pop()?;
                Some(ReadyKey { priority: k.priority, seq: k.seq, id: k.id })
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = ReadyKey> + '_ {
        self.heap.drain().map(|Reverse((_, _, k))| ReadyKey {
            priority: k.priority,
            seq: k.seq,
            id: k.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(priority: i32, seq: u64) -> ReadyKey {
        ReadyKey { priority, seq, id: seq + 1000 }
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = ReadyQueue::default();
        for (p, s) in [(1, 0), (100, 1), (1, 2), (50, 3), (100, 4), (-5, 5), (50, 6)] {
            q.push(key(p, s));
        }
        let order: Vec<(i32, u64)> =
            std::iter::from_fn(|| q.pop()).map(|k| (k.priority, k.seq)).collect();
        assert_eq!(order, vec![(100, 1), (100, 4), (50, 3), (50, 6), (1, 0), (1, 2), (-5, 5)]);
    }

    #[test]
    fn fifo_among_equals_over_many() {
        let mut q = ReadyQueue::default();
        for s in (0..5_000u32).rev().map(|s| u64::from(s) * 2).chain((0..5_000).map(|s| s * 2 + 1))
        {
            q.push(key(7, s));
        }
        let seqs: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|k| k.seq).collect();
        assert_eq!(seqs, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn delay_queue_releases_in_time_order_only_when_due() {
        let mut d = DelayQueue::default();
        d.push(300, key(1, 1));
        d.push(100, key(9, 2));
        d.push(200, key(5, 3));
        assert_eq!(d.next_due(), Some(100));
        assert_eq!(d.pop_due(99), None);
        assert_eq!(d.pop_due(100).map(|k| (k.priority, k.seq)), Some((9, 2)));
        assert_eq!(d.pop_due(250).map(|k| k.seq), Some(3));
        assert_eq!(d.pop_due(250), None);
        assert_eq!(d.len(), 1);
        assert_eq!(d.drain().count(), 1);
    }
}
