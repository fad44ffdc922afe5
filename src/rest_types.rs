//! The REST API's bodies: what the server sends and reads, and what the `cloakroom`
//! command line reads and sends, as one set of serde types. Times are RFC 3339 text;
//! errors are `{"error", "details"}` ([`crate::error::AppError`]). Types that carry a
//! secret (a value, a token, an invitation link) print only their shape in `Debug`.

use crate::model::{
    rfc3339, AuditEntry, Concealed, DeletedSet, DeploymentRevision, DeploymentSummary, InviteInfo, KeyInfo,
    KeyPrint, MemberInfo, PullSecretSummary, Role, SetDetail, SetSummary, SetVersion, TokenInfo,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every refusal: the message, and for invalid input each problem.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub details: Vec<String>,
}

/// `GET /api/v1/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    pub email: String,
    pub org: String,
    pub role: Role,
}

/// `POST /api/v1/orgs` (`{"name"}`), and its answer with the caller's role there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrgCreated {
    pub name: String,
    pub role: Role,
}

/// One set in `GET …/secrets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetItem {
    pub name: String,
    pub key_count: u32,
    pub updated_at: String,
    pub protected: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetList {
    pub sets: Vec<SetItem>,
    /// The `after` of the next page, or `null` on the last one.
    #[serde(default)]
    pub next: Option<String>,
}

/// A key of a set or of a deployment's revision: never its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyItem {
    pub key: String,
    /// Bound to this set and key; `null` where the caller may not see it (a protected
    /// set's fingerprints are for admins).
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `GET …/secrets/{set}` (and the body of `PATCH`); `PUT` adds [`SetWritten`]'s fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetBody {
    pub name: String,
    pub revision: i64,
    pub protected: bool,
    pub updated_at: String,
    pub keys: Vec<KeyItem>,
}

/// `PUT …/secrets/{set}`: the set after the write, and what the write did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetWritten {
    #[serde(flatten)]
    pub set: SetBody,
    pub created: bool,
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

/// `PUT …/secrets/{set}` as JSON: `{"secrets":[{"key","value"}]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutSecrets {
    #[cfg_attr(feature = "ssr", schema(min_items = 1))]
    pub secrets: Vec<PutSecret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub key: String,
    #[cfg_attr(feature = "ssr", schema(value_type = String, max_length = 65536))]
    pub value: Concealed,
}

/// `PATCH …/secrets/{set}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatchSet {
    pub protected: bool,
}

/// One image pull secret (never its credentials).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PullSecretItem {
    pub name: String,
    pub used_by: Vec<String>,
    pub registry: String,
    pub username: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PullSecretList {
    pub image_pull_secrets: Vec<PullSecretItem>,
}

/// `POST …/image-pull-secrets`: `username` and `password`, or `auth` (an already
/// base64-encoded `username:password`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPullSecret {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: String,
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^(https?://)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,3}(:[1-9][0-9]{0,3})?(/[a-z0-9._-]{1,30}){0,3}$"
        )
    )]
    pub registry: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[^:\s\x00-\x1f\x7f-\x9f]{1,255}$"))]
    pub username: String,
    #[serde(default, skip_serializing_if = "concealed_is_empty")]
    #[cfg_attr(feature = "ssr", schema(value_type = String, pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,4096}$"))]
    pub password: Concealed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, pattern = r"^([A-Za-z0-9+/]{4}){0,100}([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"))]
    pub auth: Option<Concealed>,
}

/// A whole number, as JSON may spell it: `3` or `3.0` (JSON Schema's `integer` is
/// either); `3.5` or one past `i64` is refused.
fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("a whole number too large"))
        }
        #[allow(clippy::cast_possible_truncation, reason = "checked whole and in range first")]
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::custom("a whole number, not a fraction"))
            }
        }
    }
    d.deserialize_any(Whole)
}

/// [`whole`], or nothing (`null` or absent).
fn maybe_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "whole")] i64);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}

fn concealed_is_empty(c: &Concealed) -> bool {
    c.0.is_empty()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Scaling {
    pub min_agents: i64,
    pub max_agents: i64,
}

/// One deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeploymentItem {
    pub name: String,
    pub image: String,
    pub secret_set: Option<String>,
    pub image_credentials: Option<String>,
    pub region: String,
    pub scaling: Scaling,
    pub revision: i64,
    /// `up to date` or `needs redeploy`.
    pub status: String,
    pub needs_redeploy: bool,
    pub rotate_token: bool,
    pub created_at: String,
    pub deployed_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentItem>,
    /// The `after` of the next page, or `null` on the last one.
    #[serde(default)]
    pub next: Option<String>,
}

