//! `yd-svc`: send commands to supervisors and wait for the states they lead to.
//!
//! Flags are s6-svc's (a superset of daemontools' svc): each command flag is
//! the letter written to `supervise/control`, in the order given. Waits
//! (`-wu -wU -wd -wD -wr -wR`) watch `supervise/` with inotify, armed before
//! the commands are sent, so no state change slips between send and wait and
//! nothing polls.

use crate::cli::{parse_number, Fatal, EXIT_NOT_SUPERVISED, EXIT_SYSTEM};
use crate::client::{self, ClientError};
use crate::status::{RunState, Status};
use crate::tai64n::Tai64n;
use nix::poll::{PollFd, PollFlags};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const USAGE: &str =
    "usage: yd-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyrPCKoduDUxO ] DIR...";

/// Exit code when a wait runs out of time (s6-svc's).
pub const EXIT_TIMEOUT: u8 = 1;

/// Every command letter yd-svc accepts, each sent as is.
const LETTERS: &[u8] = b"abqhkti12pcyrPCKoduDUxXO";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// `-wu`: run is up.
    Up,
    /// `-wU`: up and ready.
    Ready,
    /// `-wd`: run is down (finish may still run).
    Down,
    /// `-wD`: down and finish done.
    Finished,
    /// `-wr`: started again after the commands were sent.
    Restarted,
    /// `-wR`: restarted and ready.
    RestartedReady,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub letters: Vec<u8>,
    pub wait: Option<WaitFor>,
    pub timeout: Option<Duration>,
    pub dirs: Vec<PathBuf>,
}

/// Parse yd-svc's command line (getopt style: `-dx`, `-wU`, `-w U`, `-T 500`).
pub fn parse(args: &[OsString]) -> Result<Request, Fatal> {
    let mut req = Request {
        letters: Vec::new(),
        wait: None,
        timeout: None,
        dirs: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let flags = arg[1..].as_bytes();
        let mut j = 0;
        while j < flags.len() {
            let f = flags[j];
            j += 1;
            if f == b'w' || f == b'T' {
                // The value is the rest of this word, or the next word.
                let value = if j < flags.len() {
                    let v = String::from_utf8_lossy(&flags[j..]).into_owned();
                    j = flags.len();
                    v
                } else {
                    i += 1;
                    args.get(i)
                        .map(|a| a.to_string_lossy().into_owned())
                        .ok_or_else(|| Fatal::usage(USAGE))?
                };
                if f == b'w' {
                    req.wait = Some(parse_wait(&value)?);
                } else {
                    let ms = parse_number("-T", &value).map_err(Fatal::usage)?;
                    req.timeout = (ms > 0).then(|| Duration::from_millis(ms));
                }
            } else if LETTERS.contains(&f) {
                req.letters.push(f);
            } else {
                return Err(Fatal::usage(format!(
                    "unknown option -{}; {USAGE}",
                    f as char
                )));
            }
        }
        i += 1;
    }
    req.dirs = args[i..].iter().map(PathBuf::from).collect();
    if req.dirs.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    Ok(req)
}

fn parse_wait(value: &str) -> Result<WaitFor, Fatal> {
    Ok(match value {
        "u" => WaitFor::Up,
        "U" => WaitFor::Ready,
        "d" => WaitFor::Down,
        "D" => WaitFor::Finished,
        "r" => WaitFor::Restarted,
        "R" => WaitFor::RestartedReady,
        _ => {
            return Err(Fatal::usage(format!(
                "-w takes one of u U d D r R, not {value:?}"
            )))
        }
    })
}

impl WaitFor {
    /// Is `st` the awaited state? `before` is the stamp read before sending.
    pub fn reached(self, st: &Status, before: Tai64n) -> bool {
        let up = st.state == RunState::Run;
        let restarted = up && st.stamp != before;
        match self {
            WaitFor::Up => up,
            WaitFor::Ready => up && st.ready.is_some(),
            WaitFor::Down => !up,
            WaitFor::Finished => st.state == RunState::Down,
            WaitFor::Restarted => restarted,
            WaitFor::RestartedReady => restarted && st.ready.is_some(),
        }
    }
}

