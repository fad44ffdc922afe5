//! The storage interface. Pages, server functions and the REST API only see this
//! trait; SQLite implements it today and PostgreSQL can join without touching them.
//! Values arrive already sealed: a store never sees plaintext.

pub mod postgres;
pub mod sqlite;

use crate::error::AppError;
use crate::model::{
    AuditEntry, AuditFilter, DeploymentDetail, DeploymentSpec, DeploymentSummary, InviteInfo, MemberInfo,
    PullSecretSummary, Role, SetDetail, SetSummary, TokenInfo, Workspace,
};
use async_trait::async_trait;

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: i64,
    pub name: String,
}

/// A user row, with the password hash (argon2id PHC string).
#[derive(Clone)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserRecord({}, {})", self.id, self.email)
    }
}

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

/// A stored role name; anything unknown reads as the weakest role.
pub(crate) fn role_of(text: &str) -> Role {
    Role::parse(text).unwrap_or(Role::Viewer)
}

/// The `LIKE` pattern (escape character `\`) for an audit action filter: the action
/// itself, or every action under a prefix that ends in `.`.
pub(crate) fn audit_action_pattern(action: &str) -> String {
    let escaped = action
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if action.ends_with('.') {
        format!("{escaped}%")
    } else {
        escaped
    }
}

/// A pending invitation, as its link finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    pub org: Org,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

/// One value to write, sealed for (org, set, key).
#[derive(Clone)]
pub struct SealedEntry {
    pub key: String,
    pub sealed: Vec<u8>,
    pub fingerprint: String,
    pub value_len: usize,
}

impl std::fmt::Debug for SealedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedEntry({})", self.key)
    }
}

/// A stored image pull secret; `sealed_auth` is the sealed base64 `user:password`.
#[derive(Clone)]
pub struct PullSecretRecord {
    pub name: String,
    pub registry: String,
    pub username: String,
    pub sealed_auth: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for PullSecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PullSecretRecord({}, {}, {})",
            self.name, self.registry, self.username
        )
    }
}

/// The environment a runtime token may read: the deployment's current revision.
#[derive(Clone)]
pub struct RuntimeEnv {
    pub org_id: i64,
    pub org: String,
    pub deployment: String,
    pub revision: i64,
    /// The protected set the deployment uses, when whoever last saw its runtime token
    /// is no longer an admin or owner there: the token must be rotated before it reads
    /// anything (see [`TOKEN_LOCKED`]).
    pub locked_by: Option<String>,
    /// (key, the set it was snapshotted from, sealed value).
    pub entries: Vec<(String, String, Vec<u8>)>,
}

impl std::fmt::Debug for RuntimeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RuntimeEnv({}/{} r{}, {} keys)",
            self.org,
            self.deployment,
            self.revision,
            self.entries.len()
        )
    }
}

/// The answer to [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt is counted (as a failure until released); these are its rows.
    Counted(Vec<i64>),
    /// A scope is at its limit until this time (Unix seconds); nothing was recorded.
    Refused { until: i64 },
}

/// The decision of [`Store::reserve_login_attempt`] from each scope's attempt count in
/// the window and the time of its oldest one.
pub(crate) fn login_refusal(
    counts: &[(i64, Option<i64>)],
    now: i64,
    window: i64,
    limit: i64,
) -> Option<LoginAttempt> {
    counts
        .iter()
        .filter(|(count, _)| *count >= limit)
        .map(|(_, oldest)| oldest.unwrap_or(now) + window)
        .max()
        .map(|until| LoginAttempt::Refused { until })
}

/// An audit log entry for organization `org_id`.
#[derive(Debug, Clone)]
pub struct Audit {
    pub org_id: i64,
    pub entry: AuditEntry,
}

/// How a change makes its audit entry from its own outcome (a revision, an id). Every
/// change method writes its entry in the change's own transaction: both commit, or
/// neither does.
pub type AuditWith<T> = Box<dyn FnOnce(&T) -> Audit + Send>;

/// Either kind of audit argument: a fixed [`Audit`], or an [`AuditWith`] that is
/// made from the change's outcome.
pub trait AuditFor<T>: Send + 'static {
    fn make(self, outcome: &T) -> Audit;
}

impl<T> AuditFor<T> for Audit {
    fn make(self, _: &T) -> Audit {
        self
    }
}

impl<T: 'static> AuditFor<T> for AuditWith<T> {
    fn make(self, outcome: &T) -> Audit {
        self(outcome)
    }
}

