//! The command letters clients write to `supervise/control`.
//!
//! One byte per command. The union of what runit's `sv`, daemontools' `svc`
//! and s6's `s6-svc` send, so that all three drive yd-supervise unchanged.

use nix::sys::signal::Signal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `u`: want up; start if down.
    Up,
    /// `U` (s6): remove `down`, then up.
    UpPersistently,
    /// `d`: want down; stop if up.
    Down,
    /// `D` (s6): create `down`, then down.
    DownPersistently,
    /// `o`: run once: start if down, do not restart.
    Once,
    /// `O` (s6): do not restart when it dies; do not start it either.
    OnceAtMost,
    /// `x` (and s6's `X`): exit once the service is down.
    Exit,
    /// `p`: SIGSTOP, and remember it is paused.
    Pause,
    /// `c`: SIGCONT, and forget the pause.
    Continue,
    /// `r` (s6): kill it with the down signal so that it restarts.
    Restart,
    /// `t h a i q 1 2 b y k`: send one signal to the process.
    Signal(Signal),
    /// `P C K` (s6): send a signal to the process group.
    GroupSignal(Signal),
}

impl Command {
    pub fn from_byte(b: u8) -> Option<Command> {
        use Signal::*;
        Some(match b {
            b'u' => Command::Up,
            b'U' => Command::UpPersistently,
            b'd' => Command::Down,
            b'D' => Command::DownPersistently,
            b'o' => Command::Once,
            b'O' => Command::OnceAtMost,
            b'x' | b'X' => Command::Exit,
            b'p' => Command::Pause,
            b'c' => Command::Continue,
            b'r' => Command::Restart,
            b't' => Command::Signal(SIGTERM),
            b'k' => Command::Signal(SIGKILL),
            b'h' => Command::Signal(SIGHUP),
            b'a' => Command::Signal(SIGALRM),
            b'i' => Command::Signal(SIGINT),
            b'q' => Command::Signal(SIGQUIT),
            b'1' => Command::Signal(SIGUSR1),
            b'2' => Command::Signal(SIGUSR2),
            b'b' => Command::Signal(SIGABRT),
            b'y' => Command::Signal(SIGWINCH),
            b'P' => Command::GroupSignal(SIGSTOP),
            b'C' => Command::GroupSignal(SIGCONT),
            b'K' => Command::GroupSignal(SIGKILL),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_letter_the_peers_send_is_understood() {
        // svc -udopchaitkx, sv (status/up/down/once/restart = tcu, term, kill,
        // exit), s6-svc -abqhkti12pcyrPCK -oduDUxXO
        for b in "udopchaitkxq12tcubyrPCKDUOX".bytes() {
            assert!(Command::from_byte(b).is_some(), "letter {}", b as char);
        }
    }

    #[test]
    fn unknown_letters_are_refused() {
        for b in [b'\n', b'z', 0u8, b'w'] {
            assert_eq!(Command::from_byte(b), None);
        }
    }
}
