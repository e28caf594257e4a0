//! Per-endpoint counters with a bounded number of labels: a fixed open-addressing table whose
//! keys are set once (first seen, first labelled) and never removed, so finding an endpoint's
//! counters is a few atomic loads — no lock, no allocation — and the table never grows. Once
//! `max` endpoints hold a slot, the rest share the `other` counters.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use hookwire_core::EndpointId;

#[derive(Default)]
pub struct EndpointCounters {
    pub success: AtomicU64,
    pub failure: AtomicU64,
    pub lag_sum_ms: AtomicU64,
}

impl EndpointCounters {
    pub fn record(&self, succeeded: bool, lag_ms: u64) {
        let counter = if succeeded { &self.success } else { &self.failure };
        counter.fetch_add(1, Relaxed);
        self.lag_sum_ms.fetch_add(lag_ms, Relaxed);
    }
}

#[derive(Default)]
struct Slot {
    endpoint: OnceLock<EndpointId>,
    counters: EndpointCounters,
}

pub struct EndpointTable {
    /// A power of two, at least twice `max`: probe chains stay short and a free slot always exists.
    slots: Box<[Slot]>,
    /// Slots taken (or being taken) by an endpoint.
    labelled: AtomicUsize,
    max: usize,
    pub other: EndpointCounters,
}

impl EndpointTable {
    pub fn new(max: usize) -> Self {
        let size = (max * 2).next_power_of_two().max(2);
        Self {
            slots: (0..size).map(|_| Slot::default()).collect(),
            labelled: AtomicUsize::new(0),
            max,
            other: EndpointCounters::default(),
        }
    }

    /// The counters of `endpoint`: its own, or `other` when the labels are used up.
    pub fn slot(&self, endpoint: EndpointId) -> &EndpointCounters {
        let mask = self.slots.len() - 1;
        // The low bits of a UUIDv7 are random: a good enough hash, for free.
        let mut index = endpoint.uuid().as_u128() as usize & mask;
        let mut reserved = false;
        for _ in 0..self.slots.len() {
            let slot = &self.slots[index];
            match slot.endpoint.get() {
                Some(key) if *key == endpoint => return self.found(slot, reserved),
                Some(_) => {}
                // Keys are never removed, so a free slot ends the search: this endpoint is new.
                None => {
                    if !reserved {
                        if !self.reserve() {
                            return &self.other;
                        }
                        reserved = true;
                    }
                    match slot.endpoint.set(endpoint) {
                        Ok(()) => return &slot.counters,
                        // Another task took this slot at the same moment, maybe for the same endpoint.
                        Err(_) if slot.endpoint.get() == Some(&endpoint) => return self.found(slot, reserved),
                        Err(_) => {}
                    }
                }
            }
            index = (index + 1) & mask;
        }
        &self.other
    }

    /// Every labelled endpoint and its counters, in no particular order.
    pub fn labelled(&self) -> impl Iterator<Item = (EndpointId, &EndpointCounters)> {
        self.slots.iter().filter_map(|slot| slot.endpoint.get().map(|id| (*id, &slot.counters)))
    }

    fn found<'a>(&self, slot: &'a Slot, reserved: bool) -> &'a EndpointCounters {
        if reserved {
            self.labelled.fetch_sub(1, Relaxed); // someone else labelled it
        }
        &slot.counters
    }

    /// Takes one of the `max` labels, if any is left.
    fn reserve(&self) -> bool {
        if self.labelled.load(Relaxed) >= self.max {
            return false;
        }
        if self.labelled.fetch_add(1, Relaxed) >= self.max {
            self.labelled.fetch_sub(1, Relaxed);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_endpoints_seen_get_labels_and_the_rest_share_other() {
        let table = EndpointTable::new(3);
        let ids: Vec<EndpointId> = (0..10).map(|_| EndpointId::generate()).collect();
        for id in &ids {
            table.slot(*id).record(true, 5);
        }
        table.slot(ids[0]).record(false, 1);
        let mut labelled: Vec<_> = table.labelled().map(|(id, c)| (id, c.success.load(Relaxed))).collect();
        labelled.sort();
        assert_eq!(labelled, vec![(ids[0], 1), (ids[1], 1), (ids[2], 1)]);
        assert_eq!(table.slot(ids[0]).failure.load(Relaxed), 1);
        assert_eq!((table.other.success.load(Relaxed), table.other.lag_sum_ms.load(Relaxed)), (7, 35));
    }

    #[test]
    fn no_labels_means_everything_is_other() {
        let table = EndpointTable::new(0);
        table.slot(EndpointId::generate()).record(true, 0);
        assert_eq!((table.labelled().count(), table.other.success.load(Relaxed)), (0, 1));
    }
}
