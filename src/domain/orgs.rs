//! Organizations and the people in them: accounts with a personal workspace, roles,
//! invitations and API tokens. Server functions, the REST API and the admin command all
//! go through here, so the role rules live in one place.

use super::crypto::{new_token, token_hash};
use super::principal::Principal;
use super::state::AppState;
pub use crate::error::invite_gone;
pub use crate::error::org_exists;
use crate::error::AppError;
use crate::model::{InviteInfo, MemberInfo, Role, TokenInfo, Workspace};
use crate::store::db::Db;
use crate::store::{self, people, InviteRecord, Org};
use crate::validate::normalize_email;
use crate::validate::{check_email, FieldError, ResourceName};

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

/// The ending only personal workspaces' names have: no one can create an organization
/// named like someone's personal workspace, before or after that account exists.
pub const PERSONAL_SUFFIX: &str = "-personal";

/// Whether new accounts get a personal workspace: the `personal_workspaces` setting,
/// and never while only the first owner creates organizations (a personal workspace
/// is an organization its account owns, with every owner's power in it).
pub fn personal_workspaces(config: &super::config::Config) -> bool {
    config.personal_workspaces && config.org_creation != super::config::OrgCreation::FirstOwner
}

/// Checks the name of a new organization: the name rule, and not a personal
/// workspace's name (see [`PERSONAL_SUFFIX`]).
pub fn new_org_name(raw: &str) -> Result<ResourceName, FieldError> {
    let name = ResourceName::parse_as("organization name", raw.trim())?;
    if name.as_str().ends_with(PERSONAL_SUFFIX) {
        return Err(FieldError {
            field: "name".into(),
            message: format!(
                "organization name \"{name}\": names ending in \"{PERSONAL_SUFFIX}\" are kept for \
                 personal workspaces; choose another name"
            ),
        });
    }
    Ok(name)
}

/// Personal workspace names for `email`, best first: `alice-personal` from the email's
/// local part, then forms with the account's id (`alice-17-personal`,
/// `alice-17-2-personal`, …). Only other personal workspaces can hold these names
/// (see [`new_org_name`]), so a few tries always find one free.
fn personal_names(email: &str, user_id: i64) -> impl Iterator<Item = String> {
    let local = email.split('@').next().unwrap_or("user").to_ascii_lowercase();
    let stem: String = local
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem.trim_matches('-').to_owned();
    let stem = if stem.is_empty() { "user".to_owned() } else { stem };
    let name = move |tail: String| {
        let mut stem = stem.clone();
        stem.truncate(crate::validate::NAME_MAX_LEN - tail.len() - PERSONAL_SUFFIX.len());
        format!("{}{tail}{PERSONAL_SUFFIX}", stem.trim_end_matches('-'))
    };
    std::iter::once(String::new())
        .chain(std::iter::once(format!("-{user_id}")))
        .chain((2..=PERSONAL_NAME_TRIES).map(move |n| format!("-{user_id}-{n}")))
        .map(name)
}

/// Names tried for one personal workspace (see [`personal_names`]).
const PERSONAL_NAME_TRIES: usize = 10;

/// Gives account `user_id` (of `email`) its personal workspace, in the account's
/// transaction, when the settings give new accounts one.
pub(crate) async fn add_personal_workspace(
    tx: &mut Db,
    state: &AppState,
    user_id: i64,
    email: &str,
    now: i64,
) -> Result<Option<Org>, AppError> {
    if !personal_workspaces(&state.config) {
        return Ok(None);
    }
    for name in personal_names(email, user_id) {
        if let Some(org) = people::insert_org(tx, &name, now, Some(user_id)).await? {
            people::insert_membership(tx, org.id, user_id, Role::Owner, now).await?;
            return Ok(Some(org));
        }
    }
    tracing::error!(user = user_id, "no free personal workspace name");
    Err(AppError::Conflict(format!(
        "no free name for {email}'s personal workspace; rename one of the workspaces named \
         after this address"
    )))
}

