//! The connections `serve` holds, and how long each may hold on to it,
//! where hyper has nothing for it (hyper's `header_read_timeout` bounds an
//! HTTP/1.1 request's headers, and so the wait for the next request on a
//! keep-alive connection):
//!
//! - no request in progress for `--idle-timeout`: the connection is asked
//!   to close (HTTP/2 with a GOAWAY: an idle HTTP/2 connection, or one
//!   that never sends a whole request, was held for ever);
//! - past `--max-connections`, the connection idle longest is asked to
//!   close to make room (a kubelet probe still gets in); when every other
//!   one has a request in progress (each bounded by `--deadline`), the new
//!   one, and the listen backlog behind it, waits until one is answered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// `serve`'s `--header-read-timeout` (10 s), `--idle-timeout` (120 s:
/// longer than the 90 s after which the API server's client drops an idle
/// connection itself, so that it is the one to close, as a POST sent on a
/// connection the server is closing is not retried) and
/// `--max-connections` (512).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// The connections open now.
#[derive(Default)]
pub struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
    /// Told when a connection closes or has no request in progress any
    /// more: the listener waiting for room looks again.
    room: Notify,
}

impl Connections {
    /// Counts a connection just accepted; it stops counting when the
    /// returned [`Open`] is dropped.
    pub fn open(self: &Arc<Self>) -> Open {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tracker = Arc::new(Tracker {
            state: Mutex::new(Activity {
                in_flight: 0,
                idle_since: Instant::now(),
                closing: None,
            }),
            changed: Notify::new(),
            connections: Arc::downgrade(self),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, tracker.clone());
        }
        Open {
            id,
            tracker,
            connections: self.clone(),
        }
    }

    pub fn count(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Past `max` (counting the connections not asked to close), asks the
    /// one idle longest other than `new` to close within `grace`.
    pub fn make_room(&self, max: usize, new: &Open, grace: Duration) -> Room {
        let Ok(open) = self.open.lock() else {
            return Room::Free;
        };
        let mut staying = 0;
        let mut idle_longest: Option<(Instant, &Arc<Tracker>)> = None;
        for (id, tracker) in open.iter() {
            let Ok(state) = tracker.state.lock() else {
                continue;
            };
            if state.closing.is_some() {
                continue;
            }
            staying += 1;
            if *id != new.id
                && state.in_flight == 0
                && idle_longest.is_none_or(|(since, _)| state.idle_since < since)
            {
                idle_longest = Some((state.idle_since, tracker));
            }
        }
        if staying <= max {
            return Room::Free;
        }
        match idle_longest {
            Some((_, tracker)) => {
                tracker.ask_to_close(grace);
                Room::MadeRoom
            }
            None => Room::Full,
        }
    }

    /// Waits until a connection closes or has no request in progress.
    pub async fn room_changed(&self) {
        self.room.notified().await;
    }

    /// Asks every connection to close: idle ones at once, busy ones after
    /// their requests (within `grace`).
    pub fn close_all(&self, grace: Duration) {
        if let Ok(open) = self.open.lock() {
            for tracker in open.values() {
                tracker.ask_to_close(grace);
            }
        }
    }
}

/// What [`Connections::make_room`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Room {
    /// Nothing: not past the cap.
    Free,
    /// The connection idle longest was asked to close.
    MadeRoom,
    /// Nothing: every other connection has a request in progress.
    Full,
}

/// A connection, counted while this lives.
pub struct Open {
    id: u64,
    pub tracker: Arc<Tracker>,
    connections: Arc<Connections>,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.open.lock() {
            open.remove(&self.id);
        }
        self.connections.room.notify_one();
    }
}

/// What one connection is doing.
pub struct Tracker {
    state: Mutex<Activity>,
    /// Told when a request ends or the connection is asked to close.
    changed: Notify,
    connections: std::sync::Weak<Connections>,
}

struct Activity {
    /// Requests (HTTP/2: streams) handed to the service, not answered yet.
    in_flight: usize,
    /// Since when no request has been in progress (or since it opened).
    idle_since: Instant,
    /// Asked to close, with this much time to finish.
    closing: Option<Duration>,
}

