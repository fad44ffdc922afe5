//! Know without revealing: compare two sides of an organization (a set, a version of
//! one, a deployment's running revision) key by key through fingerprints; compare
//! pairs a caller holds with a set's stored values, in constant time, on the server;
//! check one value. Only keys and verdicts ever leave.

use super::crypto::SecretValue;
use super::principal::Principal;
use super::state::AppState;
use crate::error::{set_not_found, version_not_kept, AppError};
use crate::model::{Comparison, Role};
use crate::store::history::KeyMac;
use crate::validate::{FieldError, Pair, ResourceName};
use subtle::ConstantTimeEq;

pub use super::auth::ORACLE_LOOKUPS_PER_MINUTE;

/// The keys of one version of the set (`None`: the set now) with their values' MACs,
/// and whether the set is protected.
pub(crate) async fn side_macs(
    state: &AppState,
    who: &Principal,
    set: &str,
    version: Option<i64>,
) -> Result<(Vec<KeyMac>, bool), AppError> {
    let now = super::secrets::stored(state, who, set).await?;
    let Some(version) = version else {
        let keys = now
            .keys
            .into_iter()
            .map(|k| KeyMac {
                key: k.key,
                mac: k.mac,
            })
            .collect();
        return Ok((keys, now.protected));
    };
    let keys = state
        .store
        .set_version_keys(who.org.id, set, version)
        .await?
        .ok_or_else(|| set_not_found(set))?
        .ok_or_else(|| version_not_kept(set, version))?;
    Ok((keys, now.protected))
}

/// One side of a comparison, as written in `?a=` and `?b=`: `SET`, `SET@VERSION` or
/// `deployment:NAME` (its running revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Set(String),
    Version(String, i64),
    Deployment(String),
}

impl Side {
    pub fn parse(field: &str, text: &str) -> Result<Self, AppError> {
        let text = text.trim();
        let bad = |message: String| {
            AppError::validation(FieldError {
                field: field.to_owned(),
                message,
            })
        };
        if let Some(name) = text.strip_prefix("deployment:") {
            let name = ResourceName::parse_as("deployment name", name).map_err(AppError::validation)?;
            return Ok(Self::Deployment(name.to_string()));
        }
        if let Some((set, version)) = text.split_once('@') {
            let set = ResourceName::parse(set).map_err(AppError::validation)?;
            let version = version.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                bad(format!(
                    "{field}: the version after @ must be a whole number from 1, as in prod@3"
                ))
            })?;
            return Ok(Self::Version(set.to_string(), version));
        }
        if text.is_empty() {
            return Err(bad(format!(
                "{field}: name a secret set (prod), a version of one (prod@3) or a deployment (deployment:web)"
            )));
        }
        Ok(Self::Set(
            ResourceName::parse(text)
                .map_err(AppError::validation)?
                .to_string(),
        ))
    }

    /// How pages and messages name it.
    pub fn label(&self) -> String {
        match self {
            Self::Set(s) => s.clone(),
            Self::Version(s, v) => format!("{s} version {v}"),
            Self::Deployment(d) => format!("deployment {d}"),
        }
    }
}

/// One side as the server compares it: its keys with their values' MACs, the set
/// they belong to (a deployment's: the set its running revision was taken from), and
/// whether that set is protected.
struct Held {
    keys: Vec<KeyMac>,
    set: Option<String>,
    protected: bool,
}

async fn held(state: &AppState, who: &Principal, side: &Side) -> Result<Held, AppError> {
    let (set, version) = match side {
        Side::Set(set) => (set, None),
        Side::Version(set, v) => (set, Some(*v)),
        Side::Deployment(name) => {
            let d = super::deployments::stored(state, who, name).await?;
            return Ok(Held {
                keys: d
                    .env
                    .into_iter()
                    .map(|k| KeyMac {
                        key: k.key,
                        mac: k.mac,
                    })
                    .collect(),
                set: d.env_set,
                protected: d.protected,
            });
        }
    };
    let (keys, protected) = side_macs(state, who, set, version).await?;
    Ok(Held {
        keys,
        set: Some(set.clone()),
        protected,
    })
}

/// Two sides compared by their values' full MACs. A protected side needs an admin. A
/// comparison the caller could not make by reading (the values of both sides, or the
/// fingerprints of one set's versions) counts as a value lookup: otherwise a guess
/// written into one set and compared with another would test it for free.
pub async fn compare(state: &AppState, who: &Principal, a: &Side, b: &Side) -> Result<Comparison, AppError> {
    let left = held(state, who, a).await?;
    let right = held(state, who, b).await?;
    if left.protected || right.protected {
        who.require(Role::Admin, "comparing with a protected set")?;
    }
    let one_set = left.set.is_some() && left.set == right.set;
    let readable =
        super::secrets::may_read(who, left.protected) && super::secrets::may_read(who, right.protected);
    if !one_set && !readable {
        super::auth::count_oracle_lookup(state, who).await?;
    }
    Ok(Comparison::of(
        left.keys.iter().map(|k| (k.key.as_str(), &k.mac)),
        right.keys.iter().map(|k| (k.key.as_str(), &k.mac)),
    ))
}