/// Inserts account `email` and, when the settings give one, its personal workspace, in
/// the caller's transaction. Returns the user's id.
async fn new_account(
    tx: &mut Db,
    state: &AppState,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<i64, AppError> {
    let email = check_email(email)?;
    let id = people::insert_user(tx, &email, password_hash, now).await?;
    add_personal_workspace(tx, state, id, &email, now).await?;
    Ok(id)
}

/// Creates an account with (when the settings give one) its personal workspace and,
/// when given, a membership, all in one transaction. Returns the user's id.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password_hash: &str,
    org: Option<(&Org, Role)>,
) -> Result<i64, AppError> {
    let now = super::now();
    let mut tx = state.store.write().await?;
    let id = new_account(&mut tx, state, email, password_hash, now).await?;
    if let Some((org, role)) = org {
        people::insert_membership(&mut tx, org.id, id, role, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// What `admin create-user` made.
#[derive(Debug)]
pub struct CreatedUser {
    pub user_id: i64,
    pub org: Org,
    /// The owners the account joined, when `org` existed (`--join-existing`).
    pub joined_owners: Option<Vec<String>>,
    pub personal: Option<Org>,
}

/// Creates account `email` as the owner of a new organization `org_name` (the admin
/// command), with its personal workspace, in one transaction. An existing organization
/// is refused with the names of its owners, unless `join_existing`: then the account
/// becomes one more owner of it (in its audit log too). A personal workspace is never
/// joined, and an organization named like one is never created.
pub async fn admin_create_user(
    state: &AppState,
    email: &str,
    password_hash: &str,
    org_name: &str,
    join_existing: bool,
) -> Result<CreatedUser, AppError> {
    let email = check_email(email)?;
    let name = ResourceName::parse_as("organization name", org_name.trim())?;
    let now = super::now();
    let mut tx = state.store.write().await?;
    let (org, joined_owners) = match people::lock_org_named(&mut tx, name.as_str()).await? {
        Some((_, true)) => {
            return Err(AppError::Conflict(format!(
                "\"{name}\" is someone's personal workspace, which no one else can join; \
                 choose another organization name"
            )))
        }
        Some((org, false)) => {
            let owners = people::owner_emails(&mut tx, org.id).await?;
            let owned_by = if owners.is_empty() {
                "no owner".to_owned()
            } else {
                format!("owners: {}", owners.join(", "))
            };
            if !join_existing {
                return Err(AppError::Conflict(format!(
                    "an organization named \"{name}\" already exists ({owned_by}); create-user \
                     makes a new organization and does not join an existing one: choose another \
                     name, have an owner invite {email} from its Members page, or, to make \
                     {email} one more owner of \"{name}\", repeat the command with --join-existing"
                )));
            }
            (org, Some(owners))
        }
        None => {
            let name = new_org_name(name.as_str())?;
            let org = people::insert_org(&mut tx, name.as_str(), now, None)
                .await?
                .ok_or_else(|| org_exists(name.as_str()))?;
            (org, None)
        }
    };
    let user_id = people::insert_user(&mut tx, &email, password_hash, now).await?;
    people::insert_membership(&mut tx, org.id, user_id, Role::Owner, now).await?;
    let personal = add_personal_workspace(&mut tx, state, user_id, &email, now).await?;
    let (action, object, detail) = match &joined_owners {
        Some(owners) => (
            "member.join",
            format!("member:{email}"),
            format!(
                "role owner, by admin create-user --join-existing (owners then: {})",
                owners.join(", ")
            ),
        ),
        None => (
            "org.create",
            format!("org:{}", org.name),
            "by admin create-user".to_owned(),
        ),
    };
    let audit = super::audit::entry_as(org.id, &email, "cli", action, &object, &[], &detail);
    store::finish(
        tx,
        audit,
        CreatedUser {
            user_id,
            org,
            joined_owners,
            personal,
        },
    )
    .await
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

/// Refuses a change that would leave the organization without an owner: the last
/// owner can be neither demoted nor removed. Runs in the change's transaction, after
/// [`people::lock_member`] locked the organization's memberships.
async fn keep_an_owner(tx: &mut Db, org_id: i64, (user_id, role): (i64, Role)) -> Result<(), AppError> {
    if role == Role::Owner && people::other_owners(tx, org_id, user_id).await? == 0 {
        return Err(AppError::Conflict(
            "the last owner cannot be removed or demoted; make someone else owner first".into(),
        ));
    }
    Ok(())
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
    let members = state.store.members(who.org.id).await?;
    if members.iter().any(|m| m.email == email) {
        return Err(AppError::Conflict(format!(
            "{email} is already a member of \"{}\"",
            who.org.name
        )));
    }
    let token = new_token("cki_");
    let now = super::now();
    let audit = super::audit::entry(
        who,
        "member.invite",
        &format!("member:{email}"),
        &[],
        &format!("role {role}"),
    );
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
            audit,
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
    let mut tx = state.store.write().await?;
    let member = people::lock_member(&mut tx, &who.org, email).await?;
    if member.1 == Role::Owner {
        who.require(Role::Owner, "changing an owner's role")?;
    }
    if role != Role::Owner {
        keep_an_owner(&mut tx, who.org.id, member).await?;
    }
    people::set_role(&mut tx, who.org.id, member.0, role).await?;
    let object = format!("member:{}", normalize_email(email));
    let audit = super::audit::entry(who, "member.role", &object, &[], &format!("role {role}"));
    store::finish(tx, audit, ()).await
}

pub async fn remove_member(state: &AppState, who: &Principal, email: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "removing members")?;
    let mut tx = state.store.write().await?;
    let member = people::lock_member(&mut tx, &who.org, email).await?;
    if member.1 == Role::Owner {
        who.require(Role::Owner, "removing an owner")?;
    }
    keep_an_owner(&mut tx, who.org.id, member).await?;
    people::remove(&mut tx, who.org.id, member.0).await?;
    let object = format!("member:{}", normalize_email(email));
    let audit = super::audit::entry(who, "member.remove", &object, &[], "");
    store::finish(tx, audit, ()).await
}

/// Creates organization `name` with the caller as its owner. Anyone signed in may,
/// unless the `org_creation` setting keeps it to the instance's first owner.
/// Organizations one account may own (its personal workspace among them).
pub const ORGS_OWNED_MAX: i64 = 20;

pub async fn create_org(state: &AppState, who: &Principal, name: &str) -> Result<Org, AppError> {
    if state.config.org_creation == super::config::OrgCreation::FirstOwner
        && state.store.first_user_id().await? != Some(who.user_id)
    {
        return Err(AppError::Forbidden(
            "on this instance only its first owner creates organizations (setting org_creation)".into(),
        ));
    }
    // Quotas are per organization: without a cap, organizations would multiply them.
    if state.store.owned_org_count(who.user_id).await? >= ORGS_OWNED_MAX {
        return Err(AppError::Quota(format!(
            "you own {ORGS_OWNED_MAX} organizations, as many as an account may; delete one first"
        )));
    }
    let name = new_org_name(name)?;
    let audit = {
        let who = who.clone();
        Box::new(move |org: &Org| {
            let object = format!("org:{}", org.name);
            super::audit::entry_as(
                org.id,
                &who.email,
                who.via.as_str(),
                "org.create",
                &object,
                &[],
                "",
            )
        })
    };
    let org = state
        .store
        .create_org(name.as_str(), who.user_id, super::now(), audit)
        .await?;
    tracing::info!(org = %org.name, user = who.user_id, "organization created");
    Ok(org)
}

/// Withdraws a pending invitation; admins only. Its link stops working at once.
pub async fn revoke_invite(state: &AppState, who: &Principal, id: i64) -> Result<String, AppError> {
    who.require(Role::Admin, "withdrawing invitations")?;
    let audit = {
        let who = who.clone();
        Box::new(move |email: &String| {
            let object = format!("member:{email}");
            super::audit::entry(
                &who,
                "member.invite.revoke",
                &object,
                &[],
                &format!("invitation {id}"),
            )
        })
    };
    state
        .store
        .revoke_invite(who.org.id, id, audit)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no pending invitation {id} in \"{}\"", who.org.name)))
}

