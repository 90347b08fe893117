//! One supervised process and its state machine: `run`, then `finish`, then
//! `run` again, driven by commands, child deaths, readiness and timers.
//!
//! ```text
//!            start            run dies             finish dies (or no finish)
//!   Down ───────────▶ Run ───────────▶ Finish ───────────▶ Down ──▶ (restart if wanted up)
//! ```
//!
//! Restart policy: `run` is started at most once a second (a service that
//! dies at once never burns a core), but one that lived a second or more is
//! restarted at once. runsv, supervise and s6-supervise all keep the 1 s; this
//! restarts long-lived services as fast as s6 does for ready ones.

use super::files::SuperviseDir;
use crate::cli::warn;
use crate::control::Command;
use crate::names;
use crate::servicedir::{self, Settings};
use crate::status::{ExitStatus, RunState, Status, Want};
use crate::sys::{self, Spawn};
use crate::tai64n::Tai64n;
use nix::sys::signal::Signal;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROG: &str = "yd-supervise";

/// The shortest time between two starts of `run`.
pub(super) const MIN_RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// finish's exit code that means "do not restart" (s6).
const FINISH_STAY_DOWN: i32 = 125;

/// The ends of the log pipe a slot's children get.
#[derive(Default)]
pub(super) struct Stdio<'a> {
    pub stdin: Option<&'a OwnedFd>,
    pub stdout: Option<&'a OwnedFd>,
}

pub(super) struct Slot {
    /// How messages name this service (the DIR the user gave, or DIR/log).
    label: String,
    /// The service dir, relative to the supervisor's cwd (`.` or `log`).
    dir: PathBuf,
    files: SuperviseDir,
    /// The log service ignores `x`: it exits only after the main service.
    is_log: bool,
    status: Status,
    /// When `run` was last started (monotonic), for the restart policy.
    started: Option<Instant>,
    restart_at: Option<Instant>,
    finish_deadline: Option<Instant>,
    /// Read end of the readiness pipe while `run` has not yet signalled.
    notify: Option<OwnedFd>,
    down_signal: Signal,
    timeout_finish: Option<Duration>,
    /// Whether this run of young deaths was already reported: a crash loop
    /// gets one warning, not one a second.
    crash_loop_reported: bool,
}

impl Slot {
    pub fn new(label: String, dir: PathBuf, files: SuperviseDir, is_log: bool) -> Slot {
        let want = if servicedir::has_down_file(&dir) {
            Want::Down
        } else {
            Want::Up
        };
        let slot = Slot {
            label,
            dir,
            files,
            is_log,
            status: Status::new(want),
            started: None,
            restart_at: None,
            finish_deadline: None,
            notify: None,
            down_signal: Signal::SIGTERM,
            timeout_finish: None,
            crash_loop_reported: false,
        };
        slot.publish();
        slot
    }

    /// Open `supervise/ok`: from now on clients see a running supervisor.
    pub fn announce(&mut self) -> Result<(), crate::cli::Fatal> {
        self.files.announce(&self.label)
    }

