//! The supervisor's status: runit's 20-byte record, and yodawg's longer one.
//!
//! runit's `supervise/status` (runsv.c, `update_status`), 20 bytes:
//!
//! | bytes  | field                                                  |
//! |--------|--------------------------------------------------------|
//! | 0..12  | TAI64N stamp of the last up/down change                |
//! | 12..16 | pid, little-endian, 0 when none                        |
//! | 16     | 1 if paused                                            |
//! | 17     | `u` if wanted up, else `d`                             |
//! | 18     | 1 if a TERM was sent and the process has not died yet  |
//! | 19     | 0 down, 1 run, 2 finish                                |
//!
//! daemontools' `svstat` reads the first 18 of these bytes, runit's `sv` all
//! 20. `supervise/yd-status` (38 bytes) starts with the same 20 and adds:
//!
//! | bytes  | field                                                  |
//! |--------|--------------------------------------------------------|
//! | 20..32 | TAI64N stamp of readiness; zero while not ready        |
//! | 32..36 | last wait status of `run`, big-endian                  |
//! | 36     | flags: 1 last exit known, 2 restart throttled, 4 want exit |
//! | 37     | format version, 1                                      |

use crate::tai64n::Tai64n;

pub const RUNIT_LEN: usize = 20;
pub const YD_LEN: usize = 38;
const YD_VERSION: u8 = 1;

const FLAG_LAST_EXIT: u8 = 1;
const FLAG_THROTTLED: u8 = 2;
const FLAG_WANT_EXIT: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Down,
    Run,
    Finish,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Up,
    Down,
    /// Down, then the supervisor exits.
    Exit,
}

/// How `run` last ended: the raw wait status (`waitpid(2)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus(pub i32);