/// Keys of a deployment's set added, removed or changed since its revision was taken.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SinceRevision {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// `GET …/deployments/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeploymentBody {
    #[serde(flatten)]
    pub deployment: DeploymentItem,
    pub env: Vec<KeyItem>,
    pub since_revision: SinceRevision,
}

/// `PUT …/deployments/{name}`: the fields (each overriding the file's) and optionally
/// `pcc_deploy_toml`, the file's text. The fields are [`DeployFields`]'s, spelled out
/// here because an unknown field must be refused (serde cannot refuse one beside
/// `flatten`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutDeployment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = r#"^image = "[a-z0-9][a-z0-9./:_-]{0,99}"\n$"#)
    )]
    pub pcc_deploy_toml: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[^\s\x00-\x1f\x7f-\x9f]{1,255}$"))]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub secret_set: Option<String>,
    /// The image pull secret (also accepted as `pull_secret`).
    #[serde(default, alias = "pull_secret", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub image_credentials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[^\s\x00-\x1f\x7f-\x9f]{1,63}$"))]
    pub region: Option<String>,
    #[serde(
        default,
        deserialize_with = "maybe_whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub min_agents: Option<i64>,
    #[serde(
        default,
        deserialize_with = "maybe_whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 1000))]
    pub max_agents: Option<i64>,
}

impl PutDeployment {
    /// A request of the file's text (if any) and the fields overriding it.
    pub fn new(pcc_deploy_toml: Option<String>, fields: DeployFields) -> Self {
        Self {
            pcc_deploy_toml,
            image: fields.image,
            secret_set: fields.secret_set,
            image_credentials: fields.image_credentials,
            region: fields.region,
            min_agents: fields.min_agents,
            max_agents: fields.max_agents,
        }
    }

    /// The fields given, as the deployment file's merge takes them.
    pub fn fields(&self) -> DeployFields {
        DeployFields {
            image: self.image.clone(),
            secret_set: self.secret_set.clone(),
            image_credentials: self.image_credentials.clone(),
            region: self.region.clone(),
            min_agents: self.min_agents,
            max_agents: self.max_agents,
        }
    }
}

pub use crate::deploy_spec::DeployFields;

/// The answer to `PUT …/deployments/{name}`; `runtime_token` only when it was created
/// (shown once).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Deployed {
    #[serde(flatten)]
    pub deployment: DeploymentItem,
    pub created: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_token: Option<String>,
}

/// `POST …/deployments/{name}/redeploy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Redeployed {
    pub name: String,
    pub revision: i64,
}

/// `POST …/deployments/{name}/runtime-token`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RuntimeToken {
    pub name: String,
    pub runtime_token: String,
}

/// `GET /api/v1/runtime/env`: the one body that carries secret values.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RuntimeEnv {
    pub revision: i64,
    pub env: BTreeMap<String, String>,
}

/// One API token (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenItem {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenItem>,
}

/// `POST …/tokens` (`{"name"}`) and its answer, with the token (shown once).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberItem {
    pub email: String,
    pub role: Role,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberList {
    pub members: Vec<MemberItem>,
}

/// `PATCH …/members/{email}` (`{"role"}`) and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[cfg_attr(feature = "ssr", schema(value_type = Role))]
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleChanged {
    pub email: String,
    pub role: Role,
}

/// `POST …/invites` (`{"email","role"}`) and its answer with the link (shown once).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^[^\s@\x00-\x1f\x7f-\x9f]{1,64}@[^\s@.\x00-\x1f\x7f-\x9f]{1,63}(\.[^\s@.\x00-\x1f\x7f-\x9f]{1,63}){1,4}$"
        )
    )]
    pub email: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Role))]
    pub role: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InviteCreated {
    pub email: String,
    pub role: Role,
    pub expires_at: String,
    pub invite_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InviteItem {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InviteList {
    pub invites: Vec<InviteItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditItem {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub object: String,
    pub keys: Vec<String>,
    pub detail: String,
}

/// `GET …/audit`: a page of entries, newest first; `next_before` asks for the next one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditItem>,
    pub next_before: Option<i64>,
}

macro_rules! secret_debug {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($name)
            }
        }
    )*};
}

secret_debug! {
    Deployed => "Deployed(…)",
    RuntimeToken => "RuntimeToken(…)",
    RuntimeEnv => "RuntimeEnv(…)",
    TokenCreated => "TokenCreated(…)",
    InviteCreated => "InviteCreated(…)",
}

impl From<&SetSummary> for SetItem {
    fn from(s: &SetSummary) -> Self {
        Self {
            name: s.name.clone(),
            key_count: s.key_count,
            updated_at: rfc3339(s.updated_at),
            protected: s.protected,
        }
    }
}

