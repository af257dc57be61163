//! The scheduler's two heaps: ready requests by priority then submission order,
//! and retries waiting for their not-before time. Entries are small keys; the
//! requests themselves live in the scheduler's table, so a cancel can take one out
//! at once and its stale key is skipped when it reaches the top.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::clock::Nanos;

/// A request's place in the ready heap. Ids are handed out in submission order, so
/// the id doubles as the FIFO sequence number, and a retry keeps its place among
/// equals because it keeps its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyKey {
    pub priority: i32,
    pub id: u64,
}

impl Ord for ReadyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher priority first; among equals, the earlier submit first.
        self.priority.cmp(&other.priority).then_with(|| other.id.cmp(&self.id))
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

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = ReadyKey> + '_ {
        self.heap.drain()
    }
}

/// Retries waiting for their not-before time, earliest first (then by id, so equal
/// times come out in a fixed order).
#[derive(Debug, Default)]
pub(crate) struct DelayQueue {
    heap: BinaryHeap<Reverse<(Nanos, u64, i32)>>,
}

impl DelayQueue {
    pub fn push(&mut self, not_before: Nanos, key: ReadyKey) {
        self.heap.push(Reverse((not_before, key.id, key.priority)));
    }

    /// The earliest not-before time, if any.
    pub fn next_due(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the next entry whose time has come by `now`.
    pub fn pop_due(&mut self, now: Nanos) -> Option<ReadyKey> {
        if self.next_due()? > now {
            return None;
        }
        let Reverse((_, id, priority)) = self.heap.pop()?;
        Some(ReadyKey { priority, id })
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = ReadyKey> + '_ {
        self.heap.drain().map(|Reverse((_, id, priority))| ReadyKey { priority, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(priority: i32, id: u64) -> ReadyKey {
        ReadyKey { priority, id }
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = ReadyQueue::default();
        for (p, s) in [(1, 0), (100, 1), (1, 2), (50, 3), (100, 4), (-5, 5), (50, 6)] {
            q.push(key(p, s));
        }
        let order: Vec<(i32, u64)> =
            std::iter::from_fn(|| q.pop()).map(|k| (k.priority, k.id)).collect();
        assert_eq!(order, vec![(100, 1), (100, 4), (50, 3), (50, 6), (1, 0), (1, 2), (-5, 5)]);
    }

    #[test]
    fn fifo_among_equals_over_many() {
        let mut q = ReadyQueue::default();
        let evens_backwards = (0..5_000u64).rev().map(|s| s * 2);
        let odds = (0..5_000u64).map(|s| s * 2 + 1);
        for s in evens_backwards.chain(odds) {
            q.push(key(7, s));
        }
        let ids: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|k| k.id).collect();
        assert_eq!(ids, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn extreme_priorities_order_correctly() {
        let mut q = ReadyQueue::default();
        for (p, s) in [(0, 0), (i32::MIN, 1), (i32::MAX, 2), (-1, 3)] {
            q.push(key(p, s));
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop()).map(|k| k.priority).collect();
        assert_eq!(order, vec![i32::MAX, 0, -1, i32::MIN]);
    }

    #[test]
    fn delay_queue_releases_in_time_order_only_when_due() {
        let mut d = DelayQueue::default();
        d.push(300, key(1, 1));
        d.push(100, key(9, 2));
        d.push(200, key(5, 3));
        assert_eq!(d.next_due(), Some(100));
        assert_eq!(d.pop_due(99), None);
        assert_eq!(d.pop_due(100), Some(key(9, 2)));
        assert_eq!(d.pop_due(250), Some(key(5, 3)));
        assert_eq!(d.pop_due(250), None);
        assert_eq!(d.len(), 1);
        assert_eq!(d.drain().collect::<Vec<_>>(), vec![key(1, 1)]);
    }
}
