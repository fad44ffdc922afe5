//! Organizations and the people in them: accounts with a personal workspace, roles,
//! invitations and API tokens. Server functions, the REST API and the admin command all
//! go through here, so the role rules live in one place.

use super::crypto::{new_token, token_hash};
use super::state::AppState;
use super::store::{Org, Principal};
use crate::error::AppError;
use crate::model::{InviteInfo, MemberInfo, Role, TokenInfo, Workspace};
use crate::validate::{check_email, FieldError};

/// How long an invitation link works.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest API token name.
pub const TOKEN_NAME_MAX: usize = 100;

/// The caller acting in `org`: their role there, or 404 when they do not belong to it
/// (exactly like an organization that does not exist, so names do not leak).
pub async fn in_org(state: &AppState, who: &Principal, org: &str) -> Result<Principal, AppError> {
    if who.org.name == org {
        return Ok(who.clone());
    }
    let (org, role) = state
        .store
        .membership(who.user_id, org)
        .await?
        .ok_or_else(|| org_not_found(org))?;
    Ok(Principal {
        org,
        role,
        ..who.clone()
    })
}

pub fn org_not_found(org: &str) -> AppError {
    AppError::NotFound(format!("organization \"{org}\" not found"))
}

/// A personal workspace name from an email's local part: `alice-personal`.
fn personal_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or("user").to_ascii_lowercase();
    let mut name: String = local
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        name = "user".into();
    }
    name.truncate(40);
    format!("{}-personal", name.trim_end_matches('-'))
}

/// Creates an account with its personal workspace and, when given, a membership.
/// Returns the user's id.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password_hash: &str,
    org: Option<(&Org, Role)>,
) -> Result<i64, AppError> {
    let email = check_email(email)?;
    let now = super::now();
    let id = state
        .store
        .create_user(&email, password_hash, org.map(|(o, role)| (o.id, role)))
        .await?;
    state
        .store
        .create_personal_org(id, &personal_name(&email), now)
        .await?;
    Ok(id)
}

pub async fn workspaces(state: &AppState, who: &Principal) -> Result<Vec<Workspace>, AppError> {
    state.store.workspaces(who.user_id).await
}

pub async fn members(state: &AppState, who: &Principal) -> Result<Vec<MemberInfo>, AppError> {
    who.require(Role::Viewer, "seeing members")?;
    state.store.members(who.org.id).await
}

pub async fn invites(state: &AppState, who: &Principal) -> Result<Vec<InviteInfo>, AppError> {
    who.require(Role::Admin, "seeing invitations")?;
    state.store.invites(who.org.id, super::now()).await
}

/// Only owners may hand out or take away the owner role.
fn check_grant(who: &Principal, role: Role) -> Result<(), AppError> {
    who.require(Role::Admin, "managing members")?;
    if role == Role::Owner {
        who.require(Role::Owner, "making someone an owner")?;
    }
    Ok(())
}

async fn current_role(state: &AppState, who: &Principal, email: &str) -> Result<Role, AppError> {
    state
        .store
        .members(who.org.id)
        .await?
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(email.trim()))
        .map(|m| m.role)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "{} is not a member of \"{}\"",
                email.trim(),
                who.org.name
            ))
        })
}

/// Creates an invitation; returns the link's token (shown once; only its hash is kept).
pub async fn invite(state: &AppState, who: &Principal, email: &str, role: Role) -> Result<String, AppError> {
    check_grant(who, role)?;
    let email = check_email(email)?;
    if state.store.is_personal(who.org.id).await? {
        return Err(AppError::Conflict(
            "a personal workspace has no other members; invite people to an organization".into(),
        ));
    }
    if current_role(state, who, &email).await.is_ok() {
        return Err(AppError::Conflict(format!(
            "{email} is already a member of \"{}\"",
            who.org.name
        )));
    }
    let token = new_token("cki_");
    let now = super::now();
    state
        .store
        .create_invite(
            who.org.id,
            &email,
            role,
            &token_hash(&token),
            who.user_id,
            now,
            now + INVITE_TTL_SECS,
        )
        .await?;
    super::audit::record(
        state,
        who,
        "member.invite",
        &format!("member:{email}"),
        &[],
        &format!("role {role}"),
    )
    .await?;
    Ok(token)
}

/// The link to send to the invited person.
pub fn invite_link(state: &AppState, token: &str) -> String {
    let base = state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{base}/invite/{token}")
}

pub async fn change_role(state: &AppState, who: &Principal, email: &str, role: Role) -> Result<(), AppError> {
    check_grant(who, role)?;
    if current_role(state, who, email).await? == Role::Owner {
        who.require(Role::Owner, "changing an owner's role")?;
    }
    state
        .store
        .set_member_role(who.org.id, email.trim(), role)
        .await?;
    let object = format!("member:{}", email.trim());
    super::audit::record(state, who, "member.role", &object, &[], &format!("role {role}")).await
}

pub async fn remove_member(state: &AppState, who: &Principal, email: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "removing members")?;
    if current_role(state, who, email).await? == Role::Owner {
        who.require(Role::Owner, "removing an owner")?;
    }
    state.store.remove_member(who.org.id, email.trim()).await?;
    super::audit::record(
        state,
        who,
        "member.remove",
        &format!("member:{}", email.trim()),
        &[],
        "",
    )
    .await
}

