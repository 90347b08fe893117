//! What every program shares at its edge: exit codes, diagnostics, flags.
//!
//! Diagnostics follow the daemontools/s6 habit: `prog: fatal: what: why` on
//! stderr, one line. Exit codes follow s6: 100 for bad usage or bad input,
//! 111 for a system call that failed.

use std::fmt::Display;
use std::process::ExitCode;

/// Wrong usage, or input that can never work (a DIR without `run`...).
pub const EXIT_USAGE: u8 = 100;
/// A named service dir is not supervised (s6-svc's 102).
pub const EXIT_NOT_SUPERVISED: u8 = 102;
/// A system call failed.
pub const EXIT_SYSTEM: u8 = 111;

/// A fatal error: the one line to print, and the exit code.
#[derive(Debug)]
pub struct Fatal {
    pub code: u8,
    pub message: String,
}

impl Fatal {
    pub fn usage(message: impl Display) -> Self {
        Fatal {
            code: EXIT_USAGE,
            message: message.to_string(),
        }
    }
    pub fn system(what: impl Display, why: impl Display) -> Self {
        Fatal {
            code: EXIT_SYSTEM,
            message: format!("{what}: {why}"),
        }
    }
    pub fn with_code(code: u8, message: impl Display) -> Self {
        Fatal {
            code,
            message: message.to_string(),
        }
    }
}

/// `main` → `run` → exit code: print a fatal error as one line.
pub fn finish(prog: &str, result: Result<u8, Fatal>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("{prog}: fatal: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

pub fn warn(prog: &str, message: impl Display) {
    eprintln!("{prog}: warning: {message}");
}

/// Parse a whole decimal number, as found in a flag or a one-line file.
pub fn parse_number(what: &str, text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what}: not a number: {t:?}"));
    }
    t.parse()
        .map_err(|_| format!("{what}: number too large: {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("x", " 42\n"), Ok(42));
        assert!(parse_number("x", "-1").is_err());
        assert!(parse_number("x", "").is_err());
        assert!(parse_number("x", "99999999999999999999999").is_err());
    }
}
