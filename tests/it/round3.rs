//! Security round 3 (issue 30): each finding's test, written to fail on the code before
//! its fix. One file per area so the suites can grow apart.

mod accounts;
mod bounded;
mod credentials;
mod oracle;
mod quotas;
mod signin;