/// Creates an API token for the caller in this organization, with the caller's role;
/// returns its id and the token (shown once).
pub async fn create_token(state: &AppState, who: &Principal, name: &str) -> Result<(i64, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(AppError::validation(FieldError {
            field: "name".into(),
            message: format!("a token name must be 1 to {TOKEN_NAME_MAX} characters"),
        }));
    }
    let token = new_token("ckr_");
    let id = state
        .store
        .create_api_token(
            who.org.id,
            who.user_id,
            name,
            &token_hash(&token),
            super::now(),
            who.role,
        )
        .await?;
    let detail = format!("id {id}, role {}", who.role);
    super::audit::record(state, who, "token.create", &format!("token:{name}"), &[], &detail).await?;
    Ok((id, token))
}

/// Admins see every token of the organization; everyone else their own.
pub async fn tokens(state: &AppState, who: &Principal) -> Result<Vec<TokenInfo>, AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    state.store.api_tokens(who.org.id, only).await
}

pub async fn revoke_token(state: &AppState, who: &Principal, id: i64) -> Result<(), AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    if state.store.delete_api_token(who.org.id, id, only).await? {
        super::audit::record(state, who, "token.revoke", &format!("token:{id}"), &[], "").await
    } else {
        Err(AppError::NotFound(format!(
            "no API token {id} in \"{}\"",
            who.org.name
        )))
    }
}

/// Deletes the organization and everything in it; owners only, and `confirm` must
/// repeat its name. The audit log keeps the deletion.
pub async fn delete_org(state: &AppState, who: &Principal, confirm: &str) -> Result<(), AppError> {
    who.require(Role::Owner, "deleting the organization")?;
    if confirm.trim() != who.org.name {
        return Err(AppError::validation(FieldError {
            field: "confirm".into(),
            message: format!(
                "type the organization's name \"{}\" to confirm deleting it",
                who.org.name
            ),
        }));
    }
    if state.store.is_personal(who.org.id).await? {
        return Err(AppError::Conflict(
            "a personal workspace cannot be deleted".into(),
        ));
    }
    super::audit::record(
        state,
        who,
        "org.delete",
        &format!("org:{}", who.org.name),
        &[],
        "",
    )
    .await?;
    state.store.delete_org(who.org.id).await
}

pub fn invite_gone() -> AppError {
    AppError::NotFound("this invitation link was already used, has expired or does not exist".into())
}

/// The outcome of accepting an invitation.
pub struct Accepted {
    pub org: String,
    pub role: Role,
    /// A session for a new account, which is signed in right away.
    pub new_session: Option<String>,
}

/// Accepts the invitation behind `token`: for the signed-in user when that is the
/// invited email, else by creating the invited account with `password`. Single use.
pub async fn accept(
    state: &AppState,
    token: &str,
    signed_in: Option<&Principal>,
    password: &str,
) -> Result<Accepted, AppError> {
    let hash = token_hash(token);
    let now = super::now();
    let invite = state.store.invite(&hash, now).await?.ok_or_else(invite_gone)?;
    if let Some(who) = signed_in {
        if !who.email.eq_ignore_ascii_case(&invite.email) {
            return Err(AppError::Forbidden(format!(
                "this invitation is for {}, but you are signed in as {}; sign out and open the link again",
                invite.email, who.email
            )));
        }
        let accepted = state.store.accept_invite(&hash, who.user_id, now).await?;
        let object = format!("member:{}", who.email);
        let detail = format!("role {}", accepted.role);
        super::audit::record_as(
            state,
            accepted.org.id,
            &who.email,
            "ui",
            "member.join",
            &object,
            &[],
            &detail,
        )
        .await?;
        return Ok(Accepted {
            org: accepted.org.name,
            role: accepted.role,
            new_session: None,
        });
    }
    if state.store.user_by_email(&invite.email).await?.is_some() {
        return Err(AppError::Unauthorized);
    }
    if password.chars().count() < super::auth::MIN_PASSWORD_LEN {
        return Err(AppError::validation(FieldError {
            field: "password".into(),
            message: format!(
                "choose a password of at least {} characters",
                super::auth::MIN_PASSWORD_LEN
            ),
        }));
    }
    let password = zeroize::Zeroizing::new(password.to_owned());
    let password_hash = tokio::task::spawn_blocking(move || super::auth::hash_password(&password)).await??;
    let user_id = create_account(state, &invite.email, &password_hash, None).await?;
    let accepted = state.store.accept_invite(&hash, user_id, now).await?;
    let object = format!("member:{}", invite.email);
    let detail = format!("role {}, new account", accepted.role);
    super::audit::record_as(
        state,
        accepted.org.id,
        &invite.email,
        "ui",
        "member.join",
        &object,
        &[],
        &detail,
    )
    .await?;
    let session = new_token("cks_");
    state
        .store
        .create_session(
            &token_hash(&session),
            user_id,
            accepted.org.id,
            now,
            now + state.config.session_ttl_secs,
        )
        .await?;
    Ok(Accepted {
        org: accepted.org.name,
        role: accepted.role,
        new_session: Some(session),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_workspace_names_are_valid_resource_names() {
        for (email, want) in [
            ("alice@example.com", "alice-personal"),
            ("Bob.Smith+x@example.com", "bob-smith-x-personal"),
            ("__@example.com", "user-personal"),
        ] {
            let name = personal_name(email);
            assert_eq!(name, want);
            assert!(
                crate::validate::ResourceName::parse_as("org", &name).is_ok(),
                "{name}"
            );
        }
    }
}