/// What a connection should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing until a request ends.
    Busy,
    /// Nothing until then (when it becomes idle for too long).
    At(Instant),
    /// Close, within this grace: asked to, or idle for `--idle-timeout`.
    Close(Duration),
}

impl Tracker {
    fn ask_to_close(&self, grace: Duration) {
        if let Ok(mut state) = self.state.lock()
            && state.closing.is_none()
        {
            state.closing = Some(grace);
            self.changed.notify_one();
        }
    }

    /// Waits until a request ends or the connection is asked to close.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// A request has been handed to the service; it is in progress until
    /// the returned guard is dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        if let Ok(mut state) = self.state.lock() {
            state.in_flight += 1;
        }
        InFlight(self.clone())
    }

    /// What the connection should do at `now`.
    pub fn due(&self, limits: &Limits, now: Instant) -> Due {
        let Ok(state) = self.state.lock() else {
            return Due::Close(Duration::ZERO);
        };
        if let Some(grace) = state.closing {
            return Due::Close(grace);
        }
        if state.in_flight > 0 {
            return Due::Busy;
        }
        let at = state.idle_since + limits.idle_timeout;
        if now >= at {
            // Time for the GOAWAY to go out and a last stream to end.
            Due::Close(limits.header_read_timeout)
        } else {
            Due::At(at)
        }
    }
}

/// A request in progress on a connection (see [`Tracker::request`]).
pub struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now_idle = match self.0.state.lock() {
            Ok(mut state) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                state.idle_since = Instant::now();
                state.in_flight == 0
            }
            Err(_) => false,
        };
        if now_idle {
            self.0.changed.notify_one();
            if let Some(connections) = self.0.connections.upgrade() {
                connections.room.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            max_connections: 2,
        }
    }

    #[test]
    fn idle_for_the_idle_timeout_closes_and_busy_never_does() {
        let connections = Arc::new(Connections::default());
        let open = connections.open();
        let t = &open.tracker;
        let now = Instant::now();
        assert!(matches!(t.due(&limits(), now), Due::At(_)));
        assert_eq!(
            t.due(&limits(), now + Duration::from_secs(6)),
            Due::Close(Duration::from_secs(1))
        );
        let request = t.request();
        assert_eq!(t.due(&limits(), now + Duration::from_secs(60)), Due::Busy);
        drop(request);
        // Idle again, from now.
        assert!(matches!(t.due(&limits(), Instant::now()), Due::At(_)));
        t.ask_to_close(Duration::from_secs(3));
        assert_eq!(
            t.due(&limits(), Instant::now()),
            Due::Close(Duration::from_secs(3))
        );
    }

    #[test]
    fn past_the_cap_the_longest_idle_makes_room_and_busy_ones_do_not() {
        let connections = Arc::new(Connections::default());
        let grace = Duration::from_secs(1);
        let first = connections.open();
        std::thread::sleep(Duration::from_millis(5));
        let second = connections.open();
        // At the cap, not past it: nobody is asked to leave.
        assert_eq!(connections.make_room(2, &second, grace), Room::Free);
        let third = connections.open();
        assert_eq!(connections.make_room(2, &third, grace), Room::MadeRoom);
        assert_eq!(
            first.tracker.due(&limits(), Instant::now()),
            Due::Close(grace)
        );
        assert!(matches!(
            second.tracker.due(&limits(), Instant::now()),
            Due::At(_)
        ));
        // The first is leaving: room for the third.
        assert_eq!(connections.make_room(2, &third, grace), Room::Free);
        // Past the cap with every other one busy: the new one waits.
        let fourth = connections.open();
        let busy = (second.tracker.request(), third.tracker.request());
        assert_eq!(connections.make_room(2, &fourth, grace), Room::Full);
        drop(busy.0);
        assert_eq!(connections.make_room(2, &fourth, grace), Room::MadeRoom);
        drop(first);
        assert_eq!(connections.count(), 3);
    }
}