impl ExitStatus {
    /// The exit code, if it exited rather than being killed.
    pub fn code(self) -> Option<i32> {
        libc::WIFEXITED(self.0).then(|| libc::WEXITSTATUS(self.0))
    }
    pub fn signal(self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }
    /// An exit code 111 with no signal: how runit reports "could not start".
    pub fn could_not_start() -> Self {
        ExitStatus(111 << 8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// When the current state began.
    pub stamp: Tai64n,
    /// The process in the current state (run or finish); 0 when down.
    pub pid: u32,
    pub paused: bool,
    pub want: Want,
    pub got_term: bool,
    pub state: RunState,
    /// When `run` signalled readiness; `None` while not ready.
    pub ready: Option<Tai64n>,
    pub last_exit: Option<ExitStatus>,
    /// Down, waiting out the restart delay of a service that died young.
    pub throttled: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FormatError {
    Length(usize),
    Version(u8),
    Field(&'static str),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            FormatError::Length(n) => write!(f, "status record has {n} bytes"),
            FormatError::Version(v) => write!(f, "unknown status format version {v}"),
            FormatError::Field(what) => write!(f, "status record has a bad {what}"),
        }
    }
}

impl Status {
    pub fn new(want: Want) -> Self {
        Status {
            stamp: Tai64n::now(),
            pid: 0,
            paused: false,
            want,
            got_term: false,
            state: RunState::Down,
            ready: None,
            last_exit: None,
            throttled: false,
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == RunState::Run
    }

    pub fn runit_record(&self) -> [u8; RUNIT_LEN] {
        let mut b = [0u8; RUNIT_LEN];
        b[..12].copy_from_slice(&self.stamp.to_bytes());
        b[12..16].copy_from_slice(&self.pid.to_le_bytes());
        b[16] = self.paused as u8;
        b[17] = if self.want == Want::Up { b'u' } else { b'd' };
        b[18] = self.got_term as u8;
        b[19] = match self.state {
            RunState::Down => 0,
            RunState::Run => 1,
            RunState::Finish => 2,
        };
        b
    }

    pub fn yd_record(&self) -> [u8; YD_LEN] {
        let mut b = [0u8; YD_LEN];
        b[..RUNIT_LEN].copy_from_slice(&self.runit_record());
        b[20..32].copy_from_slice(&self.ready.unwrap_or(Tai64n::ZERO).to_bytes());
        b[32..36].copy_from_slice(&self.last_exit.map_or(0, |e| e.0).to_be_bytes());
        let mut flags = 0;
        if self.last_exit.is_some() {
            flags |= FLAG_LAST_EXIT;
        }
        if self.throttled {
            flags |= FLAG_THROTTLED;
        }
        if self.want == Want::Exit {
            flags |= FLAG_WANT_EXIT;
        }
        b[36] = flags;
        b[37] = YD_VERSION;
        b
    }

    /// Parse runit's record (as written by runsv or yd-supervise).
    pub fn from_runit(b: &[u8]) -> Result<Status, FormatError> {
        if b.len() < RUNIT_LEN {
            return Err(FormatError::Length(b.len()));
        }
        let state = match b[19] {
            0 => RunState::Down,
            1 => RunState::Run,
            2 => RunState::Finish,
            _ => return Err(FormatError::Field("state")),
        };
        let want = match b[17] {
            b'u' => Want::Up,
            b'd' => Want::Down,
            _ => return Err(FormatError::Field("want")),
        };
        Ok(Status {
            stamp: Tai64n::from_bytes(b[..12].try_into().unwrap()),
            pid: u32::from_le_bytes(b[12..16].try_into().unwrap()),
            paused: b[16] != 0,
            want,
            got_term: b[18] != 0,
            state,
            ready: None,
            last_exit: None,
            throttled: false,
        })
    }

    pub fn from_yd(b: &[u8]) -> Result<Status, FormatError> {
        if b.len() != YD_LEN {
            return Err(FormatError::Length(b.len()));
        }
        if b[37] != YD_VERSION {
            return Err(FormatError::Version(b[37]));
        }
        let mut s = Status::from_runit(&b[..RUNIT_LEN])?;
        let ready = Tai64n::from_bytes(b[20..32].try_into().unwrap());
        s.ready = (!ready.is_zero()).then_some(ready);
        let flags = b[36];
        if flags & FLAG_LAST_EXIT != 0 {
            s.last_exit = Some(ExitStatus(i32::from_be_bytes(
                b[32..36].try_into().unwrap(),
            )));
        }
        s.throttled = flags & FLAG_THROTTLED != 0;
        if flags & FLAG_WANT_EXIT != 0 {
            s.want = Want::Exit;
        }
        Ok(s)
    }

    /// runit's `supervise/stat` line.
    pub fn stat_text(&self) -> String {
        let state = match self.state {
            RunState::Down => "down",
            RunState::Run => "run",
            RunState::Finish => "finish",
        };
        format!("{state}{}\n", self.notes())
    }

    /// What runsv appends to the state word: `, paused`, `, got TERM`, and
    /// the wanted state where it differs from the current one.
    pub fn notes(&self) -> String {
        let mut s = String::new();
        if self.paused {
            s.push_str(", paused");
        }
        if self.got_term {
            s.push_str(", got TERM");
        }
        match (self.state, self.want) {
            (RunState::Down, Want::Up) => s.push_str(", want up"),
            (RunState::Down, _) => {}
            (_, Want::Down) => s.push_str(", want down"),
            (_, Want::Exit) => s.push_str(", want exit"),
            (_, Want::Up) => {}
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            stamp: Tai64n::now(),
            pid: 0x01020304,
            paused: true,
            want: Want::Up,
            got_term: true,
            state: RunState::Run,
            ready: Some(Tai64n::now()),
            last_exit: Some(ExitStatus(9)),
            throttled: false,
        }
    }

    #[test]
    fn runit_layout_matches_runsv() {
        let b = sample().runit_record();
        assert_eq!(&b[12..16], &[4, 3, 2, 1], "pid is little-endian");
        assert_eq!(&b[16..20], &[1, b'u', 1, 1]);
    }

    #[test]
    fn yd_round_trips_and_extends_runit() {
        let s = sample();
        let b = s.yd_record();
        assert_eq!(&b[..20], &s.runit_record());
        assert_eq!(Status::from_yd(&b), Ok(s));
        let mut exit = s;
        exit.want = Want::Exit;
        exit.last_exit = None;
        exit.ready = None;
        assert_eq!(Status::from_yd(&exit.yd_record()), Ok(exit));
    }

    #[test]
    fn bad_records_are_rejected() {
        assert_eq!(Status::from_runit(&[0; 19]), Err(FormatError::Length(19)));
        let mut b = sample().yd_record();
        b[19] = 7;
        assert_eq!(Status::from_yd(&b), Err(FormatError::Field("state")));
        b[37] = 2;
        assert_eq!(Status::from_yd(&b), Err(FormatError::Version(2)));
    }

    #[test]
    fn exit_status_decodes_wait_status() {
        assert_eq!(ExitStatus(3 << 8).code(), Some(3));
        assert_eq!(ExitStatus(9).signal(), Some(9));
        assert_eq!(ExitStatus(9).code(), None);
    }

    #[test]
    fn stat_text_like_runsv() {
        let mut s = sample();
        s.want = Want::Down;
        assert_eq!(s.stat_text(), "run, paused, got TERM, want down\n");
        s.state = RunState::Down;
        s.paused = false;
        s.got_term = false;
        s.want = Want::Up;
        assert_eq!(s.stat_text(), "down, want up\n");
    }
}