/// A deploy (see [`Store::deploy`]).
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    pub org_id: i64,
    pub spec: &'a DeploymentSpec,
    /// Becomes the runtime token of a new deployment; ignored for an existing one.
    pub token_hash: &'a [u8],
    pub now: i64,
    /// Only the newest this many revisions are kept; older ones are removed in the
    /// same transaction.
    pub keep_revisions: i64,
    /// Who deploys (the person a new deployment's runtime token is shown to).
    pub actor: i64,
    /// Whether the deployer may point a deployment at a protected set.
    pub may_use_protected: bool,
}

/// Refusal to deploy a protected set.
pub(crate) fn protected_set(set: &str) -> AppError {
    AppError::Forbidden(format!(
        "secret set \"{set}\" is protected: only admins may change or deploy it, or change, \
         redeploy or rotate the runtime token of a deployment that uses it"
    ))
}

/// SQL (both backends) that is true for a deployment row `d` whose runtime token may not
/// read its set: the set is protected and whoever last saw the token is not (or no
/// longer) an admin or owner of the organization. A protected set is read only through
/// tokens an admin holds, whoever changes the deployment or the roles afterwards.
pub(crate) const TOKEN_LOCKED: &str = "(EXISTS (SELECT 1 FROM secret_sets ps \
     WHERE ps.org_id = d.org_id AND ps.name = d.secret_set AND ps.protected) \
     AND NOT EXISTS (SELECT 1 FROM memberships pm WHERE pm.org_id = d.org_id \
     AND pm.user_id = d.token_seen_by AND pm.role IN ('admin', 'owner')))";

/// The roles above `role`, as stored.
pub(crate) fn roles_above(role: Role) -> Vec<&'static str> {
    [Role::Viewer, Role::Member, Role::Admin, Role::Owner]
        .into_iter()
        .filter(|r| *r > role)
        .map(Role::as_str)
        .collect()
}

/// What a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutResult {
    pub created: bool,
    /// The set's revision after the write.
    pub revision: i64,
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

/// Storage for everything Cloakroom keeps. Every method that touches an organization's
/// data takes its id and never reaches outside it; every multi-row change is one
/// transaction, and a change's audit entry (its `audit` argument) is written in that
/// same transaction: a change that cannot be audited is not made.
#[async_trait]
pub trait Store: Send + Sync {
    /// Reads a server-wide setting (e.g. the master key check).
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, AppError>;
    /// Stores a server-wide setting unless one is stored under `key` already, and
    /// returns the one stored. Atomic: of two callers at once, exactly one value wins
    /// and both are told which.
    async fn init_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, AppError>;