/// Only a signed-in person may create API tokens: a token that could mint tokens would
/// outlive its own revocation.
pub fn may_create_tokens(who: &Principal) -> Result<(), AppError> {
    if who.via == super::auth::Via::Ui {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "API tokens are created by a signed-in person on the API tokens page, not with another token".into(),
    ))
}

/// Creates an API token for the caller in this organization, with the caller's role;
/// returns its id and the token (shown once).
pub async fn create_token(state: &AppState, who: &Principal, name: &str) -> Result<(i64, String), AppError> {
    may_create_tokens(who)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(AppError::validation(FieldError {
            field: "name".into(),
            message: format!("a token name must be 1 to {TOKEN_NAME_MAX} characters"),
        }));
    }
    super::auth::issue_api_token(state, who, name).await
}

/// Admins see every token of the organization; everyone else their own.
pub async fn tokens(state: &AppState, who: &Principal) -> Result<Vec<TokenInfo>, AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    state.store.api_tokens(who.org.id, only).await
}

pub async fn revoke_token(state: &AppState, who: &Principal, id: i64) -> Result<(), AppError> {
    let only = (who.role < Role::Admin).then_some(who.user_id);
    let audit = super::audit::entry(who, "token.revoke", &format!("token:{id}"), &[], "");
    if state.store.delete_api_token(who.org.id, id, only, audit).await? {
        Ok(())
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
    let audit = super::audit::entry(who, "org.delete", &format!("org:{}", who.org.name), &[], "");
    state.store.delete_org(who.org.id, audit).await
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
/// The audit entry of `email` joining the invitation's organization.
fn joined(email: &str, note: &'static str) -> crate::store::AuditWith<crate::store::InviteRecord> {
    let email = email.to_owned();
    Box::new(move |invite: &crate::store::InviteRecord| {
        let object = format!("member:{email}");
        let detail = format!("role {}{note}", invite.role);
        super::audit::entry_as(invite.org.id, &email, "ui", "member.join", &object, &[], &detail)
    })
}

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
        if normalize_email(&who.email) != normalize_email(&invite.email) {
            return Err(AppError::Forbidden(format!(
                "this invitation is for {}, but you are signed in as {}; sign out and open the link again",
                invite.email, who.email
            )));
        }
        let accepted = state
            .store
            .accept_invite(&hash, who.user_id, now, joined(&who.email, ""))
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
    let password_hash = super::auth::new_password_hash(state, password).await?;
    // The account, its personal workspace and its membership: all or nothing.
    let mut tx = state.store.write().await?;
    let user_id = new_account(&mut tx, state, &invite.email, &password_hash, now).await?;
    let used = people::use_invite(&mut tx, &hash, user_id, now).await?;
    let accepted = store::finish(tx, joined(&invite.email, ", new account"), used).await?;
    let session = new_token("cks_");
    state
        .store
        .create_session(
            &token_hash(&session),
            user_id,
            accepted.org.id,
            now,
            now + state.config.session_ttl_secs,
            None,
        )
        .await?;
    Ok(Accepted {
        org: accepted.org.name,
        role: accepted.role,
        new_session: Some(session),
    })
}

/// Who `email` acts as in organization `org` (on the admin command line), if they are a
/// member there.
pub async fn member_principal(
    state: &AppState,
    email: &str,
    org: &str,
) -> Result<Option<Principal>, AppError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .membership(user.id, org)
        .await?
        .map(|(org, role)| Principal {
            user_id: user.id,
            email: user.email,
            org,
            role,
            via: super::auth::Via::Cli,
        }))
}

