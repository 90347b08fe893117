//! `yd-pipe`: listen on a unix socket and bridge each connection to a
//! target, or serve it with a program (see yd-pipe(8), docs/pipelines.md).
//!
//! * [`endpoint`]: the targets, parsed once.
//! * [`bridge`]: one connection's bytes, both ways, with splice(2).
//! * [`exports`]: who may use an export socket (cross-tenant).
//! * [`server`]: the event loop over all of it.

pub mod bridge;
pub mod endpoint;
pub mod exports;
pub mod server;

use crate::cli::{parse_number, warn, Fatal};
use crate::sys::net;
use endpoint::{Places, Target};
use exports::{Exports, EXPORTS_ENV};
use server::{Listener, Server};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const USAGE: &str =
    "usage: yd-pipe [ -c MAXCONN ] [ -x EXPORTS ] SOCKET { unix:PATH | tcp:IP:PORT | pipeline:NAME | service:NAME | import:TENANT/NAME | exec PROG [ ARG ... ] }";

/// Connections served at once by default (s6-ipcserver's default for
/// programs; bridges cost no process, so they get more).
pub const DEFAULT_MAX_EXEC: usize = 40;
pub const DEFAULT_MAX_BRIDGES: usize = 1000;

/// Only the owner (and root) may connect to a pipeline's own socket.
const SOCKET_MODE: u32 = 0o600;
/// An export socket may be opened by anyone; its consumer list decides.
const EXPORT_SOCKET_MODE: u32 = 0o666;

#[derive(Debug)]
pub struct Options {
    pub socket: PathBuf,
    pub target: Target,
    pub max: usize,
    /// The consumer dir of `-x`.
    pub exports: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[OsString], places: &Places) -> Result<Options, Fatal> {
        let mut max = None;
        let mut exports = None;
        let mut rest = args;
        while let [flag, value, tail @ ..] = rest {
            match flag.to_str() {
                Some("-c") => {
                    let n = parse_number("-c", &value.to_string_lossy()).map_err(Fatal::usage)?;
                    if n == 0 {
                        return Err(Fatal::usage("-c: at least 1"));
                    }
                    max = Some(n as usize);
                }
                Some("-x") => exports = Some(PathBuf::from(value)),
                Some(f) if f.starts_with('-') && f != "-" => {
                    return Err(Fatal::usage(format!("{f}: unknown option; {USAGE}")))
                }
                _ => break,
            }
            rest = tail;
        }
        let [socket, words @ ..] = rest else {
            return Err(Fatal::usage(USAGE));
        };
        if words.is_empty() {
            return Err(Fatal::usage(USAGE));
        }
        let target =
            Target::parse(words, places).map_err(|e| Fatal::usage(format!("target: {e}")))?;
        let default_max = match target {
            Target::Exec(_) => DEFAULT_MAX_EXEC,
            _ => DEFAULT_MAX_BRIDGES,
        };
        Ok(Options {
            socket: socket.into(),
            target,
            max: max.unwrap_or(default_max),
            exports,
        })
    }
}

/// A tenant's pipeline listens inside the tenant's home: nowhere else is
/// its own (`/tmp` is private, but a socket there is lost on restart and
/// found by nobody). Root on the host may listen anywhere.
fn check_listen_path(socket: &Path, home: Option<&Path>) -> Result<(), Fatal> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let home = home.ok_or_else(|| Fatal::usage("HOME is not set"))?;
    let parent = match socket.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = parent
        .canonicalize()
        .map_err(|e| Fatal::system(parent.display(), e))?;
    let home = home
        .canonicalize()
        .map_err(|e| Fatal::system(home.display(), e))?;
    if !dir.starts_with(&home) {
        return Err(Fatal::usage(format!(
            "{}: outside the tenant's home {}",
            socket.display(),
            home.display()
        )));
    }
    Ok(())
}

/// Where the export socket goes: `$YD_EXPORTS/NAME`, NAME the pipeline's
/// dir (the current dir, where `run` runs).
fn export_path() -> Result<PathBuf, Fatal> {
    let dir = std::env::var_os(EXPORTS_ENV).ok_or_else(|| {
        Fatal::usage(format!(
            "-x: {EXPORTS_ENV} is not set (every tenant has it)"
        ))
    })?;
    let cwd = std::env::current_dir().map_err(|e| Fatal::system("current dir", e))?;
    let name = cwd
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Fatal::usage("-x: the current dir has no usable name"))?;
    endpoint::check_name("pipeline", name).map_err(Fatal::usage)?;
    Ok(Path::new(&dir).join(name))
}

fn listen(path: &Path, mode: u32, acl: Option<Exports>) -> Result<Listener, Fatal> {
    let fd = net::listen_unix(path, mode)
        .map_err(|e| Fatal::system(format_args!("listening on {}", path.display()), e))?;
    Ok(Listener { fd, acl })
}

pub fn run(opts: Options, home: Option<&Path>) -> Result<u8, Fatal> {
    // Everything is checked before the first socket is made.
    check_listen_path(&opts.socket, home)?;
    let export = match &opts.exports {
        Some(consumers) => {
            let acl = Exports::new(consumers);
            for unknown in acl.unknown_consumers() {
                warn(
                    "yd-pipe",
                    format_args!("{}: {unknown:?} is no tenant", consumers.display()),
                );
            }
            Some((export_path()?, acl))
        }
        None => None,
    };
    net::raise_fd_limit();
    let mut listeners = vec![listen(&opts.socket, SOCKET_MODE, None)?];
    if let Some((path, acl)) = export {
        listeners.push(listen(&path, EXPORT_SOCKET_MODE, Some(acl))?);
    }
    let mut server = Server::new(opts.target, listeners, opts.max)
        .map_err(|e| Fatal::system("starting the event loop", e))?;
    server.run().map_err(|e| Fatal::system("event loop", e))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Fatal> {
        let a: Vec<OsString> = args.iter().map(OsString::from).collect();
        let places = Places {
            home: Some("/home/yd-a".into()),
            imports: None,
        };
        Options::parse(&a, &places)
    }

    #[test]
    fn options() {
        let o = parse(&["-c", "5", "-x", "exports", "socket", "unix:/s"]).unwrap();
        assert_eq!(o.max, 5);
        assert_eq!(o.exports, Some(PathBuf::from("exports")));
        assert_eq!(o.socket, PathBuf::from("socket"));
        assert_eq!(parse(&["s", "exec", "cat"]).unwrap().max, DEFAULT_MAX_EXEC);
        assert_eq!(
            parse(&["s", "tcp:127.0.0.1:1"]).unwrap().max,
            DEFAULT_MAX_BRIDGES
        );
        // A command's own flags are its own.
        let o = parse(&["s", "exec", "cat", "-c", "1"]).unwrap();
        assert_eq!(
            o.target,
            Target::Exec(vec!["cat".into(), "-c".into(), "1".into()])
        );
    }

    #[test]
    fn bad_options() {
        for bad in [
            &["s"][..],
            &[],
            &["-c", "0", "s", "unix:/x"],
            &["-c", "x", "s", "unix:/x"],
            &["-z", "1", "s", "unix:/x"],
            &["s", "nowhere"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?}"));
            assert_eq!(e.code, crate::cli::EXIT_USAGE);
        }
    }
}
