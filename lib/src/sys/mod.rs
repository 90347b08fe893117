//! The one place with `unsafe` and raw syscalls, split by kernel concern:
//! processes, fds and signals here; [`mount`] (namespaces, mounts,
//! pivot_root); [`creds`] (uids, groups, rlimits, sessions); [`net`]
//! (sockets, pipes, splice).
//!
//! Policy (what to start, what to mount, which uid) lives in the engines;
//! this module only knows how. Every fd it opens is close-on-exec, so
//! nothing the supervisor holds leaks into a service.

pub mod creds;
pub mod mount;
pub mod net;

use crate::status::ExitStatus;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Block `signals` and return a signalfd that reads them, so that an event
/// loop sees signals as readable data instead of handler interrupts.
/// Children get an empty mask back (std's spawn resets it before exec).
pub fn signal_fd(signals: &[Signal]) -> io::Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    set.thread_block()?;
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

/// Block `signals` in this process without reading them: a blocked signal
/// stays pending, across execve too, until the program reads or unblocks it.
pub fn block(signals: &[Signal]) -> io::Result<()> {
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    Ok(set.thread_block()?)
}

/// Drain the signals pending on `fd`.
pub fn read_signals(fd: &mut SignalFd) -> io::Result<Vec<Signal>> {
    let mut out = Vec::new();
    while let Some(info) = fd.read_signal()? {
        if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Mark every fd above stderr close-on-exec, so that nothing the process
/// inherited from whoever started it (a shell's stray fds, an init's
/// sockets) reaches the services it starts. Run first thing at startup.
pub fn cloexec_inherited_fds() -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; CLOSE_RANGE_CLOEXEC closes nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk /proc/self/fd (its own fd is CLOEXEC already).
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        {
            if fd > 2 {
                let _ = fcntl(fd, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
            }
        }
    }
    Ok(())
}

/// Make the dir `name` in `parent`, owned by `uid`:`gid`, without following
/// a symlink anywhere: `parent` may be writable by a tenant (pitfall 7). An
/// existing entry is left as it is, whatever it is.
pub fn make_owned_dir(parent: &Path, name: &str, mode: u32, uid: u32, gid: u32) -> io::Result<()> {
    let dir = open_dir_nofollow(None, parent.as_os_str())?;
    make_owned_dir_at(&dir, name.as_ref(), mode, uid, gid)
}

/// Make the dirs of `rel` below `base` (each as [`make_owned_dir`] does),
/// walking down with `openat` and O_NOFOLLOW at every level: a symlink a
/// tenant planted anywhere on the way is never followed.
pub fn make_owned_dirs(base: &Path, rel: &Path, mode: u32, uid: u32, gid: u32) -> io::Result<()> {
    let mut dir = open_dir_nofollow(None, base.as_os_str())?;
    for part in rel.components() {
        let name = part.as_os_str();
        make_owned_dir_at(&dir, name, mode, uid, gid)?;
        dir = open_dir_nofollow(Some(&dir), name)?;
    }
    Ok(())
}

fn open_dir_nofollow(at: Option<&OwnedFd>, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(at.map(|d| d.as_raw_fd()), name, flags, Mode::empty())?;
    // SAFETY: `openat` returned a new fd that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn make_owned_dir_at(dir: &OwnedFd, name: &OsStr, mode: u32, uid: u32, gid: u32) -> io::Result<()> {
    match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Fork. `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
/// Only for single-threaded processes, as all of yodawg's are.
pub fn fork() -> io::Result<Option<u32>> {
    // SAFETY: our programs are single-threaded, so the child may do anything.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(None),
        nix::unistd::ForkResult::Parent { child } => Ok(Some(child.as_raw() as u32)),
    }
}

/// Wait for `pid` to end; its status.
pub fn wait_for(pid: u32) -> io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only to `status`.
        let r = unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        if r == pid as i32 {
            return Ok(ExitStatus(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A clean signal state for a forked child about to exec (see
/// `reset_signals`); safe to call, but it changes the whole process.
pub fn clean_signals_before_exec() {
    // SAFETY: only changes this process's signal mask and dispositions.
    unsafe { reset_signals() }
}

/// Reap one dead child, any child, without blocking.
pub fn reap_any() -> Option<(u32, ExitStatus)> {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then_some((pid as u32, ExitStatus(status)))
}

/// Send `sig` to `pid`; a process that is already gone is not an error.
pub fn kill(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), sig);
}

/// Send `sig` to the process group led by `pid`.
pub fn kill_group(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::killpg(Pid::from_raw(pid as i32), sig);
}

/// Open (creating it) the lock file at `path` and take an exclusive flock
/// on it without waiting. `Ok(None)`: another process holds it. The lock
/// lives as long as the returned file.
pub fn take_lock(path: &Path) -> io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    Ok(try_lock(&file)?.then_some(file))
}

/// Take an exclusive flock without waiting. `Ok(false)`: someone holds it.
fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    match Errno::last() {
        Errno::EWOULDBLOCK => Ok(false),
        e => Err(e.into()),
    }
}

/// Make a FIFO at `path` unless one is there; anything else there is an error.
pub fn ensure_fifo(path: &Path) -> io::Result<()> {
    match nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600)) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            let meta = std::fs::symlink_metadata(path)?;
            use std::os::unix::fs::FileTypeExt;
            if meta.file_type().is_fifo() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a FIFO",
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn open_fifo(path: &Path, write: bool) -> io::Result<File> {
    let flags = libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(flags)
        .open(path)?;
    if !SFlag::from_bits_truncate(fstat(file.as_raw_fd())?.st_mode).contains(SFlag::S_IFIFO) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a FIFO"));
    }
    Ok(file)
}

/// Open a FIFO for reading without waiting for a writer.
pub fn open_fifo_reader(path: &Path) -> io::Result<File> {
    open_fifo(path, false)
}

/// Open a FIFO for writing without blocking. Fails with ENXIO when nobody
/// holds it open for reading: that is how clients learn no supervisor runs.
pub fn open_fifo_writer(path: &Path) -> io::Result<File> {
    open_fifo(path, true)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// What a child gets besides its program and arguments.
pub struct Spawn<'a> {
    pub program: &'a Path,
    /// What the child sees as its name (`./run`, as runsv passes it).
    pub arg0: &'a str,
    pub args: &'a [&'a OsStr],
    /// Set in the child's environment, over what it inherits.
    pub env: &'a [(&'a str, String)],
    pub cwd: &'a Path,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    /// An fd the child gets at a fixed number (s6's notification-fd).
    pub extra_fd: Option<(OwnedFd, RawFd)>,
    /// Make the child a session leader, so that it has no controlling
    /// terminal and its process group can be signalled as one.
    pub new_session: bool,
}

/// Start a child; an exec failure comes back as this call's error.
pub fn spawn(req: Spawn) -> io::Result<u32> {
    let mut cmd = Command::new(req.program);
    cmd.arg0(req.arg0)
        .args(req.args)
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .current_dir(req.cwd);
    if let Some(fd) = req.stdin {
        cmd.stdin(Stdio::from(fd));
    }
    if let Some(fd) = req.stdout {
        cmd.stdout(Stdio::from(fd));
    }
    // std reports exec failure through a pipe it opens on the lowest free fds;
    // if the child's fixed fd number is free in the parent, that pipe could
    // land on it and be clobbered by our dup2. Hold the number meanwhile.
    let mut placeholder: Option<OwnedFd> = None;
    let extra = match &req.extra_fd {
        Some((fd, target)) => {
            if *target <= 2 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "fd 0, 1 and 2 are taken",
                ));
            }
            if fcntl(*target, FcntlArg::F_GETFD) == Err(Errno::EBADF) {
                let held = fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(*target))?;
                // SAFETY: F_DUPFD_CLOEXEC returned a new fd (the lowest free
                // one from `target`, so `target` itself) that we now own.
                placeholder = Some(unsafe { OwnedFd::from_raw_fd(held) });
            }
            Some((fd.as_raw_fd(), *target))
        }
        None => None,
    };
    let new_session = req.new_session;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (sigprocmask, sigaction, setsid, dup2, fcntl).
    unsafe {
        cmd.pre_exec(move || {
            reset_signals();
            if new_session && libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some((from, to)) = extra {
                // dup2 leaves the new fd without FD_CLOEXEC: the child keeps
                // it. If it already has the number, dup2 does nothing, so the
                // flag is cleared by hand (or exec would close it).
                let kept = if from == to {
                    libc::fcntl(to, libc::F_SETFD, 0)
                } else {
                    libc::dup2(from, to)
                };
                if kept < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(placeholder);
    Ok(child?.id())
}

/// Give a child a clean signal state: nothing blocked (our signalfd mask is
/// inherited across fork and exec, and std no longer resets it), every
/// disposition default (a shell's `&` leaves SIGINT and SIGQUIT ignored),
/// glibc's reserved real-time signals included.
///
/// # Safety
/// Only between fork and exec: it changes the whole process's signal state.
unsafe fn reset_signals() {
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    // The raw syscall, since glibc's sigaction refuses signals 32 and 33. An
    // all-zero kernel `struct sigaction` is SIG_DFL, no flags, empty mask,
    // whatever the architecture's field order.
    let default_action = [0u64; 4];
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default_action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
}

/// Wait for events on `fds`, at most `timeout` (forever when `None`).
pub fn poll(fds: &mut [nix::poll::PollFd], timeout: Option<std::time::Duration>) -> io::Result<()> {
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    // Round up so a timer due in 0.4 ms does not turn into a busy loop.
    let ms = match timeout {
        Some(t) if ms == 0 && !t.is_zero() => 1,
        _ => ms,
    };
    match nix::poll::poll(
        fds,
        nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::NONE),
    ) {
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Read what is available from a non-blocking fd into `buf`; 0 means EOF.
pub fn read_nonblocking(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match nix::unistd::read(fd, buf) {
        Ok(n) => Ok(Some(n)),
        Err(Errno::EAGAIN) | Err(Errno::EINTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
