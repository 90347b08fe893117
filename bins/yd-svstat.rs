//! yd-svstat DIR...: print one status line per service (see yd-svstat(8)).

use std::process::ExitCode;
use yodawg::cli::{finish, Fatal};
use yodawg::client::ClientError;
use yodawg::tai64n::Tai64n;

/// Exit code when a named dir is not supervised or unreadable.
const EXIT_SOME_FAILED: u8 = 1;

fn main() -> ExitCode {
    let dirs: Vec<_> = std::env::args_os().skip(1).collect();
    if dirs.is_empty() || dirs[0].to_string_lossy().starts_with('-') {
        return finish("yd-svstat", Err(Fatal::usage("usage: yd-svstat DIR...")));
    }
    let now = Tai64n::now();
    let mut code = 0;
    for dir in &dirs {
        let label = dir.to_string_lossy();
        match yodawg::svstat::line(&label, dir.as_ref(), now) {
            Ok(line) => println!("{line}"),
            Err(ClientError::NotSupervised) => {
                println!("{label}: supervisor not running");
                code = EXIT_SOME_FAILED;
            }
            Err(e) => {
                eprintln!("yd-svstat: warning: {e}");
                code = EXIT_SOME_FAILED;
            }
        }
    }
    finish("yd-svstat", Ok(code))
}
