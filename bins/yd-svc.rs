//! yd-svc: send commands to supervised services, wait for states (see yd-svc(8)).

use std::process::ExitCode;
use yodawg::cli::{finish, warn};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = yodawg::svc::parse(&args)
        .and_then(|req| yodawg::svc::run(&req, &mut |m| warn("yd-svc", m)));
    finish("yd-svc", result)
}
