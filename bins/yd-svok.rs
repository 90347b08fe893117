//! yd-svok DIR: exit 0 if a supervisor runs on DIR, 100 if not (as svok).

use std::process::ExitCode;
use yodawg::cli::{finish, Fatal, EXIT_USAGE};
use yodawg::client::{check_supervised, ClientError};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = match args.as_slice() {
        [dir] if !dir.to_string_lossy().starts_with('-') => match check_supervised(dir.as_ref()) {
            Ok(()) => Ok(0),
            Err(ClientError::NotSupervised) => Ok(EXIT_USAGE),
            Err(e) => Err(Fatal::system(dir.to_string_lossy(), e)),
        },
        _ => Err(Fatal::usage("usage: yd-svok DIR")),
    };
    finish("yd-svok", result)
}