    /// Returns the organization named `name`, creating it if missing.
    async fn ensure_org(&self, name: &str) -> Result<Org, AppError>;
    /// Creates organization `name` with `owner` as its owner; `Conflict` if the name is
    /// taken.
    async fn create_org(
        &self,
        name: &str,
        owner: i64,
        now: i64,
        audit: AuditWith<Org>,
    ) -> Result<Org, AppError>;
    /// The id of the instance's first account (its first owner), `None` while there is
    /// no account at all.
    async fn first_user_id(&self) -> Result<Option<i64>, AppError>;
    /// The organization named `name`, if it exists.
    async fn org_by_name(&self, name: &str) -> Result<Option<Org>, AppError>;
    /// Creates a user, a member of `membership`'s organization with its role when
    /// given. `Conflict` if the email exists.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        membership: Option<(i64, Role)>,
    ) -> Result<i64, AppError>;
    /// Looks a user up by email (case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, AppError>;
    /// The organization a user works in (this slice: their first membership).
    async fn home_org(&self, user_id: i64) -> Result<Option<Org>, AppError>;
    /// Whether `user_id` belongs to `org_id`.
    async fn is_member(&self, user_id: i64, org_id: i64) -> Result<bool, AppError>;
    /// Creates the user's personal workspace (named `name`, or `name-ID` if taken) and
    /// makes them its owner. Returns it.
    async fn create_personal_org(&self, user_id: i64, name: &str, now: i64) -> Result<Org, AppError>;
    /// The organization named `org` and the user's role there, if they belong to it.
    async fn membership(&self, user_id: i64, org: &str) -> Result<Option<(Org, Role)>, AppError>;
    /// Every organization the user belongs to, personal workspace first.
    async fn workspaces(&self, user_id: i64) -> Result<Vec<Workspace>, AppError>;
    /// Whether an organization is someone's personal workspace.
    async fn is_personal(&self, org_id: i64) -> Result<bool, AppError>;
    /// The organization's members, by email.
    async fn members(&self, org_id: i64) -> Result<Vec<MemberInfo>, AppError>;
    /// Changes a member's role; `NotFound` if not a member, `Conflict` if that would
    /// leave the organization without an owner. The member's pending invitations for a
    /// role above the new one are withdrawn in the same transaction.
    async fn set_member_role(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        audit: Audit,
    ) -> Result<(), AppError>;
    /// Removes a member with their API tokens, sessions and pending invitations, and
    /// flags the deployments whose runtime token they saw for rotation; the same errors
    /// as [`Store::set_member_role`].
    async fn remove_member(&self, org_id: i64, email: &str, audit: Audit) -> Result<(), AppError>;
    /// Adds an existing user to an organization; `Conflict` if already a member.
    async fn add_member(&self, org_id: i64, user_id: i64, role: Role, now: i64) -> Result<(), AppError>;
    /// Stores an invitation's hash.
    #[allow(clippy::too_many_arguments)]
    async fn create_invite(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        token_hash: &[u8],
        created_by: i64,
        now: i64,
        expires_at: i64,
        audit: Audit,
    ) -> Result<i64, AppError>;
    /// An unused, unexpired invitation.
    async fn invite(&self, token_hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError>;
    /// Marks the invitation used and makes `user_id` a member, in one transaction;
    /// `NotFound` if it is used, expired or unknown.
    async fn accept_invite(
        &self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        audit: AuditWith<InviteRecord>,
    ) -> Result<InviteRecord, AppError>;
    /// The organization's pending invitations.
    async fn invites(&self, org_id: i64, now: i64) -> Result<Vec<InviteInfo>, AppError>;
    /// Withdraws a pending invitation (its link stops working); the invited email, or
    /// `None` if there was no such pending invitation.
    async fn revoke_invite(
        &self,
        org_id: i64,
        id: i64,
        audit: AuditWith<String>,
    ) -> Result<Option<String>, AppError>;
    /// API tokens of an organization: all of them, or those of `user_id`.
    async fn api_tokens(&self, org_id: i64, user_id: Option<i64>) -> Result<Vec<TokenInfo>, AppError>;
    /// Revokes a token of the organization (of `user_id` only, when given); whether one was.
    async fn delete_api_token(
        &self,
        org_id: i64,
        id: i64,
        user_id: Option<i64>,
        audit: Audit,
    ) -> Result<bool, AppError>;

    /// Deletes an organization and everything in it (its audit log stays). Sessions
    /// whose home it was move to their user's personal workspace. `Conflict` for a
    /// personal workspace.
    async fn delete_org(&self, org_id: i64, audit: Audit) -> Result<(), AppError>;
    /// Replaces a user's password hash and ends all their sessions.
    async fn set_password(&self, user_id: i64, password_hash: &str, audit: Audit) -> Result<(), AppError>;

    /// Appends an entry to the organization's audit log (`id` is assigned).
    async fn append_audit(&self, org_id: i64, entry: &AuditEntry) -> Result<(), AppError>;
    /// Audit entries matching `filter`, newest first.
    async fn audit(&self, org_id: i64, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AppError>;

    /// Stores an API token's hash; the token acts with at most `role`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the columns of the token, and its audit entry"
    )]
    async fn create_api_token(
        &self,
        org_id: i64,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        now: i64,
        role: Role,
        audit: AuditWith<i64>,
    ) -> Result<i64, AppError>;
    /// Finds who a token acts for (with the lower of the token's role and the user's
    /// current one), and records its use.
    async fn principal_for_token(&self, token_hash: &[u8], now: i64) -> Result<Option<Principal>, AppError>;

    /// Stores a new dashboard session.
    async fn create_session(
        &self,
        id_hash: &[u8],
        user_id: i64,
        org_id: i64,
        now: i64,
        expires_at: i64,
        audit: Option<Audit>,
    ) -> Result<(), AppError>;
    /// Finds who a session acts for, if it has not expired and was last used after
    /// `idle_since`; marks it used (at most once a minute, to spare writes).
    async fn principal_for_session(
        &self,
        id_hash: &[u8],
        now: i64,
        idle_since: i64,
    ) -> Result<Option<Principal>, AppError>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), AppError>;

    /// Counts a sign-in attempt under every scope *before* its password is checked,
    /// unless some scope already has `limit` attempts in the last `window` seconds; then
    /// nothing is recorded. Atomic across connections and instances, so no more than
    /// `limit` guesses per scope and window are ever checked. Attempts older than an
    /// hour are forgotten.
    async fn reserve_login_attempt(
        &self,
        scopes: &[String],
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<LoginAttempt, AppError>;
    /// Forgets the attempts `ids` (a sign-in that succeeded is not a failure).
    async fn release_login_attempt(&self, ids: &[i64]) -> Result<(), AppError>;
    /// Forgets the failures of `scope` (after a successful sign-in).
    async fn clear_login_failures(&self, scope: &str) -> Result<(), AppError>;

    /// The organization's sets, by name.
    async fn list_sets(&self, org_id: i64) -> Result<Vec<SetSummary>, AppError>;
    /// Whether the organization's set `set` exists and is protected.
    async fn is_protected(&self, org_id: i64, set: &str) -> Result<bool, AppError>;
    /// One set with its keys (no values), or `None`.
    async fn get_set(&self, org_id: i64, set: &str) -> Result<Option<SetDetail>, AppError>;
    /// Creates an empty set; `Conflict` if it exists.
    async fn create_set(&self, org_id: i64, set: &str, now: i64, audit: Audit) -> Result<(), AppError>;
    /// Adds or replaces `entries` in `set` (creating the set if missing), all or nothing,
    /// and bumps its revision. `TooLarge` if the set would exceed its size limit;
    /// `Stale` if `expected` is given and the set is at another revision (a missing set
    /// is at revision 0). Concurrent writers to one set are serialized, so writes to
    /// different keys never lose each other.
    async fn put_secrets(
        &self,
        org_id: i64,
        set: &str,
        entries: Vec<SealedEntry>,
        now: i64,
        expected: Option<i64>,
        audit: AuditWith<PutResult>,
    ) -> Result<PutResult, AppError>;
    /// Removes one key and bumps the revision; `NotFound` if the set or the key is
    /// missing, `Stale` as for [`Store::put_secrets`].
    async fn unset_secret(
        &self,
        org_id: i64,
        set: &str,
        key: &str,
        now: i64,
        expected: Option<i64>,
        audit: AuditWith<i64>,
    ) -> Result<i64, AppError>;
    /// Removes a set and all its values; `NotFound` if missing.
    async fn delete_set(&self, org_id: i64, set: &str, audit: Audit) -> Result<(), AppError>;
    /// The organization's image pull secrets, by name.
    async fn list_pull_secrets(&self, org_id: i64) -> Result<Vec<PullSecretSummary>, AppError>;
    /// One image pull secret with its sealed credentials, or `None`.
    async fn pull_secret(&self, org_id: i64, name: &str) -> Result<Option<PullSecretRecord>, AppError>;
    /// Stores a pull secret. Pull secrets are immutable: if one of that name exists this
    /// is a `Conflict`, unless `replace`, in which case the old one is deleted and the
    /// new one created in one transaction. Returns whether one was replaced.
    async fn put_pull_secret(
        &self,
        org_id: i64,
        record: PullSecretRecord,
        replace: bool,
        audit: AuditWith<bool>,
    ) -> Result<bool, AppError>;
    /// Deletes a pull secret; `NotFound` if missing.
    async fn delete_pull_secret(&self, org_id: i64, name: &str, audit: Audit) -> Result<(), AppError>;
    /// Creates or updates a deployment and records a new revision whose env is a
    /// snapshot of its secret set, all in one transaction. A missing set or pull secret
    /// is a `Validation` error naming it, a protected set `Forbidden` unless the request
    /// may use one (nothing is written). Returns (created, revision).
    async fn deploy(
        &self,
        req: DeployRequest<'_>,
        audit: AuditWith<(bool, i64)>,
    ) -> Result<(bool, i64), AppError>;
    /// The organization's deployments, by name, each with its needs-redeploy flag.
    async fn list_deployments(&self, org_id: i64) -> Result<Vec<DeploymentSummary>, AppError>;
    /// One deployment with its revision's env keys and the difference to its set now.
    async fn get_deployment(&self, org_id: i64, name: &str) -> Result<Option<DeploymentDetail>, AppError>;
    /// Deletes a deployment and all its revisions; `NotFound` if missing.
    async fn delete_deployment(&self, org_id: i64, name: &str, audit: Audit) -> Result<(), AppError>;
    /// Replaces a deployment's runtime token, now seen by `actor`, and clears its
    /// rotation flag; `NotFound` if missing, `Forbidden` if it uses a protected set and
    /// `may_use_protected` is false.
    async fn rotate_runtime_token(
        &self,
        org_id: i64,
        name: &str,
        token_hash: &[u8],
        actor: i64,
        may_use_protected: bool,
        audit: Audit,
    ) -> Result<(), AppError>;
    /// Marks a set protected or not; protecting it flags for rotation the deployments
    /// using it whose runtime token was seen by someone below admin. `NotFound` if missing.
    async fn set_protected(
        &self,
        org_id: i64,
        set: &str,
        protected: bool,
        audit: Audit,
    ) -> Result<(), AppError>;
    /// What the holder of a runtime token may read, or `None` for an unknown token.
    async fn runtime_env(&self, token_hash: &[u8]) -> Result<Option<RuntimeEnv>, AppError>;
    /// A stored sealed value, for decryption where an issue allows a value to leave.
    async fn sealed_value(&self, org_id: i64, set: &str, key: &str) -> Result<Option<Vec<u8>>, AppError>;
}

