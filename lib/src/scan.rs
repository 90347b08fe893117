//! `yd-svscan DIR`: a `yd-supervise` for every service dir in DIR.
//!
//! Change detection is event-driven: inotify on DIR (entries created,
//! removed, renamed) and on each subdir still waiting for its `run`, so an
//! idle scanner never wakes up. A rescan is also forced by SIGHUP, SIGALRM
//! or `a` on `DIR/.yd-svscan/control`; `-t SECS` adds a periodic rescan, and
//! without inotify the scanner falls back to rescanning every 5 s.
//!
//! Safe as PID 1 of a PID namespace, and a child subreaper elsewhere: it
//! reaps every child, known or not, orphans below it included; and
//! on SIGTERM (or `t` on its control FIFO) it sends SIGTERM to every
//! supervisor (each takes its service down, then exits), waits for all of
//! them, and exits 0.

use crate::cli::{warn, Fatal, EXIT_USAGE};
use crate::names;
use crate::status::ExitStatus;
use crate::sys::{self, Spawn};
use nix::poll::{PollFd, PollFlags};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROG: &str = "yd-svscan";
/// Rescan period when inotify is not available (runsvdir's).
const FALLBACK_RESCAN: Duration = Duration::from_secs(5);
/// A supervisor that dies younger than this is restarted only this late.
const MIN_RESTART_INTERVAL: Duration = Duration::from_secs(1);

pub struct Options {
    pub dir: PathBuf,
    /// Rescan this often besides inotify events (`-t`); `None`: only on events.
    pub rescan_every: Option<Duration>,
    /// `-d`: services are down until enabled. A dir met for the first time
    /// gets a `down` file before its supervisor starts (remembered in
    /// `.yd-svscan/seen/`), so nothing starts that was not enabled
    /// (`yd-svc -U` removes `down` and starts it; `-D` puts it back).
    pub down_by_default: bool,
}

/// Where `-d` remembers the dirs it has marked down once.
const SEEN: &str = "seen";

/// A service dir's identity: renaming it does not restart its supervisor.
type DirId = (u64, u64);

struct Service {
    name: OsString,
    pid: Option<u32>,
    started: Instant,
    restart_at: Option<Instant>,
    /// Gone from DIR: its supervisor was told to stop; forget it once reaped.
    removed: bool,
}

struct Control {
    fifo: File,
    _writer: File,
    _lock: File,
}

struct Scanner {
    /// The scan dir as the user named it, for messages; we work from inside it.
    label: String,
    supervise_program: PathBuf,
    services: HashMap<DirId, Service>,
    /// Subdirs without an executable `run` yet, watched until they have one.
    waiting: HashMap<OsString, WatchDescriptor>,
    inotify: Option<Inotify>,
    signals: SignalFd,
    control: Option<Control>,
    rescan_every: Option<Duration>,
    next_rescan: Option<Instant>,
    terminating: bool,
    down_by_default: bool,
    /// Dirs `-d` could not mark down (not writable): warned about once.
    unmarkable: std::collections::HashSet<OsString>,
}

pub fn run(opts: Options) -> Result<u8, Fatal> {
    sys::cloexec_inherited_fds()
        .map_err(|e| Fatal::system("marking inherited fds close-on-exec", e))?;
    // Orphans below us come to us, not to an init that may not reap them
    // (a tenant's PID 1 whose parent was killed, a service's daemon child).
    sys::creds::become_subreaper().map_err(|e| Fatal::system("becoming a subreaper", e))?;
    let label = opts.dir.display().to_string();
    let meta = std::fs::metadata(&opts.dir).map_err(|e| Fatal::usage(format!("{label}: {e}")))?;
    if !meta.is_dir() {
        return Err(Fatal::usage(format!("{label}: not a directory")));
    }
    // Work from inside the scan dir (as s6-svscan does), so renaming it is harmless.
    std::env::set_current_dir(&opts.dir).map_err(|e| Fatal::system(format!("chdir {label}"), e))?;
    let dir = Path::new(".");
    let signals = sys::signal_fd(&[
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGALRM,
    ])
    .map_err(|e| Fatal::system("signalfd", e))?;
    let control = open_control(dir, &label)?;
    if opts.down_by_default {
        let seen = dir.join(names::SVSCAN_DIR).join(SEEN);
        if control.is_none() {
            return Err(Fatal::usage(format!(
                "{label}: -d needs a writable scan dir, to remember what it marked down"
            )));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&seen)
            .map_err(|e| Fatal::system(seen.display(), e))?;
    }
    let inotify = match watch_scan_dir(dir) {
        Ok(i) => Some(i),
        Err(e) => {
            warn(
                PROG,
                format!(
                    "inotify unavailable ({e}): rescanning every {} s",
                    FALLBACK_RESCAN.as_secs()
                ),
            );
            None
        }
    };
    let rescan_every = if inotify.is_some() {
        opts.rescan_every
    } else {
        Some(opts.rescan_every.unwrap_or(FALLBACK_RESCAN))
    };
    let mut scanner = Scanner {
        label,
        supervise_program: supervise_program(),
        services: HashMap::new(),
        waiting: HashMap::new(),
        inotify,
        signals,
        control,
        rescan_every,
        next_rescan: None,
        terminating: false,
        down_by_default: opts.down_by_default,
        unmarkable: Default::default(),
    };
    scanner.run()
}

