//! `yd-supervise DIR`: supervise the service in DIR, and its `log/`.
//!
//! Like runsv, one process supervises both the service and its logger and
//! holds both ends of the pipe between them, so a line the service wrote is
//! never lost while either side restarts: it waits in the pipe.
//!
//! The loop is single-threaded over `poll(2)`: a signalfd (child deaths,
//! SIGTERM), each slot's `control` FIFO and readiness pipe, and the nearest
//! timer (restart delay, finish timeout). With nothing to do it sleeps with no
//! timeout at all.

mod files;
mod slot;

use crate::cli::Fatal;
use crate::control;
use crate::names;
use crate::servicedir;
use crate::sys;
use files::SuperviseDir;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use slot::{Slot, Stdio};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

/// The pipe from the service's stdout to the logger's stdin.
struct LogPipe {
    read: OwnedFd,
    /// Closed once the service is down for good, so the logger reads EOF.
    write: Option<OwnedFd>,
}

struct Supervisor {
    main: Slot,
    log: Option<(Slot, LogPipe)>,
    signals: SignalFd,
}

/// Supervise `dir` until told to exit; returns the exit code.
pub fn run(dir: &Path) -> Result<u8, Fatal> {
    sys::cloexec_inherited_fds()
        .map_err(|e| Fatal::system("marking inherited fds close-on-exec", e))?;
    servicedir::check(dir)?;
    let log_dir = dir.join(names::LOG);
    let with_log = servicedir::has_log(dir);
    if with_log {
        servicedir::check(&log_dir)?;
    }
    let label = dir.display().to_string();
    // From here on every path is relative to the service dir, as with runsv:
    // the dir may be renamed or moved while supervised.
    std::env::set_current_dir(dir).map_err(|e| Fatal::system(format!("chdir {label}"), e))?;
    let here = Path::new(".");
    let log_here = Path::new(names::LOG);
    // Block the signals before any child exists, so no death goes unseen.
    let signals = sys::signal_fd(&[
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ])
    .map_err(|e| Fatal::system("signalfd", e))?;
    let main_files = SuperviseDir::acquire(here, &label)?;
    let log = if with_log {
        let log_label = log_dir.display().to_string();
        let files = SuperviseDir::acquire(log_here, &log_label)?;
        let (read, write) = sys::pipe().map_err(|e| Fatal::system("pipe", e))?;
        let slot = Slot::new(log_label, log_here.to_path_buf(), files, true);
        Some((
            slot,
            LogPipe {
                read,
                write: Some(write),
            },
        ))
    } else {
        None
    };
    let main = Slot::new(label, here.to_path_buf(), main_files, false);
    Supervisor { main, log, signals }.run()
}

/// What the main service's children get: the pipe's write end as stdout.
fn main_stdio(log: &Option<(Slot, LogPipe)>) -> Stdio<'_> {
    Stdio {
        stdin: None,
        stdout: log.as_ref().and_then(|(_, p)| p.write.as_ref()),
    }
}

/// What the logger's children get: the pipe's read end as stdin.
fn log_stdio(pipe: &LogPipe) -> Stdio<'_> {
    Stdio {
        stdin: Some(&pipe.read),
        stdout: None,
    }
}

impl Supervisor {
    fn run(mut self) -> Result<u8, Fatal> {
        if let Some((slot, pipe)) = &mut self.log {
            slot.start_if_wanted(&log_stdio(pipe));
        }
        self.logger_follows_service();
        self.main.start_if_wanted(&main_stdio(&self.log));
        // Only now, with the first status published, do clients see us.
        // The logger first: a client that finds the service's `ok` open
        // (sv, svok) reads the logger's status next, and must find it real.
        if let Some((slot, _)) = &mut self.log {
            slot.announce()?;
        }
        self.main.announce()?;
        loop {
            if self.finished() {
                return Ok(0);
            }
            let ready = self.wait()?;
            if ready.signals {
                self.on_signals()?;
            }
            if ready.main_control {
                // The logger catches up in the same turn of the loop: what
                // the service writes meanwhile waits in the held pipe.
                self.main.on_control(&main_stdio(&self.log));
                self.logger_follows_service();
            }
            if ready.main_notify {
                self.main.on_notify();
            }
            if let Some((slot, pipe)) = &mut self.log {
                if ready.log_control {
                    slot.on_control(&log_stdio(pipe));
                }
                if ready.log_notify {
                    slot.on_notify();
                }
            }
            let now = Instant::now();
            self.main.on_timer(now, &main_stdio(&self.log));
            if let Some((slot, pipe)) = &mut self.log {
                slot.on_timer(now, &log_stdio(pipe));
            }
        }
    }

