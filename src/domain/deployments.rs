//! Deployments: agents that get a secret set as environment variables. Each deploy
//! records a revision with an immutable snapshot of the set; the runtime token of a
//! deployment reads exactly that snapshot and nothing else.

use super::crypto::{new_token, token_hash};
use super::principal::Principal;
use super::state::AppState;
use crate::error::AppError;
use crate::model::{DeploymentDetail, DeploymentRevision, DeploymentSpec, DeploymentSummary, Role};
use crate::store::deployments::StoredDeployment;
use crate::store::{self, deployments as rows, sets, StoredKey};

/// The result of a deploy. `runtime_token` is set only when the deployment was
/// created: it is shown once and only its hash is stored.
#[derive(Clone)]
pub struct DeployOutcome {
    pub created: bool,
    pub revision: i64,
    pub runtime_token: Option<String>,
}

impl std::fmt::Debug for DeployOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeployOutcome(created {}, revision {})",
            self.created, self.revision
        )
    }
}

pub use crate::deploy_spec::{merge_spec, parse_deploy_file, DeployFields, DeployFile};

/// Whether `who` may deploy a protected set, redeploy or rotate the runtime token of a
/// deployment that uses one: whoever holds a runtime token reads every value of its
/// set, so for protected sets that is for admins and owners only.
pub fn may_use_protected(who: &Principal) -> bool {
    who.role >= Role::Admin
}

/// Deploys `spec`: creates or updates the deployment and takes a new revision.
pub async fn deploy(
    state: &AppState,
    who: &Principal,
    spec: &DeploymentSpec,
) -> Result<DeployOutcome, AppError> {
    who.require(Role::Member, "changing deployments")?;
    spec.check()?;
    let token = new_token("ckd_");
    let (org_id, now, token_hash) = (who.org.id, super::now(), token_hash(&token));
    let mut tx = state.store.write().await?;
    // Lock what the deployment references, so it cannot be deleted under us.
    let mut missing = Vec::new();
    let set = match &spec.secret_set {
        Some(name) => {
            let row = sets::lock_set(&mut tx, org_id, name).await?;
            if row.is_none() {
                missing.push(missing_reference("secret set", name));
            }
            row.map(|row| (row, name.as_str()))
        }
        None => None,
    };
    if let Some(pull) = &spec.pull_secret {
        if !rows::lock_pull_secret(&mut tx, org_id, pull).await? {
            missing.push(missing_reference("image pull secret", pull));
        }
    }
    if !missing.is_empty() {
        return Err(AppError::Validation(missing.into()));
    }
    if let Some((_, name)) = set.filter(|(row, _)| row.protected && !may_use_protected(who)) {
        return Err(protected_set(name));
    }
    let existing = rows::lock(&mut tx, org_id, &spec.name).await?;
    // Changing a deployment that now uses a protected set is for admins too.
    if !may_use_protected(who) {
        if let Some(set) = rows::protected_set_used(&mut tx, org_id, &spec.name).await? {
            return Err(protected_set(&set));
        }
    }
    let set_revision = set.map(|(row, _)| row.revision);
    let (id, revision) = match existing {
        Some((id, revision)) => {
            rows::update(&mut tx, id, spec, revision + 1, set_revision, now).await?;
            (id, revision + 1)
        }
        None => match rows::insert(
            &mut tx,
            org_id,
            spec,
            set_revision,
            &token_hash,
            (now, who.user_id),
        )
        .await?
        {
            Some(id) => (id, 1),
            None => {
                return Err(AppError::Conflict(format!(
                    "deployment \"{}\" was created by someone else just now; try again",
                    spec.name
                )))
            }
        },
    };
    let snapshot_of = set.map(|(row, name)| (row.id, name));
    rows::snapshot(
        &mut tx,
        id,
        revision,
        snapshot_of,
        state.config.deployment_revisions_kept,
    )
    .await?;
    let record = crate::store::history::RevisionRecord {
        deployment_id: id,
        revision,
        spec,
        set: set.map(|(row, _)| (row.id, row.revision)),
        at: now,
        actor: &who.email,
        rollback_of: None,
    };
    crate::store::history::record_revision(&mut tx, &record).await?;
    let created = existing.is_none();
    let action = if created {
        "deployment.create"
    } else {
        "deployment.deploy"
    };
    let detail = format!(
        "revision {revision}, image {}, secret set {}",
        spec.image,
        spec.secret_set.as_deref().unwrap_or("none")
    );
    let audit = super::audit::entry(who, action, &format!("deployment:{}", spec.name), &[], &detail);
    store::finish(tx, audit, ()).await?;
    tracing::info!(
        org = %who.org.name, user = who.user_id, deployment = %spec.name, revision, created,
        "deployed"
    );
    Ok(DeployOutcome {
        created,
        revision,
        runtime_token: created.then_some(token),
    })
}

