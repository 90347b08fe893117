//! yd-pipe [-c MAX] [-x EXPORTS] SOCKET TARGET: a unix-socket server or
//! bridge (see yd-pipe(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use yodawg::cli::finish;
use yodawg::pipe::endpoint::Places;
use yodawg::pipe::{run, Options};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let places = Places::from_env();
    let result = Options::parse(&args, &places).and_then(|o| run(o, places.home.as_deref()));
    finish("yd-pipe", result)
}
