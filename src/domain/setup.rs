//! Claiming a new instance without a terminal. While no account exists, the server
//! prints a one-time setup link (a random code) to its log; only that link opens the
//! page that creates the first owner and organization, and it stops working once an
//! account exists or the code has been used. Whoever merely reaches a fresh instance
//! first cannot claim it.

use super::crypto::{new_token, token_hash};
use super::state::AppState;
use crate::error::AppError;
use crate::model::Role;
use crate::store::{people, Org};
use crate::validate::{check_email, FieldError};

/// Makes a setup code if the instance has no account yet; returns the link to print.
pub async fn offer(state: &AppState) -> Result<Option<String>, AppError> {
    if state.store.first_user_id().await?.is_some() {
        return Ok(None);
    }
    let code = new_token("");
    let link = link(state, &code);
    *state.setup_code.lock().map_err(|_| AppError::Internal)? = Some(code);
    Ok(Some(link))
}

/// The setup link for `code`: on the public URL when one is configured.
fn link(state: &AppState, code: &str) -> String {
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.site_addr));
    format!("{}/setup?code={code}", base.trim_end_matches('/'))
}

fn invalid() -> AppError {
    AppError::Forbidden(
        "this setup link is not valid: use the one the server printed when it started, \
         or sign in if the instance is set up already"
            .into(),
    )
}

/// Whether `code` is this instance's setup code (compared in constant time) and no
/// account exists yet.
pub async fn is_open(state: &AppState, code: &str) -> Result<bool, AppError> {
    let matches = {
        let held = state.setup_code.lock().map_err(|_| AppError::Internal)?;
        held.as_deref().is_some_and(|c| same(c, code))
    };
    Ok(matches && state.store.first_user_id().await?.is_none())
}

fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(token_hash(a).ct_eq(&token_hash(b)))
}

/// What setting up the instance made: the organization and a session for its owner.
pub struct Claimed {
    pub org: Org,
    pub session: String,
}

/// Creates the first owner (`email`, `password`) and organization `org`, if `code` is
/// the setup code and no account exists. The code is used up first, so of two requests
/// at once only one proceeds; it is given back if the input was refused.
pub async fn claim(
    state: &AppState,
    code: &str,
    email: &str,
    password: &str,
    org: &str,
) -> Result<Claimed, AppError> {
    let taken = {
        let mut held = state.setup_code.lock().map_err(|_| AppError::Internal)?;
        match held.as_deref() {
            Some(c) if same(c, code) => held.take(),
            _ => None,
        }
    };
    let Some(taken) = taken else {
        return Err(invalid());
    };
    let result = create_owner(state, email, password, org).await;
    if result.is_err() && state.store.first_user_id().await.is_ok_and(|u| u.is_none()) {
        // Nothing was created: the same link may be used again.
        if let Ok(mut held) = state.setup_code.lock() {
            *held = Some(taken);
        }
    }
    result
}

async fn create_owner(state: &AppState, email: &str, password: &str, org: &str) -> Result<Claimed, AppError> {
    let mut problems = Vec::new();
    let email = check_email(email).map_err(|e| problems.push(e)).ok();
    let org = super::orgs::new_org_name(org).map_err(|e| problems.push(e)).ok();
    if password.chars().count() < super::auth::MIN_PASSWORD_LEN {
        problems.push(FieldError {
            field: "password".into(),
            message: format!(
                "choose a password of at least {} characters",
                super::auth::MIN_PASSWORD_LEN
            ),
        });
    }
    let (Some(email), Some(org)) = (email, org) else {
        return Err(problems.into());
    };
    if !problems.is_empty() {
        return Err(problems.into());
    }
    let hash = super::auth::new_password_hash(state, password).await?;
    let now = super::now();
    // The account, its organization and personal workspace, and the audit entry: all
    // or nothing.
    let mut tx = state.store.write().await?;
    // Instances sharing a database each print their own code: a claim made through
    // another instance meanwhile closes this one.
    if people::first_user(&mut tx).await?.is_some() {
        return Err(invalid());
    }
    let user_id = people::insert_user(&mut tx, &email, &hash, now).await?;
    let org = people::insert_org(&mut tx, org.as_str(), now, None)
        .await?
        .ok_or_else(|| super::orgs::org_exists(org.as_str()))?;
    people::insert_membership(&mut tx, org.id, user_id, Role::Owner, now).await?;
    super::orgs::add_personal_workspace(&mut tx, state, user_id, &email, now).await?;
    let object = format!("org:{}", org.name);
    let audit = super::audit::entry_as(
        org.id,
        &email,
        "ui",
        "instance.setup",
        &object,
        &[],
        "first owner",
    );
    let org = crate::store::finish(tx, audit, org).await?;
    let session = new_token("cks_");
    state
        .store
        .create_session(
            &token_hash(&session),
            user_id,
            org.id,
            now,
            now + state.config.session_ttl_secs,
            None,
        )
        .await?;
    tracing::info!(org = %org.name, "instance set up: first owner created");
    Ok(Claimed { org, session })
}
