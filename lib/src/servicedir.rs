//! A service directory's files, checked and parsed once at the edge.
//!
//! The supervisor checks the directory when it starts (so bad input fails at
//! once, with one line) and re-reads the optional settings each time it
//! starts `run`, as s6-supervise does: editing `notification-fd` or
//! `timeout-finish` takes effect at the next start.

use crate::cli::{parse_number, Fatal};
use crate::names;
use nix::sys::signal::Signal;
use nix::unistd::{access, AccessFlags};
use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// s6-supervise's default limit on `finish`.
pub const DEFAULT_TIMEOUT_FINISH: Duration = Duration::from_millis(5000);

/// Check that `dir` is a service dir we can run: a directory holding an
/// executable regular file `run`; as root, one nobody else can change.
pub fn check(dir: &Path) -> Result<(), Fatal> {
    check_runnable(dir)?;
    if nix::unistd::geteuid().is_root() {
        for path in [
            dir.to_path_buf(),
            dir.join(names::RUN),
            dir.join(names::FINISH),
        ] {
            check_root_only(&path)?;
        }
    }
    Ok(())
}

/// Whoever can write a dir a root supervisor runs, or its `run`, is root:
/// refuse anything owned by another user, or writable by another group or
/// by everyone. (A missing `finish` is fine.)
fn check_root_only(path: &Path) -> Result<(), Fatal> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bad_input(path, e)),
    };
    let meta = if meta.file_type().is_symlink() {
        std::fs::metadata(path).map_err(|e| bad_input(path, e))?
    } else {
        meta
    };
    let writable_by_others =
        meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && meta.gid() != 0);
    if meta.uid() != 0 || writable_by_others {
        return Err(Fatal::usage(format!(
            "{}: owned by uid {} mode {:o}: root will not supervise what another user can change",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

fn check_runnable(dir: &Path) -> Result<(), Fatal> {
    let meta = std::fs::metadata(dir).map_err(|e| bad_input(dir, e))?;
    if !meta.is_dir() {
        return Err(Fatal::usage(format!("{}: not a directory", dir.display())));
    }
    std::fs::read_dir(dir).map_err(|e| bad_input(dir, e))?;
    let run = dir.join(names::RUN);
    let meta = std::fs::metadata(&run).map_err(|e| bad_input(&run, e))?;
    if !meta.is_file() {
        return Err(Fatal::usage(format!(
            "{}: not a regular file",
            run.display()
        )));
    }
    access(&run, AccessFlags::X_OK)
        .map_err(|_| Fatal::usage(format!("{}: not executable", run.display())))
}

fn bad_input(path: &Path, e: io::Error) -> Fatal {
    Fatal::usage(format!("{}: {}", path.display(), e))
}

/// Whether `dir/log` is a directory: then it is a log service.
pub fn has_log(dir: &Path) -> bool {
    dir.join(names::LOG).is_dir()
}

pub fn has_down_file(dir: &Path) -> bool {
    dir.join(names::DOWN).symlink_metadata().is_ok()
}

/// Create `down` without following a symlink planted in its place, and
/// without truncating anything.
pub fn create_down_file(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(names::DOWN))
        .map(drop)
}

pub fn has_finish(dir: &Path) -> bool {
    let f = dir.join(names::FINISH);
    f.is_file() && access(&f, AccessFlags::X_OK).is_ok()
}

/// The optional settings of a service dir, read at each start of `run`.
#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    pub notification_fd: Option<RawFd>,
    /// `None`: finish may run forever (`timeout-finish` holds 0).
    pub timeout_finish: Option<Duration>,
    pub down_signal: Signal,
    pub new_session: bool,
}

impl Settings {
    /// Read the settings; a bad file is reported and its default used, so
    /// that a typo never stops a running service from being restarted.
    pub fn read(dir: &Path) -> (Settings, Vec<String>) {
        let mut warnings = Vec::new();
        let mut file = |name: &str| -> Option<String> {
            match std::fs::read_to_string(dir.join(name)) {
                Ok(s) => Some(s),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    warnings.push(format!("{}: {e}", dir.join(name).display()));
                    None
                }
            }
        };
        let notification = file(names::NOTIFICATION_FD);
        let timeout = file(names::TIMEOUT_FINISH);
        let signal = file(names::DOWN_SIGNAL);
        let new_session = !dir.join(names::NOSETSID).exists();

        let notification_fd =
            notification.and_then(|t| match parse_number(names::NOTIFICATION_FD, &t) {
                Ok(n) if (3..=1024).contains(&n) => Some(n as RawFd),
                Ok(n) => {
                    warnings.push(format!(
                        "{}: fd {n} is not from 3 to 1024; readiness ignored",
                        names::NOTIFICATION_FD
                    ));
                    None
                }
                Err(e) => {
                    warnings.push(e);
                    None
                }
            });
        let timeout_finish = match timeout.map(|t| parse_number(names::TIMEOUT_FINISH, &t)) {
            None => Some(DEFAULT_TIMEOUT_FINISH),
            Some(Ok(0)) => None,
            Some(Ok(ms)) => Some(Duration::from_millis(ms)),
            Some(Err(e)) => {
                warnings.push(e);
                Some(DEFAULT_TIMEOUT_FINISH)
            }
        };
        let down_signal = match signal.map(|t| parse_signal(&t)) {
            None => Signal::SIGTERM,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                warnings.push(format!("{}: {e}", names::DOWN_SIGNAL));
                Signal::SIGTERM
            }
        };
        (
            Settings {
                notification_fd,
                timeout_finish,
                down_signal,
                new_session,
            },
            warnings,
        )
    }
}

