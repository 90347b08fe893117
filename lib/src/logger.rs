//! `yd-log DIR`: lines from stdin into a rotated log dir, TAI64N-stamped.
//!
//! `DIR/current` receives `@<tai64n> <line>`; once it would pass the size
//! limit it is fsynced and renamed `@<tai64n>.s` (multilog's naming, so
//! `tai64nlocal` and log tooling that knows multilog or s6-log read it), and
//! the oldest rotated files beyond the count are deleted.
//!
//! Reliability, the point of a logger:
//! * a line read is never dropped: a failed write (full disk, EIO) is
//!   retried every second until it succeeds, which blocks reading, which
//!   blocks the writer on a full pipe instead of losing lines;
//! * memory is bounded: one read buffer and one partial line of at most
//!   [`MAX_LINE`] bytes (a longer line is cut into pieces of that size);
//! * on SIGTERM it finishes the line it is in the middle of, then exits, so
//!   a restart under a supervisor (which holds the pipe) loses nothing;
//! * SIGALRM rotates at once, as with s6-log and multilog.

use crate::cli::{warn, Fatal, EXIT_USAGE};
use crate::names;
use crate::sys;
use crate::tai64n::Tai64n;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

const PROG: &str = "yd-log";
/// The longest line kept whole; longer ones are split.
pub const MAX_LINE: usize = 16 * 1024;
const READ_SIZE: usize = 64 * 1024;
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// `@` + 24 hex digits + a space.
const STAMP_LEN: usize = 26;

pub struct Options {
    pub dir: PathBuf,
    /// Rotate `current` before it would pass this many bytes.
    pub max_size: u64,
    /// Keep at most this many rotated files.
    pub keep: usize,
}

impl Options {
    pub const DEFAULT_MAX_SIZE: u64 = 1_000_000;
    pub const DEFAULT_KEEP: usize = 10;
}

struct LogDir {
    dir: PathBuf,
    current: File,
    size: u64,
    max_size: u64,
    keep: usize,
    _lock: File,
}