    pub fn control_fd(&self) -> BorrowedFd<'_> {
        self.files.control_fd()
    }

    pub fn notify_fd(&self) -> Option<BorrowedFd<'_>> {
        self.notify.as_ref().map(|fd| fd.as_fd())
    }

    pub fn pid(&self) -> Option<u32> {
        (self.status.pid != 0).then_some(self.status.pid)
    }

    pub fn is_down(&self) -> bool {
        self.status.state == RunState::Down
    }

    pub fn wants_exit(&self) -> bool {
        self.status.want == Want::Exit
    }

    pub fn wants_up(&self) -> bool {
        self.status.want == Want::Up
    }

    /// Wanted down, as by a `down` file or `d` (not on its way out).
    pub fn wants_down(&self) -> bool {
        self.status.want == Want::Down
    }

    /// The next instant at which [`Slot::on_timer`] has work.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.restart_at, self.finish_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Start `run` if it is wanted up; called once at startup.
    pub fn start_if_wanted(&mut self, io: &Stdio) {
        if self.status.want == Want::Up {
            self.start_run(io);
        }
    }

    /// Read and apply the letters waiting in `supervise/control`.
    pub fn on_control(&mut self, io: &Stdio) {
        match self.files.read_commands() {
            Ok(letters) => {
                for b in letters {
                    match Command::from_byte(b) {
                        Some(cmd) => self.apply(cmd, io),
                        None if b.is_ascii_whitespace() => {}
                        None => warn(
                            PROG,
                            format!("{}: unknown command {:?}", self.label, b as char),
                        ),
                    }
                }
            }
            Err(e) => warn(PROG, format!("{}: reading control: {e}", self.label)),
        }
    }

    pub fn apply(&mut self, cmd: Command, io: &Stdio) {
        let st = &mut self.status;
        match cmd {
            // After `x`, the service only goes down: nothing may bring it back.
            Command::Up | Command::UpPersistently | Command::Once if st.want == Want::Exit => {}
            Command::Up => {
                st.want = Want::Up;
                if st.state == RunState::Down && self.restart_at.is_none() {
                    return self.start_run(io);
                }
            }
            Command::UpPersistently => {
                if let Err(e) = std::fs::remove_file(self.dir.join(names::DOWN)) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        warn(PROG, format!("{}: removing down: {e}", self.label));
                    }
                }
                return self.apply(Command::Up, io);
            }
            Command::Down => {
                if st.want != Want::Exit {
                    st.want = Want::Down;
                }
                self.cancel_restart();
                if self.status.state == RunState::Run {
                    self.stop();
                }
            }
            Command::DownPersistently => {
                if let Err(e) = servicedir::create_down_file(&self.dir) {
                    warn(PROG, format!("{}: creating down: {e}", self.label));
                }
                return self.apply(Command::Down, io);
            }
            Command::Once => {
                st.want = Want::Down;
                if st.state == RunState::Down {
                    self.cancel_restart();
                    return self.start_run(io);
                }
            }
            Command::OnceAtMost => {
                if st.want == Want::Up {
                    st.want = Want::Down;
                }
                self.cancel_restart();
            }
            Command::Exit if self.is_log => return,
            Command::Exit => {
                st.want = Want::Exit;
                self.cancel_restart();
                if self.status.state == RunState::Run {
                    self.stop();
                }
            }
            Command::Pause => {
                if let Some(pid) = self.pid() {
                    sys::kill(pid, Signal::SIGSTOP);
                    self.status.paused = true;
                }
            }
            Command::Continue => {
                if let Some(pid) = self.pid() {
                    sys::kill(pid, Signal::SIGCONT);
                }
                self.status.paused = false;
            }
            Command::Restart => {
                if self.status.state == RunState::Run {
                    self.stop();
                }
            }
            Command::Signal(sig) => {
                if let Some(pid) = self.pid() {
                    sys::kill(pid, sig);
                    if sig == Signal::SIGTERM {
                        self.status.got_term = true;
                    }
                }
            }
            Command::GroupSignal(sig) => {
                if let Some(pid) = self.pid() {
                    sys::kill_group(pid, sig);
                }
            }
        }
        self.publish();
    }

    /// Called by the supervisor for every child it reaps. Returns whether the
    /// child was this slot's.
    pub fn on_exit(&mut self, pid: u32, how: ExitStatus, io: &Stdio) -> bool {
        if self.status.pid != pid || pid == 0 {
            return false;
        }
        match self.status.state {
            RunState::Run => {
                self.status.last_exit = Some(how);
                self.notify = None;
                if servicedir::has_finish(&self.dir) {
                    self.start_finish(how, io);
                } else {
                    self.went_down(io);
                }
            }
            RunState::Finish => {
                self.finish_deadline = None;
                if how.code() == Some(FINISH_STAY_DOWN) && self.status.want == Want::Up {
                    self.status.want = Want::Down;
                }
                self.went_down(io);
            }
            RunState::Down => {}
        }
        true
    }

    /// Readiness: a newline on the notification fd (s6's protocol).
    pub fn on_notify(&mut self) {
        let Some(fd) = &self.notify else { return };
        let mut buf = [0u8; 64];
        match sys::read_nonblocking(fd.as_raw_fd(), &mut buf) {
            Ok(None) => {}
            Ok(Some(n)) if n > 0 && !buf[..n].contains(&b'\n') => {}
            Ok(Some(0)) | Err(_) => self.notify = None,
            Ok(Some(_)) => {
                self.notify = None;
                self.status.ready = Some(Tai64n::now());
                self.publish();
            }
        }
    }

    pub fn on_timer(&mut self, now: Instant, io: &Stdio) {
        if self.finish_deadline.is_some_and(|d| d <= now) {
            self.finish_deadline = None;
            if let Some(pid) = self.pid() {
                warn(
                    PROG,
                    format!("{}: finish ran out of time, killing it", self.label),
                );
                sys::kill(pid, Signal::SIGKILL);
            }
        }
        if self.restart_at.is_some_and(|d| d <= now) {
            self.cancel_restart();
            if self.status.want == Want::Up && self.status.state == RunState::Down {
                self.start_run(io);
            } else {
                self.publish();
            }
        }
    }

    /// Let the log service drain its pipe and exit: it wants exit now, and
    /// reads EOF once the supervisor has closed its end.
    pub fn wind_down(&mut self) {
        self.status.want = Want::Exit;
        self.cancel_restart();
        if let Some(pid) = self.pid() {
            if self.status.paused {
                sys::kill(pid, Signal::SIGCONT);
                self.status.paused = false;
            }
        }
        self.publish();
    }

    fn cancel_restart(&mut self) {
        self.restart_at = None;
        self.status.throttled = false;
    }

    /// The down signal, then SIGCONT so that a paused process gets it.
    fn stop(&mut self) {
        if let Some(pid) = self.pid() {
            sys::kill(pid, self.down_signal);
            sys::kill(pid, Signal::SIGCONT);
            self.status.paused = false;
            self.status.got_term = self.down_signal == Signal::SIGTERM;
        }
    }

    fn start_run(&mut self, io: &Stdio) {
        let (settings, warnings) = Settings::read(&self.dir);
        for w in warnings {
            warn(PROG, format!("{}: {w}", self.label));
        }
        let Settings {
            notification_fd,
            timeout_finish,
            down_signal,
            new_session,
        } = settings;
        self.down_signal = down_signal;
        self.timeout_finish = timeout_finish;
        let readiness = match notification_fd {
            Some(n) => match sys::pipe() {
                Ok((r, w)) => Some((r, w, n)),
                Err(e) => {
                    warn(PROG, format!("{}: readiness pipe: {e}", self.label));
                    None
                }
            },
            None => None,
        };
        let (notify_read, extra_fd) = match readiness {
            Some((r, w, n)) => (Some(r), Some((w, n))),
            None => (None, None),
        };
        let now = Instant::now();
        self.started = Some(now);
        let spawned = self.spawn(names::RUN, &[], io, extra_fd, new_session);
        self.status.stamp = Tai64n::now();
        self.status.got_term = false;
        self.status.paused = false;
        match spawned {
            Ok(pid) => {
                self.status.state = RunState::Run;
                self.status.pid = pid;
                self.status.ready = notify_read.is_none().then_some(self.status.stamp);
                self.notify = notify_read
                    .and_then(|fd| sys::set_nonblocking(fd.as_raw_fd()).ok().map(|_| fd));
                self.publish();
            }
            Err(e) => {
                warn(PROG, format!("{}: unable to start run: {e}", self.label));
                self.status.last_exit = Some(ExitStatus::could_not_start());
                self.went_down(io);
            }
        }
    }

    fn start_finish(&mut self, how: ExitStatus, io: &Stdio) {
        // runit's arguments: the exit code or -1, and the signal or 0.
        let code = how.code().map_or("-1".to_string(), |c| c.to_string());
        let sig = how.signal().unwrap_or(0).to_string();
        let args = [OsStr::new(&code), OsStr::new(&sig)];
        match self.spawn(names::FINISH, &args, io, None, true) {
            Ok(pid) => {
                self.status.state = RunState::Finish;
                self.status.pid = pid;
                self.status.ready = None;
                self.status.stamp = Tai64n::now();
                self.finish_deadline = self.timeout_finish.map(|t| Instant::now() + t);
                self.publish();
            }
            Err(e) => {
                warn(PROG, format!("{}: unable to start finish: {e}", self.label));
                self.went_down(io);
            }
        }
    }

    fn spawn(
        &self,
        name: &str,
        args: &[&OsStr],
        io: &Stdio,
        extra_fd: Option<(OwnedFd, i32)>,
        new_session: bool,
    ) -> std::io::Result<u32> {
        let dup = |fd: Option<&OwnedFd>| fd.map(|f| f.try_clone()).transpose();
        let program = format!("./{name}");
        sys::spawn(Spawn {
            // Relative: resolved in the child, after it changed to `cwd`.
            program: Path::new(&program),
            arg0: &program,
            args,
            env: &[],
            cwd: &self.dir,
            stdin: dup(io.stdin)?,
            stdout: dup(io.stdout)?,
            extra_fd,
            new_session,
        })
    }

    fn went_down(&mut self, io: &Stdio) {
        let st = &mut self.status;
        st.state = RunState::Down;
        st.pid = 0;
        st.stamp = Tai64n::now();
        st.paused = false;
        st.got_term = false;
        st.ready = None;
        if st.want != Want::Up {
            return self.publish();
        }
        let now = Instant::now();
        let earliest = self.started.map_or(now, |s| s + MIN_RESTART_INTERVAL);
        if earliest <= now {
            self.crash_loop_reported = false;
            self.start_run(io);
        } else {
            if !self.crash_loop_reported {
                self.crash_loop_reported = true;
                let how = self
                    .status
                    .last_exit
                    .map_or("ended".into(), crate::svstat::describe_exit);
                warn(
                    PROG,
                    format!(
                        "{}: run died young ({how}); restarting it at most once a second",
                        self.label
                    ),
                );
            }
            self.restart_at = Some(earliest);
            self.status.throttled = true;
            self.publish();
        }
    }

    fn publish(&self) {
        if let Err(e) = self.files.publish(&self.status) {
            warn(PROG, format!("{}: writing status: {e}", self.label));
        }
    }
}
