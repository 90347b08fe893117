//! What every client of a supervisor shares (yd-svc, yd-svstat, yd-svok):
//! is a supervisor running on a dir, what is its status, send it letters.
//!
//! These work on dirs supervised by runsv as well as by yd-supervise: the
//! status falls back to runit's 20-byte record when `yd-status` is absent.

use crate::names;
use crate::status::{FormatError, Status};
use crate::sys;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum ClientError {
    /// No supervisor holds the dir (no `supervise/ok`, or nobody reading it).
    NotSupervised,
    Io(PathBuf, io::Error),
    Format(PathBuf, FormatError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ClientError::NotSupervised => f.write_str("supervisor not running"),
            ClientError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            ClientError::Format(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

pub fn supervise_dir(service: &Path) -> PathBuf {
    service.join(names::SUPERVISE)
}

/// Is a supervisor running on `service`? The probe daemontools' svok uses:
/// a non-blocking open of `supervise/ok` for writing succeeds only while the
/// supervisor holds it open for reading.
pub fn check_supervised(service: &Path) -> Result<(), ClientError> {
    open_fifo(service, names::OK).map(drop)
}

/// Open `supervise/NAME` for writing.
fn open_fifo(service: &Path, name: &str) -> Result<std::fs::File, ClientError> {
    let path = supervise_dir(service).join(name);
    let f = sys::open_fifo_writer(&path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) | Some(libc::ENOENT) => ClientError::NotSupervised,
        _ => ClientError::Io(path.clone(), e),
    })?;
    owned_like_service(service, &path, &f)?;
    Ok(f)
}

/// As root, a file under `supervise/` must belong to the owner of the
/// service dir: a user who can write that dir could otherwise point
/// `supervise` (a symlink, as runit allows) at someone else's supervisor
/// and have root send it commands, or at someone else's files and have
/// root read them out as a status.
fn owned_like_service(service: &Path, path: &Path, f: &std::fs::File) -> Result<(), ClientError> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let file_owner = f
        .metadata()
        .map_err(|e| ClientError::Io(path.into(), e))?
        .uid();
    let dir_owner = std::fs::metadata(service)
        .map_err(|e| ClientError::Io(service.into(), e))?
        .uid();
    if file_owner == dir_owner {
        return Ok(());
    }
    let why =
        format!("owned by uid {file_owner}, the service dir by uid {dir_owner}: refusing as root");
    Err(ClientError::Io(
        path.into(),
        io::Error::new(io::ErrorKind::PermissionDenied, why),
    ))
}

/// Read an opened status file whole (checked as [`owned_like_service`]).
fn read_owned(service: &Path, path: &Path, mut f: std::fs::File) -> Result<Vec<u8>, ClientError> {
    use std::io::Read;
    owned_like_service(service, path, &f)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| ClientError::Io(path.into(), e))?;
    Ok(bytes)
}

/// The service's status: yodawg's record, or runit's when only that exists.
pub fn read_status(service: &Path) -> Result<Status, ClientError> {
    let dir = supervise_dir(service);
    let yd = dir.join(names::YD_STATUS);
    match std::fs::File::open(&yd) {
        Ok(f) => {
            Status::from_yd(&read_owned(service, &yd, f)?).map_err(|e| ClientError::Format(yd, e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let runit = dir.join(names::STATUS);
            let f = std::fs::File::open(&runit).map_err(|e| ClientError::Io(runit.clone(), e))?;
            let b = read_owned(service, &runit, f)?;
            Status::from_runit(&b).map_err(|e| ClientError::Format(runit, e))
        }
        Err(e) => Err(ClientError::Io(yd, e)),
    }
}

/// Write command letters to `supervise/control`, in one write.
pub fn send(service: &Path, letters: &[u8]) -> Result<(), ClientError> {
    let mut f = open_fifo(service, names::CONTROL)?;
    f.write_all(letters)
        .map_err(|e| ClientError::Io(supervise_dir(service).join(names::CONTROL), e))
}

/// Is the `down` file there ("normally down")?
pub fn normally_down(service: &Path) -> bool {
    service.join(names::DOWN).symlink_metadata().is_ok()
}
