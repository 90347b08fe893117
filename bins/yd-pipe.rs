//! yd-pipe [-c MAX] [-x EXPORTS] SOCKET TARGET: a unix-socket server or
//! bridge (see yd-pipe(8)).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use yodawg::cli::finish;
use yodawg::pipe::{run, Options};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let result = Options::parse(&args, home.as_deref()).and_then(|o| run(o, home.as_deref()));
    finish("yd-pipe", result)
}