    /// A service never runs without its logger: while the service is
    /// wanted up (or runs, as after `o`), a logger that is merely wanted
    /// down (its own `down` file, as `yd-svscan -d` leaves in a service not
    /// yet enabled) is brought up too, before the service starts. Otherwise the service's output would
    /// fill the pipe and block it. runsv and s6-supervise leave this to the
    /// admin; a tenant enabling a service expects its log to run.
    fn logger_follows_service(&mut self) {
        if let Some((slot, pipe)) = &mut self.log {
            let service_on = self.main.wants_up() || !self.main.is_down();
            if service_on && slot.wants_down() {
                slot.apply(control::Command::Up, &log_stdio(pipe));
            }
        }
    }

    /// Is the service down for good, and its logger too? Closing the pipe's
    /// write end once the service is down lets the logger drain and exit.
    fn finished(&mut self) -> bool {
        if !(self.main.wants_exit() && self.main.is_down()) {
            return false;
        }
        match &mut self.log {
            None => true,
            Some((slot, pipe)) => {
                if pipe.write.take().is_some() {
                    slot.wind_down();
                }
                slot.is_down()
            }
        }
    }

    fn wait(&self) -> Result<Ready, Fatal> {
        let now = Instant::now();
        let deadline = [
            self.main.deadline(),
            self.log.as_ref().and_then(|(s, _)| s.deadline()),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = deadline.map(|d| d.saturating_duration_since(now));
        let input = PollFlags::POLLIN;
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), input),
            PollFd::new(self.main.control_fd(), input),
        ];
        let main_notify = self.main.notify_fd().map(|fd| {
            fds.push(PollFd::new(fd, input));
            fds.len() - 1
        });
        let (log_control, log_notify) = match &self.log {
            Some((slot, _)) => {
                fds.push(PollFd::new(slot.control_fd(), input));
                let control = fds.len() - 1;
                let notify = slot.notify_fd().map(|fd| {
                    fds.push(PollFd::new(fd, input));
                    fds.len() - 1
                });
                (Some(control), notify)
            }
            None => (None, None),
        };
        sys::poll(&mut fds, timeout).map_err(|e| Fatal::system("poll", e))?;
        let is_ready =
            |i: Option<usize>| i.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
        Ok(Ready {
            signals: is_ready(Some(0)),
            main_control: is_ready(Some(1)),
            main_notify: is_ready(main_notify),
            log_control: is_ready(log_control),
            log_notify: is_ready(log_notify),
        })
    }

    fn on_signals(&mut self) -> Result<(), Fatal> {
        let signals =
            sys::read_signals(&mut self.signals).map_err(|e| Fatal::system("signalfd", e))?;
        for sig in signals {
            match sig {
                Signal::SIGCHLD => self.reap(),
                // As runsv and s6-supervise: take the service down, then exit.
                _ => self
                    .main
                    .apply(crate::control::Command::Exit, &main_stdio(&self.log)),
            }
        }
        Ok(())
    }

    fn reap(&mut self) {
        while let Some((pid, how)) = sys::reap_any() {
            if self.main.on_exit(pid, how, &main_stdio(&self.log)) {
                continue;
            }
            if let Some((slot, pipe)) = &mut self.log {
                slot.on_exit(pid, how, &log_stdio(pipe));
            }
        }
    }
}

/// Which of the polled fds have something for us.
struct Ready {
    signals: bool,
    main_control: bool,
    main_notify: bool,
    log_control: bool,
    log_notify: bool,
}
