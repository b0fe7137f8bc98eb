//! Ctrl-C during a long command: the first SIGINT asks the loop to save and stop after the
//! current step; a second one, pressed later, quits at once without saving.
//!
//! Signals that arrive together are one request. A terminal's Ctrl-C, `timeout -s INT` and
//! `kill -INT -PGID` signal the whole process group, and `timeout` also signals its child
//! directly, so one request can reach tessera twice within microseconds; counting that as "a
//! second Ctrl-C" would throw the save away.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Signals within this time of the first are the same request.
pub const SAME_REQUEST: Duration = Duration::from_secs(1);

/// What a SIGINT means, given when the first one came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// The first: save, then stop.
    SaveAndStop,
    /// A repeat of the first (the same request delivered twice): nothing more to do.
    Repeat,
    /// A later, deliberate second press: quit without saving.
    QuitNow,
}

/// The meaning of a SIGINT arriving at `now` when the first came at `first`.
pub fn meaning(first: Option<Instant>, now: Instant) -> Meaning {
    match first {
        None => Meaning::SaveAndStop,
        Some(t) if now.duration_since(t) < SAME_REQUEST => Meaning::Repeat,
        Some(_) => Meaning::QuitNow,
    }
}

/// A flag that Ctrl-C raises (the loop then saves and stops).
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    let first: Mutex<Option<Instant>> = Mutex::new(None);
    // A second handler in one process is refused; the first one keeps working then.
    let _ = ctrlc::set_handler(move || {
        let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match meaning(*first, now) {
            Meaning::SaveAndStop => {
                *first = Some(now);
                f.store(true, Ordering::SeqCst);
                eprintln!(
                    "\nCtrl-C: saving a checkpoint after this step (press Ctrl-C again, a \
                     second from now or later, to quit without saving)"
                );
            }
            Meaning::Repeat => {}
            Meaning::QuitNow => {
                eprintln!("\nsecond Ctrl-C: exiting without saving");
                std::process::exit(130);
            }
        }
    });
    flag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_together_are_one_request_and_a_later_press_quits() {
        let t0 = Instant::now();
        assert_eq!(meaning(None, t0), Meaning::SaveAndStop);
        assert_eq!(
            meaning(Some(t0), t0 + Duration::from_micros(30)),
            Meaning::Repeat
        );
        assert_eq!(
            meaning(Some(t0), t0 + SAME_REQUEST + Duration::from_millis(1)),
            Meaning::QuitNow
        );
    }
}
