//! See `round3.rs`. Accounts and organizations: `admin create-user` never joins an
//! existing organization unasked (finding 8), an account is made whole or not at all,
//! personal workspace names cannot be taken in advance, and personal workspaces are a
//! setting (finding 11, the structural part on quotas).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common::{self, spawn_app, spawn_app_with, Backend, TestApp, TestDb, PASSWORD};
use cloakroom::domain::config::OrgCreation;
use cloakroom::domain::orgs;
use cloakroom::domain::state::AppState;
use cloakroom::model::Role;
use reqwest::StatusCode;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

on_both_backends!(
    create_user_refuses_an_existing_organization_and_names_its_owners,
    create_user_joins_an_existing_organization_only_when_told,
    create_user_never_touches_a_personal_workspace_name,
    nobody_creates_an_organization_named_like_a_personal_workspace,
    a_taken_personal_name_falls_back_to_another_personal_name,
    an_account_whose_workspace_fails_is_not_made,
    an_invited_account_is_made_whole_or_not_at_all,
    setting_up_the_instance_is_whole_or_not_at_all,
    the_admin_command_follows_the_personal_workspaces_setting,
    an_account_without_a_personal_workspace_works,
    first_owner_instances_give_new_accounts_no_personal_workspace,
    an_account_in_no_organization_is_told_so_at_sign_in,
);

