//! Sockets, pipes and splice(2): the raw calls behind `yd-pipe`.
//!
//! Every fd made here is non-blocking and close-on-exec: the event loop
//! waits on them, and none reaches a program `yd-pipe` starts unless handed
//! over on purpose.

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{
    self, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage, UnixAddr,
};
use nix::sys::stat::{lstat, Mode, SFlag};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// How many connections may wait in a listener's queue before we accept them.
const LISTEN_BACKLOG: i32 = 1024;

const NONBLOCK_CLOEXEC: SockFlag = SockFlag::SOCK_NONBLOCK.union(SockFlag::SOCK_CLOEXEC);

fn unix_socket() -> io::Result<OwnedFd> {
    Ok(socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        NONBLOCK_CLOEXEC,
        None,
    )?)
}

/// Listen on a unix socket at `path`, whose file gets `mode`. A socket file
/// left there by an instance that died is replaced; anything else there is an
/// error (never unlink a file that is not ours to remove).
pub fn listen_unix(path: &Path, mode: u32) -> io::Result<OwnedFd> {
    match lstat(path) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK => {
            std::fs::remove_file(path)?
        }
        Ok(_) => return Err(io::Error::new(io::ErrorKind::AlreadyExists, "not a socket")),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = unix_socket()?;
    let addr = UnixAddr::new(path)?;
    // The file is created by bind with the umask's mode: make it private
    // from the start, then open it up to `mode` before anyone can connect
    // (a connection needs listen(), which comes after the chmod).
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o177));
    let bound = socket::bind(fd.as_raw_fd(), &addr);
    nix::sys::stat::umask(old);
    bound?;
    nix::sys::stat::fchmodat(
        None,
        path,
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )?;
    socket::listen(
        &fd,
        Backlog::new(LISTEN_BACKLOG).unwrap_or(Backlog::MAXCONN),
    )?;
    Ok(fd)
}

/// Accept one pending connection; `None` when there is none.
pub fn accept(listener: RawFd) -> io::Result<Option<OwnedFd>> {
    match socket::accept4(listener, NONBLOCK_CLOEXEC) {
        // SAFETY: accept4 returned a new fd that we now own.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(Errno::EAGAIN) | Err(Errno::EINTR) => Ok(None),
        // The peer gave up while queued: nothing to accept, try the next.
        Err(Errno::ECONNABORTED) => accept(listener),
        Err(e) => Err(e.into()),
    }
}

/// Make a socket blocking again, for a program that gets it as its stdin
/// and stdout: O_NONBLOCK belongs to the open file, which it shares, and
/// ordinary programs take EAGAIN for an error.
pub fn set_blocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Who is at the other end of a unix socket, as the kernel saw it at connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

pub fn peer_cred(fd: &OwnedFd) -> io::Result<PeerCred> {
    let c = socket::getsockopt(fd, sockopt::PeerCredentials)?;
    Ok(PeerCred {
        uid: c.uid(),
        gid: c.gid(),
        pid: c.pid(),
    })
}

/// A connection being made.
pub enum Connect {
    /// Connected.
    Ready(OwnedFd),
    /// A TCP handshake under way: wait until writable, then see
    /// [`connect_outcome`].
    InProgress(OwnedFd),
    /// The listener's queue is full (unix sockets): try again a bit later.
    Busy,
}

/// Connect to the unix socket at `path`.
pub fn connect_unix(path: &Path) -> io::Result<Connect> {
    let fd = unix_socket()?;
    match socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?) {
        Ok(()) => Ok(Connect::Ready(fd)),
        Err(Errno::EAGAIN) => Ok(Connect::Busy),
        Err(e) => Err(e.into()),
    }
}

/// Connect to the unix socket `name` in the dir `parent`, refusing a
/// symlink there: the dir may belong to someone else (another tenant's
/// exports), who must not choose what we connect to.
pub fn connect_unix_nofollow(parent: &Path, name: &std::ffi::OsStr) -> io::Result<Connect> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(&parent.join(name), flags, Mode::empty())?;
    // SAFETY: `open` returned a new fd that we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // The magic link names the very inode we opened, a socket or not.
    connect_unix(Path::new(&format!("/proc/self/fd/{}", fd.as_raw_fd())))
}

/// Start connecting to a TCP address.
pub fn connect_tcp(addr: SocketAddr) -> io::Result<Connect> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket::socket(family, SockType::Stream, NONBLOCK_CLOEXEC, None)?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) => Ok(Connect::Ready(fd)),
        Err(Errno::EINPROGRESS) => Ok(Connect::InProgress(fd)),
        Err(e) => Err(e.into()),
    }
}

/// Where a non-blocking connect stands: `Ok(true)` connected, `Ok(false)`
/// still under way (SO_ERROR is 0 then too), `Err` failed.
pub fn connect_outcome(fd: &OwnedFd) -> io::Result<bool> {
    match socket::getsockopt(fd, sockopt::SocketError)? {
        0 => {}
        e => return Err(io::Error::from_raw_os_error(e)),
    }
    match socket::getpeername::<SockaddrStorage>(fd.as_raw_fd()) {
        Ok(_) => Ok(true),
        Err(Errno::ENOTCONN) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Shut one direction of a socket; a peer already gone is no error.
pub fn shutdown(fd: RawFd, write: bool) {
    let how = if write {
        socket::Shutdown::Write
    } else {
        socket::Shutdown::Read
    };
    let _ = socket::shutdown(fd, how);
}

/// Ask for a send buffer of `bytes` on a socket (the kernel clamps the
/// request to net.core.wmem_max, then doubles it for its own overhead).
pub fn ask_send_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    // SAFETY: the caller's fd stays open for this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(socket::setsockopt(&fd, sockopt::SndBuf, &bytes)?)
}

/// A non-blocking, close-on-exec pipe: (read end, write end). (The
/// supervisors' [`crate::sys::pipe`] blocks: its ends go to children.)
pub fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?)
}

/// Ask for a pipe of `bytes` (refused past the user's pipe budget).
pub fn resize_pipe(pipe: &OwnedFd, bytes: usize) -> io::Result<()> {
    fcntl(
        pipe.as_raw_fd(),
        FcntlArg::F_SETPIPE_SZ(bytes as libc::c_int),
    )?;
    Ok(())
}

/// Move up to `len` bytes from `from` to `to` inside the kernel (one end is
/// a pipe). `Ok(None)`: nothing can move now (would block); `Ok(Some(0))`:
/// `from` is at end of file.
pub fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<Option<usize>> {
    // SAFETY: plain syscall on fds we own; null offsets (pipes and sockets
    // have no file position).
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    match Errno::last() {
        Errno::EAGAIN | Errno::EINTR => Ok(None),
        e => Err(e.into()),
    }
}

/// Send what the socket `fd` takes now; `Ok(None)` when it takes nothing
/// (would block). MSG_NOSIGNAL: a gone peer is EPIPE, never SIGPIPE.
pub fn write_nonblocking(fd: RawFd, buf: &[u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for `buf.len()` bytes for the call's duration.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    match Errno::last() {
        Errno::EAGAIN | Errno::EINTR => Ok(None),
        e => Err(e.into()),
    }
}

/// Raise the soft limit on open files to the hard one: a bridge holds six
/// fds per connection (two sockets, two pipes).
pub fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
