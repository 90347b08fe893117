//! `yd-svstat`: one line per service, daemontools' svstat style with what
//! s6-svstat adds (readiness) and what an operator asks next (last exit,
//! restart throttling).
//!
//! ```text
//! services/redis: up (pid 4021) 75 seconds, ready 74 seconds, normally up
//! services/web: down 3 seconds, normally up, want up, restart throttled, last exit 1
//! ```

use crate::client::{self, ClientError};
use crate::status::{ExitStatus, RunState, Status};
use crate::tai64n::Tai64n;
use std::fmt::Write;
use std::path::Path;

/// The line for `service` (named `label`), without a newline.
pub fn line(label: &str, service: &Path, now: Tai64n) -> Result<String, ClientError> {
    client::check_supervised(service)?;
    let st = client::read_status(service)?;
    Ok(describe(label, &st, client::normally_down(service), now))
}

pub fn describe(label: &str, st: &Status, normally_down: bool, now: Tai64n) -> String {
    let mut s = String::new();
    let state = match st.state {
        RunState::Run => "up",
        RunState::Down => "down",
        RunState::Finish => "finish",
    };
    let _ = write!(s, "{label}: {state}");
    if st.pid != 0 {
        let _ = write!(s, " (pid {})", st.pid);
    }
    let _ = write!(s, " {} seconds", st.stamp.elapsed_until(now).as_secs());
    if st.state == RunState::Run {
        match st.ready {
            Some(r) => {
                let _ = write!(s, ", ready {} seconds", r.elapsed_until(now).as_secs());
            }
            None => s.push_str(", not ready"),
        }
    }
    s.push_str(if normally_down {
        ", normally down"
    } else {
        ", normally up"
    });
    s.push_str(&st.notes());
    if st.throttled {
        s.push_str(", restart throttled");
    }
    if let Some(e) = st.last_exit {
        let _ = write!(s, ", last {}", describe_exit(e));
    }
    s
}

/// How `run` ended, in words: `exit 1`, `killed by SIGKILL`.
pub fn describe_exit(e: ExitStatus) -> String {
    match (e.code(), e.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => format!("killed by {}", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => format!("wait status {}", e.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Want;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> Tai64n {
        Tai64n::from_system(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn up_and_ready() {
        let mut st = Status::new(Want::Up);
        st.state = RunState::Run;
        st.pid = 42;
        st.stamp = at(100);
        st.ready = Some(at(101));
        assert_eq!(
            describe("svc", &st, false, at(175)),
            "svc: up (pid 42) 75 seconds, ready 74 seconds, normally up"
        );
    }

    #[test]
    fn crash_looping() {
        let mut st = Status::new(Want::Up);
        st.stamp = at(100);
        st.throttled = true;
        st.last_exit = Some(ExitStatus(1 << 8));
        assert_eq!(
            describe("svc", &st, true, at(103)),
            "svc: down 3 seconds, normally down, want up, restart throttled, last exit 1"
        );
        st.last_exit = Some(ExitStatus(9));
        assert!(describe("svc", &st, true, at(103)).ends_with("last killed by SIGKILL"));
    }
}