/// One page of the organization's deployments, by name.
pub async fn page(
    state: &AppState,
    who: &Principal,
    q: &crate::model::ListQuery,
) -> Result<crate::model::DeploymentPage, AppError> {
    state.store.deployment_page(who.org.id, q).await
}

/// The deployments that receive secret set `set`.
pub async fn using(state: &AppState, who: &Principal, set: &str) -> Result<Vec<DeploymentSummary>, AppError> {
    state.store.deployments_using(who.org.id, set).await
}

/// One deployment with its revision's keys and how its set differs now; `NotFound` if
/// missing. Fingerprints are bound to the set the revision was taken from (so they
/// equal that set's own), and hidden below admin where that set is protected.
pub async fn detail(state: &AppState, who: &Principal, name: &str) -> Result<DeploymentDetail, AppError> {
    let d = stored(state, who, name).await?;
    let (added, removed, changed) = env_diff(&d.env, &d.now);
    let set = d.env_set.as_deref().unwrap_or_default();
    Ok(DeploymentDetail {
        env: super::secrets::shown_keys(state, who, set, d.protected, &d.env),
        summary: d.summary,
        added,
        removed,
        changed,
    })
}

/// One deployment with its environment's MACs, for decisions on the server.
pub(crate) async fn stored(
    state: &AppState,
    who: &Principal,
    name: &str,
) -> Result<StoredDeployment, AppError> {
    state
        .store
        .get_deployment(who.org.id, name)
        .await?
        .ok_or_else(|| deployment_not_found(name))
}

/// Differences between the keys of a deployment's revision and of its set now:
/// (added to the set since, removed since, changed value since), by full MACs.
pub(crate) fn env_diff(env: &[StoredKey], now: &[StoredKey]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let diff = crate::model::Comparison::of(
        env.iter().map(|k| (k.key.as_str(), &k.mac)),
        now.iter().map(|k| (k.key.as_str(), &k.mac)),
    );
    (diff.only_in_b, diff.only_in_a, diff.different)
}

/// Takes a new revision of a deployment as it is configured, snapshotting its set now.
pub async fn redeploy(state: &AppState, who: &Principal, name: &str) -> Result<i64, AppError> {
    who.require(Role::Member, "changing deployments")?;
    let current = detail(state, who, name).await?;
    Ok(deploy(state, who, &current.summary.spec).await?.revision)
}

/// The deployment's kept revisions, newest first.
pub async fn revisions(
    state: &AppState,
    who: &Principal,
    name: &str,
) -> Result<Vec<DeploymentRevision>, AppError> {
    state
        .store
        .deployment_revisions(who.org.id, name)
        .await?
        .ok_or_else(|| deployment_not_found(name))
}

