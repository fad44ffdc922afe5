//! Who is calling: passwords, sessions and their cookies, API tokens, and the limits
//! that keep guessing slow. Each concern is a file; this module names them all.

mod cookies;
mod limits;
mod passwords;
mod sessions;
mod tokens;

pub use cookies::*;
pub use limits::*;
pub use passwords::*;
pub use sessions::*;
pub use tokens::*;

use super::crypto::{new_token, token_hash};
use super::state::{app_state, AppState};
use crate::error::AppError;
use axum::http::{header, HeaderMap};

pub use super::principal::{Principal, Via};

pub use crate::store::sessions::{limit_refusal, LoginAttempt, ScopeCount};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn the_session_cookie_is_httponly_strict_and_secure_over_https() {
        let c = session_cookie("abc", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"));
        assert!(!session_cookie("abc", 60, false).contains("Secure"));
    }

    #[test]
    fn an_ipv6_address_is_limited_by_its_64() {
        let scope = address_scope("2001:db8:1:2::1");
        assert_eq!(scope, "2001:db8:1:2::/64");
        for same in [
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:0db8:0001:0002::abcd",
            " 2001:DB8:1:2::9 ",
            "[2001:db8:1:2::1]",
            "[2001:db8:1:2::1]:443",
        ] {
            assert_eq!(address_scope(same), scope, "{same}");
        }
        for other in ["2001:db8:1:3::1", "2001:db8:1::1", "2001:db9:1:2::1"] {
            assert_ne!(address_scope(other), scope, "{other}");
        }
    }

    #[test]
    fn an_ipv4_address_is_limited_by_itself_however_it_is_written() {
        assert_eq!(address_scope("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_scope("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_scope("192.0.2.7:5000"), "192.0.2.7");
        assert_ne!(address_scope("192.0.2.8"), "192.0.2.7");
        // Text that is no address (a test's label, a proxy's `unknown`) stays itself.
        assert_eq!(address_scope("unknown"), "unknown");
    }

    fn counts(here: i64, address: i64, account: i64) -> [ScopeCount; 3] {
        let c = |count| ScopeCount {
            count,
            oldest: (count > 0).then_some(100),
            newest: (count > 0).then_some(130),
        };
        [c(here), c(address), c(account)]
    }

    #[test]
    fn a_sign_in_waits_only_for_the_limits_of_its_own_address() {
        let refusal = |h, a, acc| sign_in_refusal(&counts(h, a, acc), 150, 60);
        assert_eq!(refusal(0, 0, 0), None);
        assert_eq!(refusal(LOGIN_FAILURES_ALLOWED - 1, 0, 0), None);
        assert_eq!(
            refusal(LOGIN_FAILURES_ALLOWED, 0, 0),
            Some(160),
            "until the oldest leaves"
        );
        assert_eq!(refusal(0, ADDRESS_FAILURES_ALLOWED, 0), Some(160));
        // However many failures the account has, a fresh address is checked...
        assert_eq!(refusal(0, 0, 10_000), None);
        // ... and an address that tried already waits until its last try leaves.
        assert_eq!(refusal(1, 1, ACCOUNT_FAILURES_BEFORE_SLOWING), Some(190));
        assert_eq!(refusal(1, 1, ACCOUNT_FAILURES_BEFORE_SLOWING - 1), None);
    }

    #[test]
    fn over_https_one_shot_cookies_are_host_only() {
        let c = message_cookie_for("cloakroom_reveal", "v.mac", "/orgs/acme/tokens", 120, true);
        assert_eq!(
            c,
            "__Host-cloakroom_reveal=v.mac; Path=/; Max-Age=120; HttpOnly; SameSite=Strict; Secure"
        );
        let c = message_cookie_for("cloakroom_reveal", "v.mac", "/orgs/acme/tokens", 120, false);
        assert!(
            c.starts_with("cloakroom_reveal=v.mac; Path=/orgs/acme/tokens;"),
            "{c}"
        );
    }

    #[test]
    fn every_cookie_of_a_name_is_seen() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=planted; b=2; a=real".parse().unwrap());
        assert_eq!(cookie_values(&h, "a").collect::<Vec<_>>(), ["planted", "real"]);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; cloakroom_session=tok; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