pub(crate) fn stale(set: &str, expected: i64, actual: i64) -> AppError {
    AppError::Stale(format!(
        "secret set \"{set}\" changed since you loaded it (revision {expected}, now {actual}); \
         reload it and try again"
    ))
}

pub(crate) fn pull_secret_not_found(name: &str) -> AppError {
    AppError::NotFound(format!("image pull secret \"{name}\" not found"))
}

pub(crate) fn pull_secret_exists(name: &str) -> AppError {
    AppError::Conflict(format!(
        "image pull secret \"{name}\" already exists, and pull secrets cannot be changed: \
         delete it and create it again (the dashboard's Replace does both in one step)"
    ))
}

pub(crate) fn missing_reference(what: &str, name: &str) -> crate::validate::FieldError {
    crate::validate::FieldError {
        field: what.to_owned(),
        message: format!("{what} \"{name}\" does not exist; create it first"),
    }
}

pub(crate) fn deployment_not_found(name: &str) -> AppError {
    AppError::NotFound(format!("deployment \"{name}\" not found"))
}

/// Refusal to delete something deployments still use.
pub(crate) fn in_use(what: &str, users: &[String]) -> AppError {
    AppError::Conflict(format!(
        "{what} is used by deployment{} {}; change or delete {} first",
        if users.len() == 1 { "" } else { "s" },
        users.join(", "),
        if users.len() == 1 { "it" } else { "them" }
    ))
}