/// What a run of the real binary printed.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cloakroom admin ARGS` on `db` (the tests' master key, no settings file, the
/// password on standard input) with `env` added.
async fn admin(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloakroom"))
        .arg("admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", db.dir.path())
        .env("CLOAKROOM_CONFIG", db.dir.path().join("no-such-file.toml"))
        .env("CLOAKROOM_DATA_DIR", db.dir.path())
        .env("DATABASE_URL", &db.url)
        .env("CLOAKROOM_MASTER_KEY", common::key_b64(7))
        .env("CLOAKROOM_LOG", "warn")
        .envs(env.iter().copied())
        .current_dir(db.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A refusal before the password is read closes the pipe: that is its answer.
    if let Err(e) = input.write_all(format!("{PASSWORD}\n").as_bytes()).await {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn create_user(app: &TestApp, email: &str, org: &str, more: &[&str]) -> Out {
    let mut args = vec!["create-user", "--email", email, "--org", org];
    args.extend_from_slice(more);
    admin(&app.db, &args, &[]).await
}

/// The names of the organizations `email` belongs to (personal workspace first), or
/// `None` without an account.
async fn workspaces_of(state: &AppState, email: &str) -> Option<Vec<String>> {
    let user = state.store.user_by_email(email).await.unwrap()?;
    Some(
        state
            .store
            .workspaces(user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.name)
            .collect(),
    )
}

/// The personal workspace of `email`, if it has one.
async fn personal_of(state: &AppState, email: &str) -> Option<String> {
    let user = state.store.user_by_email(email).await.unwrap()?;
    state
        .store
        .workspaces(user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.personal)
        .map(|w| w.name)
}

/// Finding 8: a viewer created `platform` first; the operator's scripted set-up must not
/// make `ops@` an owner of it (nor of any organization that exists).
async fn create_user_refuses_an_existing_organization_and_names_its_owners(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = common::user_with_role(&app.state, "viewer@example.com", "acme", Role::Viewer).await;
    orgs::create_org(&app.state, &viewer, "platform").await.unwrap();

    for org in ["platform", "acme"] {
        let out = create_user(&app, "ops@example.com", org, &[]).await;
        assert_ne!(out.code, 0, "--org {org} must be refused: {out:?}");
        assert!(out.stderr.contains("already exists"), "{out:?}");
        assert!(out.stderr.contains("--join-existing"), "{out:?}");
        let owner = if org == "platform" {
            "viewer@example.com"
        } else {
            "owner@example.com"
        };
        assert!(out.stderr.contains(owner), "the owners are named: {out:?}");
        assert_eq!(
            workspaces_of(&app.state, "ops@example.com").await,
            None,
            "no account is made"
        );
    }
    let platform = app.state.store.org_by_name("platform").await.unwrap().unwrap();
    let members = app.state.store.members(platform.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].email, "viewer@example.com");

    // A new organization is what the command is for.
    let out = create_user(&app, "ops@example.com", "ops-team", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("new organization ops-team"), "{out:?}");
    assert_eq!(
        workspaces_of(&app.state, "ops@example.com").await.unwrap(),
        ["ops-personal", "ops-team"]
    );
}

/// `--join-existing` is the explicit way in: the account becomes one more owner, the
/// answer names the owners it joins, and the organization's audit log records it.
async fn create_user_joins_an_existing_organization_only_when_told(backend: Backend) {
    let app = spawn_app(backend).await;
    let out = create_user(&app, "ops@example.com", "acme", &["--join-existing"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("existing organization acme"), "{out:?}");
    assert!(out.stdout.contains("owner@example.com"), "{out:?}");
    let user = app
        .state
        .store
        .user_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    let (_, role) = app
        .state
        .store
        .membership(user.id, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role, Role::Owner);
    let log = app
        .state
        .store
        .audit(
            app.principal.org.id,
            &cloakroom::model::AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let joined = log
        .iter()
        .find(|e| e.action == "member.join")
        .expect("the join is in acme's audit log");
    assert_eq!(joined.actor, "ops@example.com");
    assert_eq!(joined.source, "cli");
    assert!(joined.detail.contains("owner@example.com"), "{joined:?}");
}

/// `--org alice-personal` would have joined Alice's workspace; a personal workspace's
/// name is neither joined nor created, not even with `--join-existing`.
async fn create_user_never_touches_a_personal_workspace_name(backend: Backend) {
    let app = spawn_app(backend).await;
    common::user(&app.state, "alice@example.com", "alice-team").await;
    for more in [&[][..], &["--join-existing"][..]] {
        let out = create_user(&app, "mallory@example.com", "alice-personal", more).await;
        assert_ne!(out.code, 0, "{more:?}: {out:?}");
        assert!(out.stderr.contains("personal workspace"), "{out:?}");
    }
    let out = create_user(&app, "mallory@example.com", "bob-personal", &[]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("kept for personal workspaces"), "{out:?}");
    assert_eq!(workspaces_of(&app.state, "mallory@example.com").await, None);
    assert!(app
        .state
        .store
        .org_by_name("bob-personal")
        .await
        .unwrap()
        .is_none());
    let alice = app
        .state
        .store
        .org_by_name("alice-personal")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.state.store.members(alice.id).await.unwrap().len(), 1);
}

/// A personal workspace's name cannot be taken in advance: no organization made by
/// anyone ends in `-personal`, so the account later gets its own name.
async fn nobody_creates_an_organization_named_like_a_personal_workspace(backend: Backend) {
    let app = spawn_app(backend).await;
    let viewer = common::user_with_role(&app.state, "viewer@example.com", "acme", Role::Viewer).await;
    let err = orgs::create_org(&app.state, &viewer, "carol-personal")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 400, "{err}");
    assert!(err.to_string().contains("-personal"), "{err}");
    let res = app
        .http
        .post(app.url("/api/v1/orgs"))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({"name": "carol-personal"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(app
        .state
        .store
        .org_by_name("carol-personal")
        .await
        .unwrap()
        .is_none());
    common::user(&app.state, "carol@example.com", "carol-team").await;
    assert_eq!(
        personal_of(&app.state, "carol@example.com").await.as_deref(),
        Some("carol-personal")
    );
}

/// An organization that took the name before the rule (or another account with the same
/// local part) leaves the account another name of the personal form, never a name
/// anyone could have made.
async fn a_taken_personal_name_falls_back_to_another_personal_name(backend: Backend) {
    let app = spawn_app(backend).await;
    app.db
        .execute("INSERT INTO orgs (name, created_at) VALUES ('dave-personal', 0)")
        .await;
    let dave = common::user(&app.state, "dave@example.com", "dave-team").await;
    let expected = format!("dave-{}-personal", dave.user_id);
    assert_eq!(
        personal_of(&app.state, "dave@example.com").await,
        Some(expected.clone())
    );
    assert!(app
        .state
        .store
        .membership(dave.user_id, "dave-personal")
        .await
        .unwrap()
        .is_none());
    let other = common::user(&app.state, "dave@example.org", "dave-team-2").await;
    assert_eq!(
        personal_of(&app.state, "dave@example.org").await,
        Some(format!("dave-{}-personal", other.user_id))
    );
}

/// SQL making the database refuse every new personal workspace, and SQL undoing it.
fn refuse_personal_workspaces(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "CREATE TRIGGER refuse_personal BEFORE INSERT ON orgs \
             WHEN NEW.personal_user_id IS NOT NULL \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
            "DROP TRIGGER refuse_personal;",
        ),
        Backend::Postgres => (
            "CREATE FUNCTION refuse_personal() RETURNS trigger AS $$ BEGIN \
             IF NEW.personal_user_id IS NOT NULL THEN RAISE EXCEPTION 'refused for the test'; \
             END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_personal BEFORE INSERT ON orgs FOR EACH ROW \
             EXECUTE FUNCTION refuse_personal();",
            "DROP TRIGGER refuse_personal ON orgs; DROP FUNCTION refuse_personal();",
        ),
    }
}

/// Account, workspace and membership are one transaction: a failed workspace insert
/// leaves no account behind (which would block the address for good).
async fn an_account_whose_workspace_fails_is_not_made(backend: Backend) {
    let app = spawn_app(backend).await;
    let (refuse, allow) = refuse_personal_workspaces(backend);
    app.db.execute(refuse).await;
    let hash = cloakroom::domain::auth::hash_password(PASSWORD).unwrap();
    let acme = app.principal.org.clone();
    orgs::create_account(
        &app.state,
        "frank@example.com",
        &hash,
        Some((&acme, Role::Member)),
    )
    .await
    .unwrap_err();
    assert_eq!(workspaces_of(&app.state, "frank@example.com").await, None);
    let members = app.state.store.members(acme.id).await.unwrap();
    assert!(!members.iter().any(|m| m.email == "frank@example.com"));
    app.db.execute(allow).await;
    orgs::create_account(
        &app.state,
        "frank@example.com",
        &hash,
        Some((&acme, Role::Member)),
    )
    .await
    .expect("the address is still free");
    assert_eq!(
        workspaces_of(&app.state, "frank@example.com").await.unwrap(),
        ["frank-personal", "acme"]
    );
}

/// The same for an account made by accepting an invitation: the invitation stays
/// usable, and works once the workspace can be made.
async fn an_invited_account_is_made_whole_or_not_at_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = orgs::invite(&app.state, &app.principal, "grace@example.com", Role::Member)
        .await
        .unwrap();
    let (refuse, allow) = refuse_personal_workspaces(backend);
    app.db.execute(refuse).await;
    assert!(orgs::accept(&app.state, &token, None, "a-new-long-password")
        .await
        .is_err());
    assert_eq!(workspaces_of(&app.state, "grace@example.com").await, None);
    let (_, has_account) = orgs::pending_invite(&app.state, &token)
        .await
        .expect("the invitation is still pending");
    assert!(!has_account);
    app.db.execute(allow).await;
    let accepted = orgs::accept(&app.state, &token, None, "a-new-long-password")
        .await
        .expect("the invitation works once the workspace can be made");
    assert_eq!(accepted.org, "acme");
    assert!(accepted.new_session.is_some());
    assert_eq!(
        workspaces_of(&app.state, "grace@example.com").await.unwrap(),
        ["grace-personal", "acme"]
    );
}

/// And for the setup link: a failed claim leaves no half-made instance and the link
/// still works.
async fn setting_up_the_instance_is_whole_or_not_at_all(backend: Backend) {
    use cloakroom::domain::setup;
    let db = TestDb::new(backend).await;
    let state = db.state(7).await;
    let link = setup::offer(&state).await.unwrap().expect("a setup link");
    let code = link.split("code=").nth(1).unwrap().to_owned();
    let (refuse, allow) = refuse_personal_workspaces(backend);
    db.execute(refuse).await;
    assert!(setup::claim(&state, &code, "first@example.com", PASSWORD, "acme")
        .await
        .is_err());
    assert_eq!(state.store.first_user_id().await.unwrap(), None);
    assert!(state.store.org_by_name("acme").await.unwrap().is_none());
    db.execute(allow).await;
    let claimed = setup::claim(&state, &code, "first@example.com", PASSWORD, "acme")
        .await
        .expect("the link still works");
    assert_eq!(claimed.org.name, "acme");
    assert_eq!(
        workspaces_of(&state, "first@example.com").await.unwrap(),
        ["first-personal", "acme"]
    );
    // The first organization cannot be named like a personal workspace either.
    let db = TestDb::new(backend).await;
    let state = db.state(7).await;
    let link = setup::offer(&state).await.unwrap().expect("a setup link");
    let code = link.split("code=").nth(1).unwrap().to_owned();
    let err = setup::claim(&state, &code, "first@example.com", PASSWORD, "eve-personal")
        .await
        .err()
        .expect("refused");
    assert_eq!(err.status_code(), 400, "{err}");
}

/// `personal_workspaces = false` (here through its environment variable) and
/// `org_creation = "first-owner"` both make accounts without a personal workspace.
async fn the_admin_command_follows_the_personal_workspaces_setting(backend: Backend) {
    let app = spawn_app(backend).await;
    let run = |email: &'static str, org: &'static str, env: &'static [(&'static str, &'static str)]| {
        let db = &app.db;
        async move { admin(db, &["create-user", "--email", email, "--org", org], env).await }
    };
    let out = run(
        "hank@example.com",
        "hank-team",
        &[("CLOAKROOM_PERSONAL_WORKSPACES", "false")],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("personal"), "{out:?}");
    assert_eq!(
        workspaces_of(&app.state, "hank@example.com").await.unwrap(),
        ["hank-team"]
    );
    let out = run(
        "ivy@example.com",
        "ivy-team",
        &[("CLOAKROOM_ORG_CREATION", "first-owner")],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        workspaces_of(&app.state, "ivy@example.com").await.unwrap(),
        ["ivy-team"]
    );
    let out = run("jack@example.com", "jack-team", &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("personal workspace jack-personal"), "{out:?}");
    assert_eq!(
        workspaces_of(&app.state, "jack@example.com").await.unwrap(),
        ["jack-personal", "jack-team"]
    );
}