/// A signal by name (`SIGHUP`, `hup`) or number.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("no signal number {n}"));
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| format!("unknown signal {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("yd-sd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn defaults_without_files() {
        let d = tempdir("defaults");
        let (s, w) = Settings::read(&d);
        assert!(w.is_empty());
        assert_eq!(
            s,
            Settings {
                notification_fd: None,
                timeout_finish: Some(DEFAULT_TIMEOUT_FINISH),
                down_signal: Signal::SIGTERM,
                new_session: true
            }
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn files_are_read_and_bad_ones_warned() {
        let d = tempdir("files");
        std::fs::write(d.join("notification-fd"), "5\n").unwrap();
        std::fs::write(d.join("timeout-finish"), "0").unwrap();
        std::fs::write(d.join("down-signal"), "SIGHUP\n").unwrap();
        std::fs::write(d.join("nosetsid"), "").unwrap();
        let (s, w) = Settings::read(&d);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.notification_fd, Some(5));
        assert_eq!(s.timeout_finish, None);
        assert_eq!(s.down_signal, Signal::SIGHUP);
        assert!(!s.new_session);
        std::fs::write(d.join("notification-fd"), "1").unwrap();
        std::fs::write(d.join("down-signal"), "SIGNOPE").unwrap();
        std::fs::write(d.join("timeout-finish"), "soon").unwrap();
        let (s, w) = Settings::read(&d);
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(s.notification_fd, None);
        assert_eq!(s.timeout_finish, Some(DEFAULT_TIMEOUT_FINISH));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("term"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1\n"), Ok(Signal::SIGUSR1));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert!(parse_signal("999").is_err());
    }

    #[test]
    fn check_rejects_bad_dirs() {
        let d = tempdir("check");
        assert!(check(&d).unwrap_err().message.contains("run"));
        std::fs::write(d.join("run"), "#!/bin/sh\n").unwrap();
        assert!(check(&d).unwrap_err().message.contains("not executable"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check(&d).is_ok());
        assert_eq!(
            check(&d.join("nope")).unwrap_err().code,
            crate::cli::EXIT_USAGE
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