/// Makes a new revision of the deployment that is revision `to` again: its settings,
/// and its environment's sealed bytes exactly (not the set as it is now). The new
/// revision number.
pub async fn rollback(state: &AppState, who: &Principal, name: &str, to: i64) -> Result<i64, AppError> {
    use crate::store::history;
    who.require(Role::Member, "changing deployments")?;
    let (org_id, now) = (who.org.id, super::now());
    let not_kept = || {
        AppError::NotFound(format!(
            "revision {to} of deployment \"{name}\" is not kept (each deployment keeps its newest {})",
            state.config.deployment_revisions_kept
        ))
    };
    let mut tx = state.store.write().await?;
    // Read first, then lock in the order deploys lock: the set, the pull secret, the
    // deployment (the other order deadlocks against a deploy).
    let id = rows::id_of(&mut tx, org_id, name)
        .await?
        .ok_or_else(|| deployment_not_found(name))?;
    let (old, set_id) = history::revision_of(&mut tx, id, to)
        .await?
        .ok_or_else(not_kept)?;
    // The set the revision's environment came from is the set of that id: a set given
    // the same name since is another set, and its protection says nothing about these
    // values.
    let set_now = match (&old.secret_set, set_id) {
        (None, _) => None,
        (Some(set), None) => {
            return Err(AppError::Conflict(format!(
                "revision {to} was recorded before history began and its secret set \"{set}\" no longer \
                 exists; deploy the settings you want instead"
            )))
        }
        (Some(set), Some(set_id)) => match sets::lock_set_by_id(&mut tx, org_id, set_id).await? {
            None => {
                return Err(AppError::validation(crate::validate::FieldError {
                    field: "secret set".into(),
                    message: format!(
                        "revision {to} was built from secret set \"{set}\", which has been deleted since; \
                         restore it from the recently deleted sets first"
                    ),
                }))
            }
            Some((row, live)) => {
                if row.protected && !may_use_protected(who) {
                    return Err(protected_set(&live));
                }
                Some(live)
            }
        },
    };
    if let Some(pull) = &old.pull_secret {
        if !rows::lock_pull_secret(&mut tx, org_id, pull).await? {
            return Err(AppError::validation(crate::validate::FieldError {
                field: "image pull secret".into(),
                message: format!(
                    "revision {to} used image pull secret \"{pull}\", which does not exist now; create it first"
                ),
            }));
        }
    }
    let (locked, current) = rows::lock(&mut tx, org_id, name)
        .await?
        .ok_or_else(|| deployment_not_found(name))?;
    if locked != id || history::revision_of(&mut tx, id, to).await?.is_none() {
        return Err(AppError::Conflict(format!(
            "deployment \"{name}\" changed just now; try again"
        )));
    }
    if !may_use_protected(who) {
        if let Some(set) = rows::protected_set_used(&mut tx, org_id, name).await? {
            return Err(protected_set(&set));
        }
    }
    if to == current {
        return Err(AppError::Conflict(format!(
            "deployment \"{name}\" runs revision {to} already"
        )));
    }
    let spec = DeploymentSpec {
        name: name.to_owned(),
        image: old.image.clone(),
        secret_set: set_now,
        pull_secret: old.pull_secret.clone(),
        region: old.region.clone(),
        min_agents: old.min_agents,
        max_agents: old.max_agents,
    };
    let revision = current + 1;
    rows::update(&mut tx, id, &spec, revision, old.set_version, now).await?;
    history::copy_env(&mut tx, id, to, revision).await?;
    let record = history::RevisionRecord {
        deployment_id: id,
        revision,
        spec: &spec,
        set: set_id.zip(old.set_version),
        at: now,
        actor: &who.email,
        rollback_of: Some(to),
    };
    history::record_revision(&mut tx, &record).await?;
    rows::forget_old(&mut tx, id, revision, state.config.deployment_revisions_kept).await?;
    let audit = super::audit::entry(
        who,
        "deployment.rollback",
        &format!("deployment:{name}"),
        &[],
        &format!("revision {revision}, rolled back to revision {to}"),
    );
    store::finish(tx, audit, ()).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, deployment = name, revision, to, "rolled back");
    Ok(revision)
}

/// Gives a deployment a new runtime token (the old one stops working at once).
pub async fn rotate_token(state: &AppState, who: &Principal, name: &str) -> Result<String, AppError> {
    who.require(Role::Member, "changing deployments")?;
    let token = new_token("ckd_");
    let audit = super::audit::entry(
        who,
        "deployment.rotate-token",
        &format!("deployment:{name}"),
        &[],
        "",
    );
    let org_id = who.org.id;
    let mut tx = state.store.write().await?;
    // The set first (shared, so protecting it waits for us), then the deployment: the
    // order deploys and protection take them in, so they never deadlock.
    let set = rows::set_of(&mut tx, org_id, name, false)
        .await?
        .ok_or_else(|| deployment_not_found(name))?;
    if let Some(set) = &set {
        if rows::set_protected_shared(&mut tx, org_id, set).await? && !may_use_protected(who) {
            return Err(protected_set(set));
        }
    }
    match rows::set_of(&mut tx, org_id, name, true).await? {
        None => return Err(deployment_not_found(name)),
        Some(now) if now != set => {
            return Err(AppError::Conflict(format!(
                "deployment \"{name}\" changed just now; try again"
            )))
        }
        Some(_) => {}
    }
    rows::replace_token(&mut tx, org_id, name, &token_hash(&token), who.user_id).await?;
    store::finish(tx, audit, ()).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, deployment = name, "runtime token rotated");
    Ok(token)
}