/// Without personal workspaces an account sees the organizations it was invited to:
/// it signs in, its pages answer, and deleting the organization it works in moves its
/// session to another one instead of signing it out.
async fn an_account_without_a_personal_workspace_works(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.personal_workspaces = false).await;
    assert_eq!(
        workspaces_of(&app.state, "owner@example.com").await.unwrap(),
        ["acme"]
    );
    let token = orgs::invite(&app.state, &app.principal, "kim@example.com", Role::Member)
        .await
        .unwrap();
    let accepted = orgs::accept(&app.state, &token, None, PASSWORD).await.unwrap();
    assert!(accepted.new_session.is_some());
    assert_eq!(
        workspaces_of(&app.state, "kim@example.com").await.unwrap(),
        ["acme"]
    );
    let kim = app.session("kim@example.com").await;
    let home = common::http_client()
        .get(app.url("/secrets"))
        .header("cookie", &kim)
        .send()
        .await
        .unwrap();
    assert_eq!(home.headers()["location"], "/orgs/acme/secrets");
    for page in [
        "/orgs/acme/secrets",
        "/orgs/acme/deployments",
        "/orgs/acme/members",
        "/orgs/acme/tokens",
        "/orgs/acme/account",
        "/orgs/acme/audit",
        "/orgs/acme/new-organization",
    ] {
        let res = app
            .http
            .get(app.url(page))
            .header("cookie", &kim)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
    }

    // The owner's session works in acme; acme goes, the session moves to their other
    // organization.
    let owner = app.owner_session().await;
    orgs::create_org(&app.state, &app.principal, "second")
        .await
        .unwrap();
    orgs::delete_org(&app.state, &app.principal, "acme")
        .await
        .unwrap();
    let home = common::http_client()
        .get(app.url("/secrets"))
        .header("cookie", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(home.headers()["location"], "/orgs/second/secrets");
    // Kim belonged to acme only: signed out, and told so plainly rather than crashing.
    let home = common::http_client()
        .get(app.url("/secrets"))
        .header("cookie", &kim)
        .send()
        .await
        .unwrap();
    assert!(
        home.headers()["location"].to_str().unwrap().starts_with("/login"),
        "{:?}",
        home.headers()
    );
}