/// A pending invitation by its link's token, and whether its email has an account.
pub async fn pending_invite(state: &AppState, token: &str) -> Result<(InviteRecord, bool), AppError> {
    let invite = state
        .store
        .invite(&token_hash(token), super::now())
        .await?
        .ok_or_else(invite_gone)?;
    let has_account = state.store.user_by_email(&invite.email).await?.is_some();
    Ok((invite, has_account))
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
            let name = personal_names(email, 1).next().unwrap();
            assert_eq!(name, want);
            assert!(ResourceName::parse_as("org", &name).is_ok(), "{name}");
        }
        let long = format!("{}@example.com", "a-".repeat(60));
        let names: Vec<String> = personal_names(&long, i64::MAX).collect();
        assert_eq!(names.len(), PERSONAL_NAME_TRIES + 1);
        assert_eq!(
            names[1],
            format!("{}-{}-personal", "a-".repeat(16) + "a", i64::MAX)
        );
        for name in &names {
            assert!(ResourceName::parse_as("org", name).is_ok(), "{name}");
            assert!(name.ends_with(PERSONAL_SUFFIX), "{name}");
        }
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn only_personal_workspaces_are_named_like_one() {
        assert!(new_org_name("alice-personal").is_err());
        assert!(new_org_name("personal").is_ok());
        assert!(new_org_name("personal-stuff").is_ok());
        assert!(new_org_name(" acme ").is_ok());
        assert!(new_org_name("Acme").is_err());
    }
}