/// Pairs a caller holds compared with a set's stored values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueComparison {
    /// In both, equal values.
    pub same: Vec<String>,
    /// In both, different values.
    pub different: Vec<String>,
    /// In the set, not among the pairs.
    pub missing: Vec<String>,
    /// Among the pairs, not in the set.
    pub extra: Vec<String>,
}

impl ValueComparison {
    pub fn equal(&self) -> bool {
        self.different.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Who may ask whether a value is right: whoever may change the set (a protected
/// set's values are for admins), at most [`ORACLE_LOOKUPS_PER_MINUTE`] times a minute.
async fn may_ask(state: &AppState, who: &Principal, set: &str) -> Result<(), AppError> {
    who.require(Role::Member, "comparing values")?;
    if super::secrets::stored(state, who, set).await?.protected {
        who.require(Role::Admin, "comparing the values of a protected set")?;
    }
    super::auth::count_oracle_lookup(state, who).await
}

/// Compares `pairs` with set `set`'s stored values, in constant time per value, on the
/// server; stores nothing; audits the keys compared (never a value).
pub async fn compare_values(
    state: &AppState,
    who: &Principal,
    set: &str,
    pairs: Vec<Pair>,
) -> Result<ValueComparison, AppError> {
    may_ask(state, who, set).await?;
    let stored = state
        .store
        .sealed_values(who.org.id, set)
        .await?
        .ok_or_else(|| super::secrets::set_not_found(set))?;
    let mut given: std::collections::BTreeMap<String, SecretValue> = pairs
        .into_iter()
        .map(|p| (p.key.into_string(), SecretValue::new(p.value)))
        .collect();
    let mut out = ValueComparison::default();
    for (key, sealed) in &stored {
        let Some(value) = given.remove(key) else {
            out.missing.push(key.clone());
            continue;
        };
        let kept = state.crypto.open(who.org.id, set, key, sealed)?;
        if equal(&kept, &value) {
            out.same.push(key.clone());
        } else {
            out.different.push(key.clone());
        }
    }
    out.extra = given.into_keys().collect();
    let keys: Vec<String> = out
        .same
        .iter()
        .chain(&out.different)
        .chain(&out.extra)
        .cloned()
        .collect();
    let detail = format!(
        "{} same, {} different, {} missing, {} extra",
        out.same.len(),
        out.different.len(),
        out.missing.len(),
        out.extra.len()
    );
    super::audit::record(
        state,
        who,
        "secrets.compare",
        &format!("set:{set}"),
        &keys,
        &detail,
    )
    .await?;
    Ok(out)
}

/// Whether `value` is the value of `key` in `set` (compared in constant time); audited
/// without the value.
pub async fn check(
    state: &AppState,
    who: &Principal,
    set: &str,
    key: &str,
    value: String,
) -> Result<bool, AppError> {
    let key = crate::validate::SecretKey::parse(key).map_err(AppError::validation)?;
    // No set holds a longer value: refused as invalid rather than answered "no".
    crate::validate::check_value(key.as_str(), &value).map_err(AppError::validation)?;
    may_ask(state, who, set).await?;
    let value = SecretValue::new(value);
    let sealed = state
        .store
        .sealed_value(who.org.id, set, key.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("key \"{key}\" not found in set \"{set}\"")))?;
    let kept = state.crypto.open(who.org.id, set, key.as_str(), &sealed)?;
    let same = equal(&kept, &value);
    let detail = if same { "same" } else { "different" };
    super::audit::record(
        state,
        who,
        "secrets.check",
        &format!("set:{set}"),
        &[key.to_string()],
        detail,
    )
    .await?;
    Ok(same)
}

/// Byte equality that takes the same time wherever two values of one length differ.
fn equal(a: &SecretValue, b: &SecretValue) -> bool {
    a.expose().as_bytes().ct_eq(b.expose().as_bytes()).into()
}

/// Places [`find`] lists at most; it counts them all.
pub const FIND_MAX_PLACES: usize = 1000;

/// Every place in the organization holding exactly `value` (incident response: where
/// did a leaked value go?), decided by the value's full MAC through the MAC indexes:
/// the first [`FIND_MAX_PLACES`] of them, and how many there are in all. Admins only,
/// audited without the value, and counted against the caller's value lookups.
pub async fn find(
    state: &AppState,
    who: &Principal,
    value: String,
) -> Result<(Vec<crate::model::Place>, usize), AppError> {
    who.require(Role::Admin, "finding where a value is used")?;
    // No set holds a longer value: refused as invalid rather than searched for.
    if value.len() > crate::validate::VALUE_MAX_BYTES {
        return Err(AppError::validation(crate::validate::FieldError::new(
            "value",
            format!(
                "a value may be at most {} bytes (this one has {})",
                crate::validate::VALUE_MAX_BYTES,
                value.len()
            ),
        )));
    }
    super::auth::count_oracle_lookup(state, who).await?;
    let mac = state.crypto.value_mac(who.org.id, &SecretValue::new(value));
    let (places, total) = state.store.places_with(who.org.id, &mac, FIND_MAX_PLACES).await?;
    let keys: Vec<String> = places
        .iter()
        .map(|p| p.key.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let detail = format!("{total} place(s)");
    super::audit::record(state, who, "secrets.find", "org", &keys, &detail).await?;
    Ok((places, total))
}