pub async fn delete(state: &AppState, who: &Principal, name: &str) -> Result<(), AppError> {
    who.require(Role::Member, "changing deployments")?;
    let mut tx = state.store.write().await?;
    if rows::lock(&mut tx, who.org.id, name).await?.is_none() {
        return Err(deployment_not_found(name));
    }
    // Deleting takes every kept revision with it, so a deployment that runs or ran a
    // protected set (the revisions a rollback of it needs) is for admins.
    if !may_use_protected(who) {
        if let Some(set) = rows::protected_set_in_history(&mut tx, who.org.id, name).await? {
            return Err(protected_set(&set));
        }
    }
    rows::delete(&mut tx, who.org.id, name).await?;
    let audit = super::audit::entry(who, "deployment.delete", &format!("deployment:{name}"), &[], "");
    store::finish(tx, audit, ()).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, deployment = name, "deployment deleted");
    Ok(())
}

/// The environment of the deployment a runtime token belongs to: its current revision,
/// decrypted. Only runtime tokens work here; user sessions and API tokens do not.
pub async fn runtime_env(
    state: &AppState,
    token: &str,
) -> Result<
    (
        i64,
        std::collections::BTreeMap<String, super::crypto::SecretValue>,
    ),
    AppError,
> {
    let env = state
        .store
        .runtime_env(&token_hash(token))
        .await?
        .ok_or(AppError::Unauthorized)?;
    if let Some(set) = &env.locked_by {
        tracing::warn!(org = %env.org, deployment = %env.deployment, "runtime token refused: must be rotated");
        return Err(AppError::Forbidden(format!(
            "this runtime token of deployment \"{}\" was last seen by someone who may no longer \
             read secret set \"{set}\" (removed, demoted, or the set became protected): \
             rotate the token",
            env.deployment
        )));
    }
    let mut out = std::collections::BTreeMap::new();
    for (key, set, sealed) in &env.entries {
        out.insert(key.clone(), state.crypto.open(env.org_id, set, key, sealed)?);
    }
    tracing::info!(
        org = %env.org, deployment = %env.deployment, revision = env.revision, keys = out.len(),
        "runtime env read"
    );
    let keys: Vec<String> = out.keys().cloned().collect();
    super::audit::record_as(
        state,
        env.org_id,
        &format!("runtime:{}", env.deployment),
        "runtime",
        "deployment.read-env",
        &format!("deployment:{}", env.deployment),
        &keys,
        &format!("revision {}", env.revision),
    )
    .await?;
    Ok((env.revision, out))
}

/// Refusal to deploy a protected set.
pub fn protected_set(set: &str) -> AppError {
    AppError::Forbidden(format!(
        "secret set \"{set}\" is protected: only admins may change or deploy it, or change, \
         redeploy or rotate the runtime token of a deployment that uses it"
    ))
}

pub fn missing_reference(what: &str, name: &str) -> crate::validate::FieldError {
    crate::validate::FieldError {
        field: what.to_owned(),
        message: format!("{what} \"{name}\" does not exist; create it first"),
    }
}

pub fn deployment_not_found(name: &str) -> AppError {
    AppError::NotFound(format!("deployment \"{name}\" not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_and_fields_override_it() {
        let file = parse_deploy_file(
            "agent_name = \"bot\"\nimage = \"reg/bot:1\"\nsecret_set = \"prod\"\nimage_credentials = \"ghcr\"\n\
             region = \"eu\"\n[scaling]\nmin_agents = 1\nmax_agents = 3\n",
        )
        .unwrap();
        let spec = merge_spec(
            "bot",
            Some(file),
            DeployFields {
                image: Some("reg/bot:2".into()),
                max_agents: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(spec.image, "reg/bot:2");
        assert_eq!(spec.secret_set.as_deref(), Some("prod"));
        assert_eq!(spec.pull_secret.as_deref(), Some("ghcr"));
        assert_eq!(
            (spec.region.as_str(), spec.min_agents, spec.max_agents),
            ("eu", 1, 5)
        );
    }

    #[test]
    fn unknown_keys_and_bad_scaling_are_refused_by_name() {
        let e = parse_deploy_file("image = \"x\"\nreplicas = 3\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `replicas`"), "{e}");
        let e = parse_deploy_file("[scaling]\nmin = 1\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `min`"), "{e}");
        let e = merge_spec(
            "bot",
            None,
            DeployFields {
                image: Some("x".into()),
                min_agents: Some(3),
                max_agents: Some(2),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_agents ≤ max_agents"), "{e}");
        let e = merge_spec(
            "bot",
            parse_deploy_file("agent_name = \"other\"").ok(),
            DeployFields::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("names agent \"other\""), "{e}");
    }
}
