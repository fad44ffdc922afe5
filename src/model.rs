//! Data shared by the server and the browser. None of these types carry secret values.

use crate::validate::{quoted, FieldError, ResourceName, IMAGE_MAX_LEN, MAX_AGENTS};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Form text that may hold secret values: travels as a plain string, but `Debug`
/// prints `***`, so logging a request's arguments can never reveal it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Concealed(pub String);

impl fmt::Debug for Concealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One row of the secret sets list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSummary {
    pub name: String,
    pub key_count: u32,
    /// Unix seconds of the last change to the set.
    pub updated_at: i64,
    /// Only admins may deploy it (see the README's role table).
    pub protected: bool,
}

/// One page of a list ordered by name: names after `after` that contain `q`, at most
/// `limit` of them (keyset paging: a deep page costs what the first one does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: u32,
}

/// Rows on one page of a dashboard list.
pub const PAGE_SIZE: u32 = 50;
/// Rows on one REST page when the request names no `limit`, and the most it may name.
pub const API_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Names offered by a picker (the deploy form's set, the compare page's suggestions):
/// past this many, the picker becomes a field to type the name into.
pub const PICKER_SIZE: u32 = 100;

/// The names a picker offers; `more` when the organization has more than these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picker {
    pub names: Vec<String>,
    pub more: bool,
}

impl ListQuery {
    /// The search as names are written (lowercase, trimmed). A text longer than any
    /// name ([`crate::validate::NAME_MAX_LEN`] characters, all ASCII) is
    /// [`Search::NoName`] before anything else is done with it, so the search text's
    /// length bounds no work.
    pub fn search(&self) -> Search {
        let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return Search::All;
        };
        // Bytes: a name's characters are ASCII, so a longer text is either longer than any
        // name or holds a character no name has.
        if q.len() > crate::validate::NAME_MAX_LEN {
            return Search::NoName;
        }
        let q = q.to_ascii_lowercase();
        if q.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            Search::Containing(q)
        } else {
            Search::NoName
        }
    }
}

/// What a list's search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// No search: every name.
    All,
    /// Names containing this text.
    Containing(String),
    /// Text no name can contain (names are `[a-z0-9-]` only, and at most
    /// [`crate::validate::NAME_MAX_LEN`] characters long).
    NoName,
}

/// One page of the secret sets list; `next` is the cursor of the following page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPage {
    pub sets: Vec<SetSummary>,
    pub next: Option<String>,
}

/// One page of the deployments list; `next` is the cursor of the following page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPage {
    pub deployments: Vec<DeploymentSummary>,
    pub next: Option<String>,
}

/// One page of a set's versions, newest first: `next` is the version number the
/// following (older) page starts below; `numbers` holds every kept version's number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionPage {
    pub versions: Vec<SetVersion>,
    pub next: Option<i64>,
    pub numbers: Vec<i64>,
}

/// One key of a set, as shown to users: never the value, only its fingerprint (bound
/// to this set and key; `None` where the caller may not see it: a protected set's
/// fingerprints are for admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub key: String,
    pub fingerprint: Option<String>,
    pub updated_at: i64,
}

/// A set with its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDetail {
    pub name: String,
    /// Bumped by every change to the set; a missing set is at revision 0.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub keys: Vec<KeyInfo>,
    /// Only admins may deploy it (see the README's role table).
    pub protected: bool,
}

/// One image pull secret as listed: never the password or the encoded auth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSecretSummary {
    pub name: String,
    pub registry: String,
    pub username: String,
    pub created_at: i64,
    /// The deployments that use it, by name.
    #[serde(default)]
    pub used_by: Vec<String>,
}

/// What a deployment runs: checked with [`DeploymentSpec::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    pub name: String,
    pub image: String,
    pub secret_set: Option<String>,
    pub pull_secret: Option<String>,
    pub region: String,
    pub min_agents: i64,
    pub max_agents: i64,
}

