//! The `cloakroom` command-line client. It is the same binary as the server and talks
//! to any Cloakroom server over REST API v1, so everything it does is also possible with
//! `curl`. Results go to standard output (a table or `--output json`); questions,
//! previews and the one-line error go to standard error. Everything is printed by
//! [`output`], which shows text from the server with its terminal controls escaped, and
//! every request goes to a server that [`api::Server`] accepted: https, or plain http
//! only to this machine unless `--insecure`.

pub mod api;
pub mod commands;
pub mod config;
mod output;

use crate::error::AppError;

/// Exit codes, one per kind of failure, so scripts can tell them apart.
pub mod exit {
    pub const USAGE: u8 = 1;
    pub const NOT_FOUND: u8 = 2;
    pub const CONFLICT: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const SERVER: u8 = 5;
}

/// A failed command: its exit code and the one line printed on standard error. The
/// message never holds a secret value or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    /// The exit code for an HTTP status the server answered with.
    pub fn code_for_status(status: u16) -> u8 {
        match status {
            400 | 413 | 422 => exit::USAGE,
            404 => exit::NOT_FOUND,
            409 | 412 => exit::CONFLICT,
            401 | 403 => exit::AUTH,
            _ => exit::SERVER,
        }
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Self::new(Self::code_for_status(e.status_code()), e.to_string())
    }
}

impl From<crate::validate::FieldError> for Failure {
    fn from(e: crate::validate::FieldError) -> Self {
        Self::usage(e.message)
    }
}

impl From<Vec<crate::validate::FieldError>> for Failure {
    fn from(e: Vec<crate::validate::FieldError>) -> Self {
        AppError::Validation(e.into()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_exit_codes() {
        let cases = [
            (400, 1),
            (413, 1),
            (404, 2),
            (409, 3),
            (412, 3),
            (401, 4),
            (403, 4),
            (429, 5),
            (500, 5),
            (502, 5),
        ];
        for (status, code) in cases {
            assert_eq!(Failure::code_for_status(status), code, "status {status}");
        }
        assert_eq!(Failure::from(AppError::Unauthorized).code, exit::AUTH);
    }
}
