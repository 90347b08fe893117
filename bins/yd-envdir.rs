//! yd-envdir [options] DIR... prog...: run prog with the environment the DIRs
//! define (see yd-envdir(8)).

use std::process::ExitCode;
use yodawg::cli::finish;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    // run() execs prog; it returns only with the reason it could not.
    let failure = match yodawg::envdir::parse(&args) {
        Ok(request) => yodawg::envdir::run(request),
        Err(usage) => usage,
    };
    finish("yd-envdir", Err(failure))
}