impl DeploymentSpec {
    /// Checks a deployment's fields, returning every problem at once.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(e) = ResourceName::parse_as("deployment name", &self.name) {
            errors.push(e);
        }
        let image = &self.image;
        if image.is_empty() {
            errors.push(FieldError::new("image", "the container image may not be empty"));
        } else if image.len() > IMAGE_MAX_LEN || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(FieldError::new(
                "image",
                format!(
                    "image {}: at most {IMAGE_MAX_LEN} characters, without spaces",
                    quoted(image)
                ),
            ));
        }
        if let Some(set) = &self.secret_set {
            if let Err(e) = ResourceName::parse_as("secret set", set) {
                errors.push(e);
            }
        }
        if let Some(pull) = &self.pull_secret {
            if let Err(e) = ResourceName::parse_as("image pull secret", pull) {
                errors.push(e);
            }
        }
        let region = &self.region;
        if region.is_empty()
            || region.len() > 63
            || region.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            errors.push(FieldError::new(
                "region",
                format!("region {}: 1 to 63 characters, without spaces", quoted(region)),
            ));
        }
        if self.min_agents < 0 || self.max_agents > MAX_AGENTS || self.min_agents > self.max_agents {
            errors.push(FieldError::new(
                "scaling",
                format!(
                    "scaling: need 0 ≤ min_agents ≤ max_agents ≤ {MAX_AGENTS} (got min {} and max {})",
                    self.min_agents, self.max_agents
                ),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// One deployment as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSummary {
    pub spec: DeploymentSpec,
    /// The current deploy revision (1 for the first deploy).
    pub revision: i64,
    /// The secret set changed since this revision was taken.
    pub needs_redeploy: bool,
    pub created_at: i64,
    pub deployed_at: i64,
    /// Someone who saw the runtime token has lost access (or the set became protected
    /// while a non-admin held it): rotate it.
    pub rotate_token: bool,
}

/// A deployment with the env keys of its revision and how they differ from the set now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub summary: DeploymentSummary,
    /// Keys (and fingerprints) the running revision has.
    pub env: Vec<KeyInfo>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// One version of a set as its history lists it: who, when, from where, and what
/// changed against the version before (keys only; changed means another fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetVersion {
    pub version: i64,
    pub at: i64,
    pub actor: String,
    /// Where the change came from: `ui`, `api`, `cli` or `migration`.
    pub source: String,
    /// `set`, `unset`, `restore`, `undelete` or `baseline` (history began).
    pub action: String,
    /// For restores: `restored from v3` (and which keys).
    pub detail: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// A key and its value's fingerprint: what a version or a snapshot holds (`None`:
/// hidden from the caller, as in [`KeyInfo`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPrint {
    pub key: String,
    pub fingerprint: Option<String>,
}

/// Two sides' keys compared on the server by their values' full MACs, never shown.
/// Each list is sorted.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    pub same: Vec<String>,
    pub different: Vec<String>,
}

impl Comparison {
    /// Compares `a` with `b`: pairs of a key and what decides its value's equality.
    pub fn of<'a, T: PartialEq + 'a>(
        a: impl IntoIterator<Item = (&'a str, &'a T)>,
        b: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Self {
        let in_b: std::collections::BTreeMap<&str, &T> = b.into_iter().collect();
        let a: Vec<(&str, &T)> = a.into_iter().collect();
        let in_a: std::collections::BTreeSet<&str> = a.iter().map(|(k, _)| *k).collect();
        let mut out = Self::default();
        for (key, mac) in a {
            match in_b.get(key) {
                None => out.only_in_a.push(key.to_owned()),
                Some(other) if *other == mac => out.same.push(key.to_owned()),
                Some(_) => out.different.push(key.to_owned()),
            }
        }
        out.only_in_b = in_b
            .keys()
            .filter(|k| !in_a.contains(*k))
            .map(|k| k.to_string())
            .collect();
        for list in [&mut out.only_in_a, &mut out.same, &mut out.different] {
            list.sort();
        }
        out
    }

    /// Whether both sides hold the same keys with the same values.
    pub fn equal(&self) -> bool {
        self.only_in_a.is_empty() && self.only_in_b.is_empty() && self.different.is_empty()
    }
}

/// A place where a value lives: a set now, a kept version of a set, or a kept
/// deployment revision.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// `set`, `set_version` or `deployment_revision`.
    pub kind: String,
    pub set: Option<String>,
    pub key: String,
    pub version: Option<i64>,
    pub deployment: Option<String>,
    pub revision: Option<i64>,
    /// The set is among the recently deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// What restoring (a whole version, or some keys of it) would do to a set now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePreview {
    pub set: String,
    /// The version restored from.
    pub version: i64,
    /// The set's revision the preview was made at (the restore demands it).
    pub revision: i64,
    /// Keys the restore adds back, changes back, and removes.
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Deployments that use the set: they need a redeploy to get the restored values.
    pub deployments: Vec<String>,
}