/// Differences between the keys of a deployment's revision and of its set now.
pub(crate) fn env_diff(
    env: &[crate::model::KeyInfo],
    now: &[crate::model::KeyInfo],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = now
        .iter()
        .filter(|k| !env.iter().any(|e| e.key == k.key))
        .map(|k| k.key.clone())
        .collect();
    let removed = env
        .iter()
        .filter(|e| !now.iter().any(|k| k.key == e.key))
        .map(|e| e.key.clone())
        .collect();
    let changed = env
        .iter()
        .filter(|e| {
            now.iter()
                .any(|k| k.key == e.key && k.fingerprint != e.fingerprint)
        })
        .map(|e| e.key.clone())
        .collect();
    (added, removed, changed)
}

pub(crate) fn org_exists(name: &str) -> AppError {
    AppError::Conflict(format!(
        "an organization named \"{name}\" already exists; choose another name"
    ))
}

pub(crate) fn set_not_found(set: &str) -> AppError {
    AppError::NotFound(format!("secret set \"{set}\" not found"))
}

/// Opens the store named by a database URL: `sqlite://PATH` or `postgres://…`.
pub async fn open(database_url: &str) -> Result<std::sync::Arc<dyn Store>, String> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let store = sqlite::SqliteStore::open(std::path::Path::new(path))?;
        Ok(std::sync::Arc::new(store))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::PgStore::open(database_url).await?))
    } else {
        Err(
            "DATABASE_URL must start with sqlite:// (e.g. sqlite://./data/cloakroom.db) \
             or postgres:// (e.g. postgres://cloakroom@db.internal/cloakroom)"
                .into(),
        )
    }
}
