//! yd-svscan [-d] [-t SECS] DIR: supervise every service dir in DIR (see yd-svscan(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use yodawg::cli::{finish, parse_number, Fatal};
use yodawg::scan::Options;

const USAGE: &str = "usage: yd-svscan [ -d ] [ -t SECS ] DIR";

fn parse(args: &[OsString]) -> Result<Options, Fatal> {
    let (mut rescan_every, mut down_by_default) = (None, false);
    let mut rest = args;
    loop {
        match rest {
            [flag, tail @ ..] if flag == "-d" => {
                down_by_default = true;
                rest = tail;
            }
            [flag, secs, tail @ ..] if flag == "-t" => {
                let s = parse_number("-t", &secs.to_string_lossy()).map_err(Fatal::usage)?;
                rescan_every = (s > 0).then(|| Duration::from_secs(s));
                rest = tail;
            }
            _ => break,
        }
    }
    match rest {
        [dir] if !dir.to_string_lossy().starts_with('-') => Ok(Options {
            dir: dir.into(),
            rescan_every,
            down_by_default,
        }),
        _ => Err(Fatal::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    finish("yd-svscan", parse(&args).and_then(yodawg::scan::run))
}