/// yd-supervise from beside this program, else from PATH.
fn supervise_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(names::SUPERVISE_PROGRAM)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(names::SUPERVISE_PROGRAM))
}

fn watch_scan_dir(dir: &Path) -> nix::Result<Inotify> {
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
    inotify.add_watch(
        dir,
        AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ONLYDIR,
    )?;
    Ok(inotify)
}

/// `DIR/.yd-svscan/`: a lock (one scanner per dir) and a control FIFO.
/// A read-only scan dir gets neither, with a warning.
fn open_control(dir: &Path, label: &str) -> Result<Option<Control>, Fatal> {
    let state = dir.join(names::SVSCAN_DIR);
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&state) {
        if !(e.kind() == std::io::ErrorKind::AlreadyExists && state.is_dir()) {
            warn(
                PROG,
                format!("{label}/{}: {e}; no control FIFO", names::SVSCAN_DIR),
            );
            return Ok(None);
        }
    }
    let sys_err =
        |p: &Path, e: std::io::Error| Fatal::system(format!("{label}: {}", p.display()), e);
    let lock_path = state.join(names::LOCK);
    let lock = sys::take_lock(&lock_path)
        .map_err(|e| sys_err(&lock_path, e))?
        .ok_or_else(|| {
            Fatal::with_code(
                EXIT_USAGE,
                format!("{label}: already scanned by another yd-svscan"),
            )
        })?;
    let fifo_path = state.join(names::CONTROL);
    sys::ensure_fifo(&fifo_path).map_err(|e| sys_err(&fifo_path, e))?;
    let fifo = sys::open_fifo_reader(&fifo_path).map_err(|e| sys_err(&fifo_path, e))?;
    let writer = sys::open_fifo_writer(&fifo_path).map_err(|e| sys_err(&fifo_path, e))?;
    Ok(Some(Control {
        fifo,
        _writer: writer,
        _lock: lock,
    }))
}

/// Is `path` a dir holding an executable `run`, ready for a supervisor?
fn is_runnable(path: &Path) -> bool {
    let run = path.join(names::RUN);
    run.is_file() && nix::unistd::access(&run, nix::unistd::AccessFlags::X_OK).is_ok()
}

impl Scanner {
    fn run(&mut self) -> Result<u8, Fatal> {
        self.rescan();
        loop {
            if self.terminating && self.services.values().all(|s| s.pid.is_none()) {
                return Ok(0);
            }
            let events = self.wait()?;
            let mut rescan = false;
            if events.signals {
                rescan |= self.on_signals()?;
            }
            if events.control {
                rescan |= self.on_control();
            }
            if events.inotify {
                rescan |= self.drain_inotify();
            }
            let now = Instant::now();
            if self.next_rescan.is_some_and(|t| t <= now) {
                rescan = true;
            }
            if rescan && !self.terminating {
                self.rescan();
            }
            self.restart_due(now);
        }
    }

    fn wait(&mut self) -> Result<Events, Fatal> {
        let now = Instant::now();
        let restart = self.services.values().filter_map(|s| s.restart_at).min();
        let deadline = [restart, self.next_rescan].into_iter().flatten().min();
        let timeout = deadline.map(|d| d.saturating_duration_since(now));
        let input = PollFlags::POLLIN;
        let mut fds = vec![PollFd::new(self.signals.as_fd(), input)];
        let control = self.control.as_ref().map(|c| {
            fds.push(PollFd::new(c.fifo.as_fd(), input));
            fds.len() - 1
        });
        let inotify = self.inotify.as_ref().map(|i| {
            fds.push(PollFd::new(i.as_fd(), input));
            fds.len() - 1
        });
        sys::poll(&mut fds, timeout).map_err(|e| Fatal::system("poll", e))?;
        let ready =
            |i: Option<usize>| i.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
        Ok(Events {
            signals: ready(Some(0)),
            control: ready(control),
            inotify: ready(inotify),
        })
    }

