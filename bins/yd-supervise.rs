//! yd-supervise DIR: supervise the service in DIR (see yd-supervise(8)).

use std::process::ExitCode;
use yodawg::cli::{finish, Fatal};

const USAGE: &str = "usage: yd-supervise DIR";

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = match args.as_slice() {
        [dir] if !dir.to_string_lossy().starts_with('-') => yodawg::supervise::run(dir.as_ref()),
        _ => Err(Fatal::usage(USAGE)),
    };
    finish("yd-supervise", result)
}