/// Send the commands to every dir, then wait for all of them. Errors on one
/// dir are reported and the others still served; the exit code is the last
/// error's (as s6-svc does).
pub fn run(req: &Request, warn: &mut dyn FnMut(String)) -> Result<u8, Fatal> {
    let inotify = match req.wait {
        Some(_) => Some(
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .map_err(|e| Fatal::system("inotify", e))?,
        ),
        None => None,
    };
    let mut code = 0;
    let mut waiting = Vec::new();
    for dir in &req.dirs {
        let label = dir.display();
        let before = match prepare(dir, inotify.as_ref()) {
            Ok(stamp) => stamp,
            Err(e) => {
                code = error_code(&e);
                warn(format!("{label}: {e}"));
                continue;
            }
        };
        if !req.letters.is_empty() {
            if let Err(e) = client::send(dir, &req.letters) {
                code = error_code(&e);
                warn(format!("{label}: {e}"));
                continue;
            }
        }
        waiting.push((dir, before));
    }
    let (Some(wait), Some(inotify)) = (req.wait, inotify) else {
        return Ok(code);
    };
    let deadline = req.timeout.map(|t| Instant::now() + t);
    loop {
        waiting.retain(|(dir, before)| match client::read_status(dir) {
            Ok(st) => !wait.reached(&st, *before),
            Err(_) => true, // mid-replacement or not yet written: look again
        });
        if waiting.is_empty() {
            return Ok(code);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            for (dir, _) in &waiting {
                warn(format!("{}: timed out", dir.display()));
            }
            return Ok(EXIT_TIMEOUT);
        }
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        crate::sys::poll(&mut fds, left).map_err(|e| Fatal::system("poll", e))?;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
        }
    }
}

/// Check the dir is supervised, arm the watch, and read the stamp before.
fn prepare(dir: &std::path::Path, inotify: Option<&Inotify>) -> Result<Tai64n, ClientError> {
    client::check_supervised(dir)?;
    if let Some(inotify) = inotify {
        let sup = client::supervise_dir(dir);
        inotify
            .add_watch(
                &sup,
                AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .map_err(|e| ClientError::Io(sup, e.into()))?;
    }
    Ok(client::read_status(dir)
        .map(|s| s.stamp)
        .unwrap_or(Tai64n::ZERO))
}

fn error_code(e: &ClientError) -> u8 {
    match e {
        ClientError::NotSupervised => EXIT_NOT_SUPERVISED,
        _ => EXIT_SYSTEM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn parses_like_s6_svc() {
        let r = parse(&args("-wU -T 5000 -u a b")).unwrap();
        assert_eq!(r.letters, b"u");
        assert_eq!(r.wait, Some(WaitFor::Ready));
        assert_eq!(r.timeout, Some(Duration::from_millis(5000)));
        assert_eq!(r.dirs, vec![PathBuf::from("a"), PathBuf::from("b")]);
        let r = parse(&args("-dx -w D -T0 svc")).unwrap();
        assert_eq!(r.letters, b"dx");
        assert_eq!(r.wait, Some(WaitFor::Finished));
        assert_eq!(r.timeout, None);
        let r = parse(&args("-twR -- -odd-name")).unwrap();
        assert_eq!(
            (r.letters.as_slice(), r.wait),
            (&b"t"[..], Some(WaitFor::RestartedReady))
        );
        assert_eq!(r.dirs, vec![PathBuf::from("-odd-name")]);
    }

    #[test]
    fn refuses_bad_usage() {
        for bad in ["", "-u", "-z svc", "-wq svc", "-T soon svc", "-w"] {
            assert_eq!(
                parse(&args(bad)).unwrap_err().code,
                crate::cli::EXIT_USAGE,
                "{bad:?}"
            );
        }
    }
}