impl KeyItem {
    /// A key; with the time it last changed, or (a deployment's revision) without.
    pub fn new(k: &KeyInfo, with_time: bool) -> Self {
        Self {
            key: k.key.clone(),
            fingerprint: k.fingerprint.clone(),
            updated_at: with_time.then(|| rfc3339(k.updated_at)),
        }
    }
}

/// One version in `GET …/secret-versions/{set}`: what it changed, never a value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionItem {
    pub version: i64,
    pub actor: String,
    pub source: String,
    pub at: String,
    pub action: String,
    #[serde(default)]
    pub detail: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionList {
    pub versions: Vec<VersionItem>,
    /// The `after` of the next (older) page, or `null` on the last one.
    #[serde(default)]
    pub next: Option<i64>,
}

/// `GET …/secret-versions/{set}/{n}`: the keys of one version with their fingerprints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionKeys {
    pub version: i64,
    pub keys: Vec<KeyItem>,
}

/// `PUT …/secrets/{set}` as `text/plain`: `KEY=value` lines (in a document: a plain
/// subset of the grammar docs/dotenv.md describes).
#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^([A-Z_][A-Z0-9_]{0,63}=[A-Za-z0-9_./:@+-]{0,100}\n){1,20}$")]
#[allow(dead_code, reason = "only names a schema")]
pub struct EnvText(String);

/// A key of a set (in a document: the key rule as a pattern).
#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
#[allow(dead_code, reason = "only names a schema")]
pub struct KeyName(String);

/// `POST …/secret-restores`: restore a whole version of a set, or only `keys` of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub set: String,
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    #[serde(deserialize_with = "whole")]
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(inline, value_type = Option<Vec<KeyName>>))]
    pub keys: Option<Vec<String>>,
}

/// The answer to `POST …/secret-restores`: the set as `GET` shows it after the restore,
/// and what the restore changed (nothing when the set held those values already).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RestoreDone {
    #[serde(flatten)]
    pub set: SetBody,
    pub restored_from: i64,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// The answer to `POST …/secret-restores?dry_run=true`: what the restore would change,
/// at which revision of the set, and the deployments that would need a redeploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RestorePlan {
    pub set: String,
    pub version: i64,
    pub revision: i64,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub deployments: Vec<String>,
}

/// One set in `GET …/deleted-secrets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeletedItem {
    pub id: i64,
    pub name: String,
    pub deleted_at: String,
    pub deleted_by: String,
    pub keys: i64,
    pub protected: bool,
    /// A live set has the name now: restore this one under another (`{"name"}`).
    pub name_taken: bool,
    pub purge_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeletedList {
    pub deleted: Vec<DeletedItem>,
}

/// `POST …/deleted-secrets/{id}/restore`: optionally under a new name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Undelete {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: Option<String>,
}

/// One revision in `GET …/deployments/{name}/revisions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevisionItem {
    pub revision: i64,
    pub current: bool,
    pub image: String,
    pub secret_set: Option<String>,
    pub set_version: Option<i64>,
    pub image_credentials: Option<String>,
    pub region: String,
    pub scaling: Scaling,
    pub at: String,
    pub actor: String,
    pub rollback_of: Option<i64>,
    pub keys: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevisionList {
    pub name: String,
    pub revision: i64,
    pub revisions: Vec<RevisionItem>,
}

/// `POST …/deployments/{name}/rollback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    #[serde(deserialize_with = "whole")]
    pub revision: i64,
}

/// The answer to a rollback: the new revision and the one it serves again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RolledBack {
    pub name: String,
    pub revision: i64,
    pub rolled_back_to: i64,
}

/// `POST …/secrets-compare`: pairs held by the caller, compared with set `a`'s values on
/// the server (nothing is stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompareValues {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub a: String,
    #[cfg_attr(feature = "ssr", schema(min_items = 1))]
    pub secrets: Vec<PutSecret>,
}

/// The answer: per key only a verdict. `missing`: in the set, not given; `extra`: given,
/// not in the set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ValuesCompared {
    pub set: String,
    pub same: Vec<String>,
    pub different: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
}

/// `POST …/secret-checks`: is `value` the value of `key` in `set`?
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckValue {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub set: String,
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub key: String,
    #[cfg_attr(feature = "ssr", schema(value_type = String, max_length = 65536))]
    pub value: Concealed,
}

/// `POST …/secrets-find`: where does this value live?
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FindValue {
    #[cfg_attr(feature = "ssr", schema(value_type = String, max_length = 65536))]
    pub value: Concealed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Found {
    /// The first places found (at most 1,000).
    pub places: Vec<crate::model::Place>,
    /// How many places hold the value in all.
    #[serde(default)]
    pub total: usize,
}

/// `POST …/secret-versions-prune`: each set keeps its newest `keep` versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Prune {
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    #[serde(deserialize_with = "whole")]
    pub keep: i64,
}