/// With `org_creation = "first-owner"`, accounts get no workspace of their own, the
/// first owner included: a personal workspace would be an organization they own.
async fn first_owner_instances_give_new_accounts_no_personal_workspace(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.org_creation = OrgCreation::FirstOwner).await;
    assert_eq!(
        workspaces_of(&app.state, "owner@example.com").await.unwrap(),
        ["acme"]
    );
    let token = orgs::invite(&app.state, &app.principal, "liz@example.com", Role::Viewer)
        .await
        .unwrap();
    orgs::accept(&app.state, &token, None, PASSWORD).await.unwrap();
    assert_eq!(
        workspaces_of(&app.state, "liz@example.com").await.unwrap(),
        ["acme"]
    );
}

/// Without personal workspaces, someone removed from their last organization signs in
/// with the right password and is told they belong to no organization, not that the
/// password is wrong.
async fn an_account_in_no_organization_is_told_so_at_sign_in(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.personal_workspaces = false).await;
    let token = orgs::invite(&app.state, &app.principal, "lee@example.com", Role::Member)
        .await
        .unwrap();
    orgs::accept(&app.state, &token, None, PASSWORD).await.unwrap();
    orgs::remove_member(&app.state, &app.principal, "lee@example.com")
        .await
        .unwrap();
    let err = cloakroom::domain::auth::login(&app.state, "lee@example.com", PASSWORD, "127.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 403, "{err}");
    assert!(err.to_string().contains("belongs to no organization"), "{err}");
    let wrong =
        cloakroom::domain::auth::login(&app.state, "lee@example.com", "not-the-password", "127.0.0.1")
            .await
            .unwrap_err();
    assert_eq!(wrong, cloakroom::error::AppError::BadCredentials);
}