impl RestorePreview {
    pub fn changes_nothing(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// A deleted set that can still be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedSet {
    pub id: i64,
    pub name: String,
    pub deleted_at: i64,
    pub deleted_by: String,
    pub keys: i64,
    pub protected: bool,
    /// Whether a live set has taken the name since (restore it under another).
    pub name_taken: bool,
    /// When it will be purged.
    pub purge_at: i64,
}

/// One kept revision of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRevision {
    pub revision: i64,
    pub image: String,
    pub secret_set: Option<String>,
    /// The set version the environment was taken from (unknown for revisions made
    /// before history began).
    pub set_version: Option<i64>,
    pub pull_secret: Option<String>,
    pub region: String,
    pub min_agents: i64,
    pub max_agents: i64,
    pub at: i64,
    pub actor: String,
    /// The revision this one rolled back to.
    pub rollback_of: Option<i64>,
    /// Keys in its environment.
    pub keys: i64,
}

/// What a write did; `redirect` is where the page goes next and `notice` what it says
/// there (empty: nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOutcome {
    pub set: String,
    pub created: bool,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub redirect: String,
    pub notice: String,
}

/// A person's role in an organization, weakest first (so roles compare with `<`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Names, keys and fingerprints only; no changes.
    #[default]
    Viewer,
    /// Secret sets and deployments.
    Member,
    /// Also members (except owners), image pull secrets and deleting sets.
    Admin,
    /// Everything, including owners and the organization itself.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Parses a role name; the error names the allowed ones.
    pub fn parse(text: &str) -> Result<Role, crate::validate::FieldError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| crate::validate::FieldError {
                field: "role".into(),
                message: format!("role {text:?} is not one of viewer, member, admin, owner"),
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is signed in and where: the header's identity and workspace switcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    /// The organization of the page being shown.
    pub org: String,
    pub role: Role,
    pub workspaces: Vec<Workspace>,
}

/// An organization the signed-in user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub name: String,
    pub role: Role,
    /// The user's own workspace (secrets at user level), which has no other members.
    pub personal: bool,
}

/// A member of an organization, for the members page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub email: String,
    pub role: Role,
    pub joined_at: i64,
}

/// An invitation that has not been used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

/// One entry of an organization's audit log: who did what to which object, from where,
/// which keys it touched. Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// The user's email, or `runtime:DEPLOYMENT` for a runtime token.
    pub actor: String,
    /// `ui`, `api`, `cli` or `runtime`.
    pub source: String,
    /// e.g. `secrets.set`, `set.delete`, `member.role`, `login.failed`.
    pub action: String,
    /// e.g. `set:production`, `deployment:web`, `member:a@example.com`.
    pub object: String,
    pub keys: Vec<String>,
    /// A short, value-free detail, e.g. `role admin` or `revision 4`.
    pub detail: String,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub object: Option<String>,
    pub actor: Option<String>,
    /// An action, or a prefix ending in `.` (`set.` matches every set action).
    pub action: Option<String>,
    /// Only entries older than this id (paging).
    pub before: Option<i64>,
    /// Time range, Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: usize,
}

/// An API token, without the token itself (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM UTC` (no time zone database needed, and the
/// same code runs in the browser).
pub fn format_time(unix: i64) -> String {
    let mut out = String::with_capacity(20);
    write_time(&mut out, unix);
    out
}

/// Appends [`format_time`]'s text to `out`.
pub fn write_time(out: &mut String, unix: i64) {
    use std::fmt::Write;
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    );
}

/// RFC 3339 form of Unix seconds, for the REST API.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concealed_text_never_prints() {
        let c = Concealed("topsecret".into());
        assert_eq!(format!("{c:?}"), "***");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"topsecret\"");
    }

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(rfc3339(1_796_203_500), "2026-12-02T09:25:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