    /// Returns whether a rescan was asked for.
    fn on_signals(&mut self) -> Result<bool, Fatal> {
        let mut rescan = false;
        for sig in sys::read_signals(&mut self.signals).map_err(|e| Fatal::system("signalfd", e))? {
            match sig {
                Signal::SIGCHLD => self.reap(),
                Signal::SIGHUP | Signal::SIGALRM => rescan = true,
                _ => self.terminate(),
            }
        }
        Ok(rescan)
    }

    fn on_control(&mut self) -> bool {
        let Some(control) = &self.control else {
            return false;
        };
        let mut buf = [0u8; 64];
        let mut rescan = false;
        let mut terminate = false;
        while let Ok(Some(n)) = sys::read_nonblocking(control.fifo.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                match b {
                    b'a' | b'h' => rescan = true,
                    b't' => terminate = true,
                    b'\n' => {}
                    _ => warn(PROG, format!("unknown control command {:?}", b as char)),
                }
            }
        }
        if terminate {
            self.terminate();
        }
        rescan
    }

    fn drain_inotify(&mut self) -> bool {
        let Some(inotify) = &self.inotify else {
            return false;
        };
        let mut any = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            any = true;
        }
        any
    }

    fn terminate(&mut self) {
        if self.terminating {
            return;
        }
        self.terminating = true;
        for s in self.services.values_mut() {
            s.restart_at = None;
            if let Some(pid) = s.pid {
                sys::kill(pid, Signal::SIGTERM);
            }
        }
    }

    /// Bring the set of supervisors in line with the dirs in DIR.
    fn rescan(&mut self) {
        self.next_rescan = self.rescan_every.map(|p| Instant::now() + p);
        let entries = match std::fs::read_dir(".") {
            Ok(e) => e,
            Err(e) => return warn(PROG, format!("{}: {e}", self.label)),
        };
        let mut present: HashMap<DirId, OsString> = HashMap::new();
        let mut still_waiting: Vec<OsString> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.as_bytes().first() == Some(&b'.') {
                continue;
            }
            let path = Path::new(&name);
            // Follows symlinks: a link to a service dir is a service.
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if !meta.is_dir() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            let startable = self.services.contains_key(&id)
                || is_runnable(path) && self.marked_down_if_new(&name);
            if !startable {
                still_waiting.push(name);
                continue;
            }
            present.insert(id, name);
        }
        self.update_waiting(still_waiting);
        for (id, svc) in self.services.iter_mut() {
            if !present.contains_key(id) && !svc.removed {
                svc.removed = true;
                svc.restart_at = None;
                if let Some(pid) = svc.pid {
                    sys::kill(pid, Signal::SIGTERM);
                }
            }
        }
        self.services.retain(|_, s| !(s.removed && s.pid.is_none()));
        for (id, name) in present {
            if !self.services.contains_key(&id) {
                let mut svc = Service {
                    name,
                    pid: None,
                    started: Instant::now(),
                    restart_at: None,
                    removed: false,
                };
                self.start(&mut svc);
                self.services.insert(id, svc);
            }
        }
    }

    /// With `-d`, give a dir met for the first time its `down` file. False
    /// if that cannot be done (the dir is not ours to write): then it is not
    /// started at all, rather than started up.
    fn marked_down_if_new(&mut self, name: &OsStr) -> bool {
        if !self.down_by_default {
            return true;
        }
        let seen = Path::new(names::SVSCAN_DIR).join(SEEN).join(name);
        if seen.exists() {
            return true;
        }
        // Its logger too: nothing of a service runs before it is enabled
        // (yd-supervise brings the logger up with the service). Not through
        // a `log` symlink: whoever planted it would choose where we write.
        let log = Path::new(name).join(names::LOG);
        let marked = crate::servicedir::create_down_file(Path::new(name))
            .and_then(|_| {
                if std::fs::symlink_metadata(&log).is_ok_and(|m| m.is_dir()) {
                    crate::servicedir::create_down_file(&log)
                } else {
                    Ok(())
                }
            })
            .and_then(|_| std::fs::File::create(&seen).map(drop));
        match marked {
            Ok(()) => {
                self.unmarkable.remove(name);
                true
            }
            Err(e) => {
                if self.unmarkable.insert(name.to_owned()) {
                    warn(
                        PROG,
                        format!("{}: cannot mark it down ({e}); not started", display(name)),
                    );
                }
                false
            }
        }
    }

    /// Watch exactly the subdirs still waiting for their `run`.
    fn update_waiting(&mut self, names: Vec<OsString>) {
        let Some(inotify) = &self.inotify else { return };
        let old = std::mem::take(&mut self.waiting);
        for (name, wd) in old {
            if !names.contains(&name) {
                let _ = inotify.rm_watch(wd);
            } else {
                self.waiting.insert(name, wd);
            }
        }
        for name in names {
            if self.waiting.contains_key(&name) {
                continue;
            }
            // A dir still being written has no `run` yet; one whose `run`
            // is there but cannot run is a mistake worth a line (once).
            let run = Path::new(&name).join(crate::names::RUN);
            if run.exists() && !is_runnable(Path::new(&name)) {
                warn(
                    PROG,
                    format!(
                        "{}: run is not an executable file; waiting until it is",
                        run.display()
                    ),
                );
            }
            let flags = AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_ATTRIB
                | AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_ONLYDIR;
            match inotify.add_watch(Path::new(&name), flags) {
                Ok(wd) => {
                    self.waiting.insert(name, wd);
                }
                Err(e) => warn(
                    PROG,
                    format!("{}: watching for run: {e}", Path::new(&name).display()),
                ),
            }
        }
    }

    fn start(&self, svc: &mut Service) {
        svc.started = Instant::now();
        svc.restart_at = None;
        let args = [svc.name.as_os_str()];
        let spawned = sys::spawn(Spawn {
            program: &self.supervise_program,
            arg0: names::SUPERVISE_PROGRAM,
            args: &args,
            env: &[],
            cwd: Path::new("."),
            stdin: None,
            stdout: None,
            extra_fd: None,
            new_session: false,
        });
        match spawned {
            Ok(pid) => svc.pid = Some(pid),
            Err(e) => {
                warn(
                    PROG,
                    format!(
                        "unable to start {} for {}: {e}",
                        self.supervise_program.display(),
                        display(&svc.name)
                    ),
                );
                svc.restart_at = Some(svc.started + MIN_RESTART_INTERVAL);
            }
        }
    }

    /// Reap every child: our supervisors, and, as PID 1, anyone's orphans.
    fn reap(&mut self) {
        while let Some((pid, how)) = sys::reap_any() {
            let Some((&id, svc)) = self.services.iter_mut().find(|(_, s)| s.pid == Some(pid))
            else {
                continue;
            };
            svc.pid = None;
            if svc.removed || self.terminating {
                if svc.removed {
                    self.services.remove(&id);
                }
                continue;
            }
            self.after_supervisor_death(id, how);
        }
    }

    fn after_supervisor_death(&mut self, id: DirId, how: ExitStatus) {
        let Some(svc) = self.services.get_mut(&id) else {
            return;
        };
        if how.code() == Some(i32::from(EXIT_USAGE)) {
            // The dir is unusable (its message is already on stderr): try it
            // again when it changes, not on a timer.
            let name = svc.name.clone();
            self.services.remove(&id);
            let mut waiting: Vec<OsString> = self.waiting.keys().cloned().collect();
            waiting.push(name);
            self.update_waiting(waiting);
            return;
        }
        let earliest = svc.started + MIN_RESTART_INTERVAL;
        if earliest <= Instant::now() {
            self.start_known(id);
        } else {
            svc.restart_at = Some(earliest);
        }
    }

    /// Start the supervisor of a dir already in the table.
    fn start_known(&mut self, id: DirId) {
        if let Some(mut svc) = self.services.remove(&id) {
            self.start(&mut svc);
            self.services.insert(id, svc);
        }
    }

    fn restart_due(&mut self, now: Instant) {
        if self.terminating {
            return;
        }
        let due: Vec<DirId> = self
            .services
            .iter()
            .filter(|(_, s)| s.restart_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.start_known(id);
        }
    }
}

fn display(name: &OsStr) -> std::path::Display<'_> {
    Path::new(name).display()
}

struct Events {
    signals: bool,
    control: bool,
    inotify: bool,
}
