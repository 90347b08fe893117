//! `yd-envdir [-I|-i] [-n] [-f] [-L] [-c nullis] DIR... prog...`: run prog
//! with the environment the DIRs define, later DIRs over earlier ones.
//!
//! Options are s6-envdir's. The first argument is a DIR, as with envdir and
//! s6-envdir; each following argument that names a directory is a DIR too,
//! and the first one that does not starts prog. So layering reads as it is
//! written: `yd-envdir $HOST/config ~/config ./config ./run`.

use crate::cli::{Fatal, EXIT_SYSTEM};
use crate::config::{self, ConfigError, ReadOptions, Symlinks, Value};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

pub const USAGE: &str =
    "usage: yd-envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullis ] DIR... prog...";

/// exec failed: prog not found / found but not runnable (as s6's exec does).
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_RUN: u8 = 126;

#[derive(Debug)]
pub struct Request {
    pub opts: ReadOptions,
    /// `-I`: a missing first DIR is skipped instead of fatal.
    pub loose: bool,
    pub dirs: Vec<PathBuf>,
    pub prog: Vec<OsString>,
}

pub fn parse(args: &[OsString]) -> Result<Request, Fatal> {
    let mut opts = ReadOptions::default();
    let mut loose = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            match a[j] {
                b'I' => loose = true,
                b'i' => loose = false,
                b'n' => opts.chomp = false,
                b'f' => opts.whole_file = true,
                b'L' => opts.clamp = None,
                b'c' => {
                    // The value is the rest of this word or the next word.
                    let value: &[u8] = if j + 1 < a.len() {
                        &a[j + 1..]
                    } else {
                        i += 1;
                        args.get(i)
                            .map(|v| v.as_bytes())
                            .ok_or_else(|| Fatal::usage(USAGE))?
                    };
                    opts.nul_as = *value
                        .first()
                        .ok_or_else(|| Fatal::usage("-c needs a character"))?;
                    j = a.len();
                    continue;
                }
                other => {
                    return Err(Fatal::usage(format!(
                        "unknown option -{}; {USAGE}",
                        other as char
                    )))
                }
            }
            j += 1;
        }
        i += 1;
    }
    let rest = &args[i..];
    let Some(first) = rest.first() else {
        return Err(Fatal::usage(USAGE));
    };
    let mut dirs = vec![PathBuf::from(first)];
    let mut k = 1;
    while k < rest.len() && std::path::Path::new(&rest[k]).is_dir() {
        dirs.push(PathBuf::from(&rest[k]));
        k += 1;
    }
    let prog = rest[k..].to_vec();
    if prog.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    Ok(Request {
        opts,
        loose,
        dirs,
        prog,
    })
}

/// Apply the DIRs and exec prog; returns only on failure.
pub fn run(req: Request) -> Fatal {
    let mut cmd = Command::new(&req.prog[0]);
    cmd.args(&req.prog[1..]);
    for (n, dir) in req.dirs.iter().enumerate() {
        if n == 0 && req.loose && !dir.exists() {
            continue;
        }
        let entries = match config::read_dir(dir, req.opts, Symlinks::Follow) {
            Ok(e) => e,
            Err(ConfigError::BadKey(d, e)) => return Fatal::usage(format!("{}: {e}", d.display())),
            Err(e) => return Fatal::with_code(EXIT_SYSTEM, e),
        };
        for (key, value) in entries {
            match value {
                Value::Set(v) => cmd.env(key.as_str(), std::ffi::OsStr::from_bytes(&v)),
                Value::Unset => cmd.env_remove(key.as_str()),
            };
        }
    }
    let err = cmd.exec();
    let prog = req.prog[0].to_string_lossy();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    let hint = if code == EXIT_NOT_FOUND && req.prog.len() > 1 {
        " (DIRs are the leading arguments that are directories; this one is not, so it was taken for prog)"
    } else {
        ""
    };
    Fatal::with_code(code, format!("unable to run {prog}: {err}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_like_s6_envdir() {
        let r = parse(&args(&[
            "-Inf",
            "-L",
            "-c",
            "|",
            "/nonexistent",
            "prog",
            "-x",
        ]))
        .unwrap();
        assert!(r.loose && r.opts.whole_file && !r.opts.chomp && r.opts.clamp.is_none());
        assert_eq!(r.opts.nul_as, b'|');
        assert_eq!(r.dirs, vec![PathBuf::from("/nonexistent")]);
        assert_eq!(r.prog, args(&["prog", "-x"]));
    }

    #[test]
    fn leading_directories_are_dirs() {
        let r = parse(&args(&["/", "/tmp", "/usr", "true", "/etc"])).unwrap();
        assert_eq!(r.dirs.len(), 3);
        assert_eq!(r.prog, args(&["true", "/etc"]));
    }

    #[test]
    fn usage_errors() {
        for bad in [&[][..], &["dir"], &["-z", "dir", "p"], &["-c"]] {
            assert_eq!(
                parse(&args(bad)).unwrap_err().code,
                crate::cli::EXIT_USAGE,
                "{bad:?}"
            );
        }
    }
}
