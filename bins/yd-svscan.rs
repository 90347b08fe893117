//! yd-svscan [-t SECS] DIR: supervise every service dir in DIR (see yd-svscan(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use yodawg::cli::{finish, parse_number, Fatal};
use yodawg::scan::Options;

const USAGE: &str = "usage: yd-svscan [ -t SECS ] DIR";

fn parse(args: &[OsString]) -> Result<Options, Fatal> {
    let (rescan_every, rest) = match args {
        [flag, secs, rest @ ..] if flag == "-t" => {
            let s = parse_number("-t", &secs.to_string_lossy()).map_err(Fatal::usage)?;
            ((s > 0).then(|| Duration::from_secs(s)), rest)
        }
        _ => (None, args),
    };
    match rest {
        [dir] if !dir.to_string_lossy().starts_with('-') => Ok(Options { dir: dir.into(), rescan_every }),
        _ => Err(Fatal::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    finish("yd-svscan", parse(&args).and_then(yodawg::scan::run))
}