/// The answer: how many versions went.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Pruned {
    pub pruned: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Checked {
    #[serde(rename = "match")]
    pub matches: bool,
}

impl From<&SetVersion> for VersionItem {
    fn from(v: &SetVersion) -> Self {
        Self {
            version: v.version,
            actor: v.actor.clone(),
            source: v.source.clone(),
            at: rfc3339(v.at),
            action: v.action.clone(),
            detail: v.detail.clone(),
            added: v.added.clone(),
            changed: v.changed.clone(),
            removed: v.removed.clone(),
        }
    }
}

impl From<&KeyPrint> for KeyItem {
    fn from(k: &KeyPrint) -> Self {
        Self {
            key: k.key.clone(),
            fingerprint: k.fingerprint.clone(),
            updated_at: None,
        }
    }
}

impl From<&DeletedSet> for DeletedItem {
    fn from(d: &DeletedSet) -> Self {
        Self {
            id: d.id,
            name: d.name.clone(),
            deleted_at: rfc3339(d.deleted_at),
            deleted_by: d.deleted_by.clone(),
            keys: d.keys,
            protected: d.protected,
            name_taken: d.name_taken,
            purge_at: rfc3339(d.purge_at),
        }
    }
}

impl RevisionItem {
    pub fn new(r: &DeploymentRevision, current: i64) -> Self {
        Self {
            revision: r.revision,
            current: r.revision == current,
            image: r.image.clone(),
            secret_set: r.secret_set.clone(),
            set_version: r.set_version,
            image_credentials: r.pull_secret.clone(),
            region: r.region.clone(),
            scaling: Scaling {
                min_agents: r.min_agents,
                max_agents: r.max_agents,
            },
            at: rfc3339(r.at),
            actor: r.actor.clone(),
            rollback_of: r.rollback_of,
            keys: r.keys,
        }
    }
}

impl From<&SetDetail> for SetBody {
    fn from(set: &SetDetail) -> Self {
        Self {
            name: set.name.clone(),
            revision: set.revision,
            protected: set.protected,
            updated_at: rfc3339(set.updated_at),
            keys: set.keys.iter().map(|k| KeyItem::new(k, true)).collect(),
        }
    }
}

impl From<&PullSecretSummary> for PullSecretItem {
    fn from(p: &PullSecretSummary) -> Self {
        Self {
            name: p.name.clone(),
            used_by: p.used_by.clone(),
            registry: p.registry.clone(),
            username: p.username.clone(),
            created_at: rfc3339(p.created_at),
        }
    }
}

impl From<&DeploymentSummary> for DeploymentItem {
    fn from(d: &DeploymentSummary) -> Self {
        Self {
            name: d.spec.name.clone(),
            image: d.spec.image.clone(),
            secret_set: d.spec.secret_set.clone(),
            image_credentials: d.spec.pull_secret.clone(),
            region: d.spec.region.clone(),
            scaling: Scaling {
                min_agents: d.spec.min_agents,
                max_agents: d.spec.max_agents,
            },
            revision: d.revision,
            status: if d.needs_redeploy {
                "needs redeploy"
            } else {
                "up to date"
            }
            .into(),
            needs_redeploy: d.needs_redeploy,
            rotate_token: d.rotate_token,
            created_at: rfc3339(d.created_at),
            deployed_at: rfc3339(d.deployed_at),
        }
    }
}

impl From<&TokenInfo> for TokenItem {
    fn from(t: &TokenInfo) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            owner: t.owner.clone(),
            role: t.role,
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
        }
    }
}

impl From<&MemberInfo> for MemberItem {
    fn from(m: &MemberInfo) -> Self {
        Self {
            email: m.email.clone(),
            role: m.role,
            joined_at: rfc3339(m.joined_at),
        }
    }
}

impl From<&InviteInfo> for InviteItem {
    fn from(i: &InviteInfo) -> Self {
        Self {
            id: i.id,
            email: i.email.clone(),
            role: i.role,
            expires_at: rfc3339(i.expires_at),
        }
    }
}

impl From<&AuditEntry> for AuditItem {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id,
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            source: e.source.clone(),
            action: e.action.clone(),
            object: e.object.clone(),
            keys: e.keys.clone(),
            detail: e.detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_secrets_never_print_them() {
        let env = RuntimeEnv {
            revision: 1,
            env: BTreeMap::from([("K".to_owned(), "hunter2".to_owned())]),
        };
        let put = PutSecrets {
            secrets: vec![PutSecret {
                key: "K".into(),
                value: Concealed("hunter2".into()),
            }],
        };
        for text in [format!("{env:?}"), format!("{put:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(serde_json::to_string(&put).unwrap().contains("hunter2"));
    }
}
