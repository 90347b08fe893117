//! A supervisor's state dir, `supervise/`, in runit's layout.
//!
//! Holding this struct *is* being the supervisor of the dir: it holds the
//! flock on `lock`, keeps `ok` open for reading (so clients' non-blocking
//! opens for writing succeed only while we live), and reads `control`.

use crate::cli::{Fatal, EXIT_USAGE};
use crate::names;
use crate::statefile;
use crate::status::Status;
use crate::sys;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub(super) struct SuperviseDir {
    dir: PathBuf,
    control: File,
    // Held only so that they stay open: a writer on `control` so that it never
    // reads as EOF between clients, and a reader on `ok` that clients probe
    // (opened by `announce`, once the first status is written).
    _control_writer: File,
    ok: Option<File>,
    _lock: File,
}

impl SuperviseDir {
    /// Become the supervisor of `service_dir` (named `label` in messages).
    pub fn acquire(service_dir: &Path, label: &str) -> Result<SuperviseDir, Fatal> {
        let dir = service_dir.join(names::SUPERVISE);
        let fail =
            |what: &Path, e: io::Error| Fatal::system(format!("{label}: {}", what.display()), e);
        // `supervise` may be a symlink to a writable place (runit allows it).
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(fail(&dir, e)),
        }
        // Everything below is written as us: the dir (or the symlink's
        // target) must be ours alone, or someone else picks where we write.
        let meta = std::fs::metadata(&dir).map_err(|e| fail(&dir, e))?;
        if meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
            return Err(Fatal::usage(format!(
                "{label}: {}: owned by uid {} mode {:o}; it must be ours and writable by us alone",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o7777
            )));
        }
        let lock_path = dir.join(names::LOCK);
        let lock = sys::take_lock(&lock_path)
            .map_err(|e| fail(&lock_path, e))?
            .ok_or_else(|| Fatal::with_code(EXIT_USAGE, format!("{label}: already supervised")))?;
        let control_path = dir.join(names::CONTROL);
        let ok_path = dir.join(names::OK);
        for fifo in [&control_path, &ok_path] {
            sys::ensure_fifo(fifo).map_err(|e| fail(fifo, e))?;
        }
        let control = sys::open_fifo_reader(&control_path).map_err(|e| fail(&control_path, e))?;
        let control_writer =
            sys::open_fifo_writer(&control_path).map_err(|e| fail(&control_path, e))?;
        Ok(SuperviseDir {
            dir,
            control,
            _control_writer: control_writer,
            ok: None,
            _lock: lock,
        })
    }

    /// Hold `ok` open for reading: clients' probes succeed from now on.
    pub fn announce(&mut self, label: &str) -> Result<(), Fatal> {
        let ok_path = self.dir.join(names::OK);
        let ok = sys::open_fifo_reader(&ok_path)
            .map_err(|e| Fatal::system(format!("{label}: {}", ok_path.display()), e))?;
        self.ok = Some(ok);
        Ok(())
    }

    pub fn control_fd(&self) -> BorrowedFd<'_> {
        self.control.as_fd()
    }

    /// Read the command letters waiting in `control`.
    pub fn read_commands(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        while let Some(n) = sys::read_nonblocking(self.control.as_raw_fd(), &mut buf)? {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(out)
    }

    /// Write every status file. `yd-status` goes last: `yd-svc -w…` wakes on
    /// it, and by then runit's files already agree with it.
    pub fn publish(&self, st: &Status) -> io::Result<()> {
        let pid = if st.pid != 0 {
            format!("{}\n", st.pid)
        } else {
            String::new()
        };
        statefile::replace(&self.dir, names::PID, pid.as_bytes())?;
        statefile::replace(&self.dir, names::STAT, st.stat_text().as_bytes())?;
        statefile::replace(&self.dir, names::STATUS, &st.runit_record())?;
        statefile::replace(&self.dir, names::YD_STATUS, &st.yd_record())
    }
}
