//! Who is acting: a member of an organization with a role there, and where the request
//! came from. Every domain operation takes one; it is never read from a request's
//! arguments, only from its session or token.

use crate::error::AppError;
use crate::model::Role;
use crate::store::sessions::Acting;
use crate::store::Org;

/// Who a session or token acts for, in which organization, with which role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
    pub org: Org,
    pub role: Role,
    /// Where the request came from, for the audit log.
    pub via: Via,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// The dashboard (a session).
    #[default]
    Ui,
    /// The REST API with a token.
    Api,
    /// The `cloakroom` command line (the REST API with its user agent).
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Ui => "ui",
            Via::Api => "api",
            Via::Cli => "cli",
        }
    }
}

impl Principal {
    /// The member a session or token found, acting through `via`.
    pub fn acting(a: Acting, via: Via) -> Self {
        Self {
            user_id: a.user_id,
            email: a.email,
            org: a.org,
            role: a.role,
            via,
        }
    }

    /// Refuses (403) unless the caller's role is at least `min`; `action` completes
    /// "… needs the member role", e.g. "changing secret sets".
    pub fn require(&self, min: Role, action: &str) -> Result<(), AppError> {
        if self.role >= min {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{action} needs the {min} role or higher; you are {} in \"{}\"",
            self.role, self.org.name
        )))
    }
}