pub fn run(opts: Options) -> Result<u8, Fatal> {
    if opts.max_size < (STAMP_LEN + 2) as u64 {
        return Err(Fatal::usage(format!(
            "-s {}: too small for one line",
            opts.max_size
        )));
    }
    let mut log = LogDir::open(&opts)?;
    let mut signals = sys::signal_fd(&[Signal::SIGTERM, Signal::SIGALRM])
        .map_err(|e| Fatal::system("signalfd", e))?;
    let stdin = io::stdin();
    let mut lines = LineSplitter::default();
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(READ_SIZE + READ_SIZE / 2);
    let mut stopping = false;
    loop {
        // Stop between lines once asked: the rest stays in the pipe for the next logger.
        if stopping && lines.pending.is_empty() {
            break;
        }
        let mut fds = [
            PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        sys::poll(&mut fds, None).map_err(|e| Fatal::system("poll", e))?;
        let [input_ready, signal_ready] = fds.map(|fd| fd.revents().is_some_and(|r| !r.is_empty()));
        if signal_ready {
            for sig in sys::read_signals(&mut signals).map_err(|e| Fatal::system("signalfd", e))? {
                match sig {
                    Signal::SIGALRM => log.rotate_retrying(),
                    _ => stopping = true,
                }
            }
        }
        if !input_ready {
            continue;
        }
        let n =
            read_stdin(stdin.as_fd(), &mut buf).map_err(|e| Fatal::system("reading stdin", e))?;
        let stamp = Tai64n::now().to_label();
        if n == 0 {
            // EOF: a last line without its newline still gets written.
            if !lines.pending.is_empty() {
                let line = std::mem::take(&mut lines.pending);
                log.append(&mut out, &stamp, &line);
            }
            break;
        }
        lines.split(&buf[..n], |line| log.append(&mut out, &stamp, line));
        log.flush(&mut out);
    }
    log.flush(&mut out);
    log.sync();
    Ok(0)
}

fn read_stdin(fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match nix::unistd::read(fd.as_raw_fd(), buf) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Cuts a byte stream into lines, holding at most one partial line.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    fn split(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while !data.is_empty() {
            let room = MAX_LINE - self.pending.len();
            match memchr::memchr(b'\n', &data[..data.len().min(room)]) {
                Some(i) => {
                    if self.pending.is_empty() {
                        emit(&data[..i]);
                    } else {
                        self.pending.extend_from_slice(&data[..i]);
                        emit(&self.pending);
                        self.pending.clear();
                    }
                    data = &data[i + 1..];
                }
                None if data.len() >= room => {
                    self.pending.extend_from_slice(&data[..room]);
                    emit(&self.pending);
                    self.pending.clear();
                    data = &data[room..];
                }
                None => {
                    self.pending.extend_from_slice(data);
                    data = &[];
                }
            }
        }
    }
}

impl LogDir {
    fn open(opts: &Options) -> Result<LogDir, Fatal> {
        let dir = opts.dir.clone();
        let label = dir.display().to_string();
        match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(Fatal::system(&label, e)),
        }
        let lock_path = dir.join(names::LOG_LOCK);
        let lock = sys::take_lock(&lock_path)
            .map_err(|e| Fatal::system(lock_path.display(), e))?
            .ok_or_else(|| {
                Fatal::with_code(
                    EXIT_USAGE,
                    format!("{label}: another yd-log is writing there"),
                )
            })?;
        let (current, size) =
            open_current(&dir).map_err(|e| Fatal::system(format!("{label}/current"), e))?;
        Ok(LogDir {
            dir,
            current,
            size,
            max_size: opts.max_size,
            keep: opts.keep,
            _lock: lock,
        })
    }

    /// Queue one stamped line in `out`, rotating first if it would not fit.
    fn append(&mut self, out: &mut Vec<u8>, stamp: &[u8; 25], line: &[u8]) {
        let len = (STAMP_LEN + line.len() + 1) as u64;
        let queued = out.len() as u64;
        if self.size + queued > 0 && self.size + queued + len > self.max_size {
            self.flush(out);
            self.rotate_retrying();
        }
        out.extend_from_slice(stamp);
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
    }

    /// Write all of `out`, retrying until it is on disk: never drop a line.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let mut done = 0;
        let mut warned = false;
        while done < out.len() {
            match self.current.write(&out[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if !warned {
                        warn(
                            PROG,
                            format!("{}/current: {e}; retrying every second", self.dir.display()),
                        );
                        warned = true;
                    }
                    std::thread::sleep(RETRY_DELAY);
                }
            }
        }
        self.size += out.len() as u64;
        out.clear();
    }

    fn rotate_retrying(&mut self) {
        let mut warned = false;
        while let Err(e) = self.rotate() {
            if !warned {
                warn(
                    PROG,
                    format!(
                        "{}: rotating: {e}; retrying every second",
                        self.dir.display()
                    ),
                );
                warned = true;
            }
            std::thread::sleep(RETRY_DELAY);
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.size == 0 {
            return Ok(());
        }
        self.current.sync_all()?;
        let name = format!(
            "{}.s",
            std::str::from_utf8(&Tai64n::now().to_label()).unwrap()
        );
        std::fs::rename(self.dir.join(names::LOG_CURRENT), self.dir.join(&name))?;
        let (current, size) = open_current(&self.dir)?;
        self.current = current;
        self.size = size;
        File::open(&self.dir)?.sync_all()?;
        self.prune()
    }

    /// Delete the oldest rotated files beyond `keep`.
    fn prune(&self) -> io::Result<()> {
        let mut old: Vec<_> = std::fs::read_dir(&self.dir)?
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.as_bytes().starts_with(b"@") && n.as_bytes().ends_with(b".s"))
            .collect();
        old.sort();
        let excess = old.len().saturating_sub(self.keep);
        for name in &old[..excess] {
            std::fs::remove_file(self.dir.join(name))?;
        }
        Ok(())
    }

    fn sync(&self) {
        if let Err(e) = self.current.sync_all() {
            warn(PROG, format!("{}/current: {e}", self.dir.display()));
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn open_current(dir: &Path) -> io::Result<(File, u64)> {
    let f = open_append(&dir.join(names::LOG_CURRENT))?;
    let size = f.metadata()?.len();
    Ok((f, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.split(c, |l| out.push(l.to_vec()));
        }
        (out, s.pending)
    }

    #[test]
    fn lines_across_reads() {
        let (lines, rest) = split_all(&[b"ab\ncd", b"ef\n\ngh"]);
        assert_eq!(lines, vec![b"ab".to_vec(), b"cdef".to_vec(), b"".to_vec()]);
        assert_eq!(rest, b"gh");
    }

    #[test]
    fn long_lines_are_cut_not_grown() {
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let (lines, rest) = split_all(&[&long, b"\n"]);
        assert_eq!(lines.len(), 3);
        assert!(lines[..2].iter().all(|l| l.len() == MAX_LINE));
        assert_eq!(lines[2].len(), 5);
        assert!(rest.is_empty());
    }
}
