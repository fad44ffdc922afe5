//! Storage tests on a real SQLite file, through the same service layer the server
//! uses: exact values, atomic writes, size limits, encryption at rest, AAD binding,
//! wrong-key refusal and organization scoping.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::domain::principal::Principal;
use cloakroom::domain::secrets;
use cloakroom::error::AppError;
use cloakroom::validate::{validate_pairs, ResourceName, SET_MAX_BYTES, VALUE_MAX_BYTES};
use common::{user, Backend, TestDb};

fn name(s: &str) -> ResourceName {
    ResourceName::parse(s).unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<cloakroom::validate::Pair> {
    validate_pairs(list.iter().copied()).unwrap()
}

const NASTY: &[&str] = &[
    "",
    " leading and trailing spaces  ",
    "quotes \" ' and backslashes \\ \\\\",
    "$HOME `id` ${X} ~ * ?",
    "equals=in=value",
    "line one\nline two\r\nthree\n",
    "tabs\tand\u{0}nul",
    "unicode: héllo wörld ✓ 🚀 日本語",
];

async fn values_survive_storage_byte_for_byte(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let big = "x".repeat(VALUE_MAX_BYTES);
    let mut list: Vec<(String, String)> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.to_string()))
        .collect();
    list.push(("BIG".into(), big));
    let input = validate_pairs(list.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let r = secrets::write(&state, &who, &name("prod"), input, None)
        .await
        .unwrap();
    assert!(r.created);
    assert_eq!(r.added.len(), list.len());
    for (k, v) in &list {
        let got = secrets::reveal(&state, &who, "prod", k).await.unwrap();
        assert_eq!(got.expose(), v, "{k}");
    }
}

async fn set_adds_and_updates_but_keeps_other_keys(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(&state, &who, &name("s"), pairs(&[("A", "1"), ("B", "2")]), None)
        .await
        .unwrap();
    let r = secrets::write(&state, &who, &name("s"), pairs(&[("B", "3"), ("C", "4")]), None)
        .await
        .unwrap();
    assert!(!r.created);
    assert_eq!(r.added, vec!["C"]);
    assert_eq!(r.updated, vec!["B"]);
    let detail = secrets::detail(&state, &who, "s").await.unwrap();
    let keys: Vec<_> = detail.keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, vec!["A", "B", "C"]);
    assert_eq!(
        secrets::reveal(&state, &who, "s", "B").await.unwrap().expose(),
        "3"
    );
    assert_eq!(
        secrets::reveal(&state, &who, "s", "A").await.unwrap().expose(),
        "1"
    );
}

async fn a_write_that_would_overflow_the_set_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let chunk = "v".repeat(VALUE_MAX_BYTES);
    // Exactly 1 MiB fits.
    let keys: Vec<String> = (0..SET_MAX_BYTES / VALUE_MAX_BYTES)
        .map(|i| format!("K{i}"))
        .collect();
    let full: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), chunk.as_str())).collect();
    secrets::write(&state, &who, &name("full"), pairs(&full), None)
        .await
        .unwrap();
    let before = secrets::detail(&state, &who, "full").await.unwrap();
    // Updating K0 to the same size still fits; adding one more byte anywhere does not.
    let err = secrets::write(
        &state,
        &who,
        &name("full"),
        pairs(&[("K0", "changed"), ("EXTRA", &"y".repeat(VALUE_MAX_BYTES))]),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::TooLarge(_)), "{err:?}");
    assert!(err.to_string().contains("at most 1048576"), "{err}");
    let after = secrets::detail(&state, &who, "full").await.unwrap();
    assert_eq!(before, after);
    assert_eq!(
        secrets::reveal(&state, &who, "full", "K0")
            .await
            .unwrap()
            .expose(),
        chunk
    );
}

async fn values_are_not_in_the_database_file_or_its_wal(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let marker = "PLAINTEXT-MARKER-q8Zt3";
    secrets::write(
        &state,
        &who,
        &name("s"),
        pairs(&[("K", marker), ("K2", &format!("{marker} again"))]),
        None,
    )
    .await
    .unwrap();
    // Every file the database keeps: the SQLite file and its WAL, or (PostgreSQL,
    // after a checkpoint) the whole cluster directory including pg_wal.
    let files = match backend {
        Backend::Sqlite => {
            assert!(db.dir.path().join("cloakroom.db-wal").exists(), "WAL mode is on");
            files_under(db.dir.path())
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client.batch_execute("CHECKPOINT").await.unwrap();
            let dir: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
            files_under(std::path::Path::new(&dir))
        }
    };
    assert!(!files.is_empty());
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{} contains the plaintext",
            path.display()
        );
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        // The server may remove a directory (temporary files) between listing and reading.
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == needle[0])
        .any(|(i, _)| haystack[i..].starts_with(needle))
}

async fn a_ciphertext_copied_to_another_row_does_not_decrypt(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(
        &state,
        &who,
        &name("s"),
        pairs(&[("A", "alpha"), ("B", "beta")]),
        None,
    )
    .await
    .unwrap();
    secrets::write(&state, &who, &name("t"), pairs(&[("A", "gamma")]), None)
        .await
        .unwrap();
    // Copy s/A's ciphertext over s/B (other key) and over t/A (other set).
    db.execute(
        "UPDATE secrets SET sealed = (SELECT k.sealed FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
           WHERE s.name = 's' AND k.key = 'A') \
         WHERE key = 'B' OR set_id = (SELECT id FROM secret_sets WHERE name = 't');",
    )
    .await;
    assert_eq!(
        secrets::reveal(&state, &who, "s", "A").await.unwrap().expose(),
        "alpha"
    );
    assert_eq!(
        secrets::reveal(&state, &who, "s", "B").await.unwrap_err(),
        AppError::Internal
    );
    assert_eq!(
        secrets::reveal(&state, &who, "t", "A").await.unwrap_err(),
        AppError::Internal
    );
}

async fn a_wrong_master_key_refuses_to_start(backend: Backend) {
    let db = TestDb::new(backend).await;
    drop(db.state(1).await);
    let err = cloakroom::domain::state::AppState::open_with_key(db.config(), Some(common::key_b64(2)), None)
        .await
        .err()
        .expect("a different key must be refused");
    assert!(err.contains("does not match"), "{err}");
    // The right key still opens it.
    drop(db.state(1).await);
}

async fn organizations_never_see_each_other(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let a = user(&state, "a@example.com", "org-a").await;
    let b = user(&state, "b@example.com", "org-b").await;
    secrets::write(&state, &a, &name("shared-name"), pairs(&[("K", "from a")]), None)
        .await
        .unwrap();
    assert!(state.store.list_sets(b.org.id).await.unwrap().is_empty());
    assert!(matches!(
        secrets::detail(&state, &b, "shared-name").await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        secrets::unset(&state, &b, "shared-name", "K", None).await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        secrets::delete(&state, &b, "shared-name").await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        secrets::reveal(&state, &b, "shared-name", "K").await,
        Err(AppError::NotFound(_))
    ));
    // b's own set of the same name is separate.
    secrets::write(&state, &b, &name("shared-name"), pairs(&[("K", "from b")]), None)
        .await
        .unwrap();
    assert_eq!(
        secrets::reveal(&state, &a, "shared-name", "K")
            .await
            .unwrap()
            .expose(),
        "from a"
    );
    assert_eq!(
        secrets::reveal(&state, &b, "shared-name", "K")
            .await
            .unwrap()
            .expose(),
        "from b"
    );
    let fa = &secrets::detail(&state, &a, "shared-name").await.unwrap().keys[0].fingerprint;
    let fb = &secrets::detail(&state, &b, "shared-name").await.unwrap().keys[0].fingerprint;
    assert_ne!(fa, fb);
}

async fn fingerprints_are_bound_to_their_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(
        &state,
        &who,
        &name("s"),
        pairs(&[("A", "same"), ("B", "same"), ("C", "other")]),
        None,
    )
    .await
    .unwrap();
    // Fingerprints are bound to their place: equal values under two keys show two
    // fingerprints, and a key's fingerprint stays while its value does.
    let d = secrets::detail(&state, &who, "s").await.unwrap();
    let print = |i: usize| d.keys[i].fingerprint.clone().unwrap();
    assert_ne!(print(0), print(1));
    assert_ne!(print(0), print(2));
    assert_eq!(print(0).len(), 12);
    secrets::write(&state, &who, &name("s"), pairs(&[("B", "changed")]), None)
        .await
        .unwrap();
    let again = secrets::detail(&state, &who, "s").await.unwrap();
    assert_eq!(again.keys[0].fingerprint, d.keys[0].fingerprint);
    assert_ne!(again.keys[1].fingerprint, d.keys[1].fingerprint);
}

async fn unset_and_delete_say_what_is_missing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(&state, &who, &name("s"), pairs(&[("A", "1"), ("B", "2")]), None)
        .await
        .unwrap();
    secrets::unset(&state, &who, "s", "A", None).await.unwrap();
    assert_eq!(
        secrets::unset(&state, &who, "s", "A", None).await.unwrap_err(),
        AppError::NotFound("key \"A\" not found in set \"s\"".into())
    );
    assert_eq!(
        secrets::unset(&state, &who, "nope", "A", None).await.unwrap_err(),
        AppError::NotFound("secret set \"nope\" not found".into())
    );
    secrets::delete(&state, &who, "s").await.unwrap();
    assert!(state
        .store
        .sealed_value(who.org.id, "s", "B")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        secrets::delete(&state, &who, "s").await,
        Err(AppError::NotFound(_))
    ));
    // Creating an existing set is a conflict; creating a new one gives an empty set.
    secrets::create(&state, &who, &name("e")).await.unwrap();
    assert!(matches!(
        secrets::create(&state, &who, &name("e")).await,
        Err(AppError::Conflict(_))
    ));
    assert!(secrets::detail(&state, &who, "e").await.unwrap().keys.is_empty());
}

async fn sessions_and_tokens_resolve_to_their_user_and_org(backend: Backend) {
    use cloakroom::domain::crypto::token_hash;
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let (p, session) = cloakroom::domain::auth::login(&state, "A@Example.com", common::PASSWORD, "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(p, who);
    let now = cloakroom::domain::now();
    assert_eq!(
        state
            .store
            .principal_for_session(&token_hash(&session), now, now - 60)
            .await
            .unwrap()
            .map(|a| Principal::acting(a, who.via)),
        Some(who.clone())
    );
    let ttl = state.config.session_ttl_secs;
    assert_eq!(
        state
            .store
            .principal_for_session(&token_hash(&session), now + ttl + 1, now)
            .await
            .unwrap(),
        None,
        "past its absolute expiry"
    );
    assert_eq!(
        state
            .store
            .principal_for_session(&token_hash(&session), now + 120, now + 1)
            .await
            .unwrap(),
        None,
        "unused since before the idle cut-off"
    );
    assert!(matches!(
        cloakroom::domain::auth::login(&state, "a@example.com", "wrong", "127.0.0.1").await,
        Err(AppError::BadCredentials)
    ));
    assert!(matches!(
        cloakroom::domain::auth::login(&state, "nobody@example.com", "wrong", "127.0.0.1").await,
        Err(AppError::BadCredentials)
    ));
    let token = cloakroom::domain::auth::create_api_token(&state, &who, "ci")
        .await
        .unwrap();
    assert!(token.starts_with("ckr_"));
    assert_eq!(
        state
            .store
            .principal_for_token(&token_hash(&token), now)
            .await
            .unwrap()
            .map(|a| Principal::acting(a, who.via)),
        Some(who)
    );
    assert_eq!(
        state
            .store
            .principal_for_token(&token_hash("ckr_nope"), now)
            .await
            .unwrap(),
        None
    );
}

async fn a_write_demanding_an_old_revision_is_refused_and_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let r = secrets::write(&state, &who, &name("s"), pairs(&[("A", "1")]), Some(0))
        .await
        .unwrap();
    assert_eq!((r.created, r.revision), (true, 1));
    let r = secrets::write(&state, &who, &name("s"), pairs(&[("B", "2")]), Some(1))
        .await
        .unwrap();
    assert_eq!(r.revision, 2);
    let err = secrets::write(&state, &who, &name("s"), pairs(&[("C", "3")]), Some(1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppError::Stale(
            "secret set \"s\" changed since you loaded it (revision 1, now 2); reload it and try again"
                .into()
        )
    );
    assert_eq!(err.status_code(), 412);
    let d = secrets::detail(&state, &who, "s").await.unwrap();
    assert_eq!(d.revision, 2);
    assert_eq!(d.keys.len(), 2);
    assert!(matches!(
        secrets::unset(&state, &who, "s", "A", Some(1)).await,
        Err(AppError::Stale(_))
    ));
    assert_eq!(secrets::unset(&state, &who, "s", "A", Some(2)).await.unwrap(), 3);
    assert!(matches!(
        secrets::write(&state, &who, &name("new"), pairs(&[("A", "1")]), Some(4)).await,
        Err(AppError::Stale(_))
    ));
    assert!(state.store.get_set(who.org.id, "new").await.unwrap().is_none());
}

async fn concurrent_writers_to_different_keys_of_one_set_all_land(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (state, who) = (state.clone(), who.clone());
            tokio::spawn(async move {
                let key = format!("K{i}");
                let value = format!("v{i}");
                secrets::write(
                    &state,
                    &who,
                    &name("busy"),
                    pairs(&[(key.as_str(), value.as_str())]),
                    None,
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let d = secrets::detail(&state, &who, "busy").await.unwrap();
    assert_eq!(d.keys.len(), 20);
    assert_eq!(d.revision, 20);
    for i in 0..20 {
        let v = secrets::reveal(&state, &who, "busy", &format!("K{i}"))
            .await
            .unwrap();
        assert_eq!(v.expose(), format!("v{i}"));
    }
}

/// Every page of a search of the sets list, following the cursor with `limit` names a
/// page.
async fn searched(
    state: &cloakroom::domain::state::AppState,
    who: &cloakroom::domain::principal::Principal,
    q: &str,
    limit: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let query = cloakroom::model::ListQuery {
            q: Some(q.to_owned()),
            after: after.take(),
            limit,
        };
        let page = secrets::page(state, who, &query).await.unwrap();
        out.extend(page.sets.into_iter().map(|s| s.name));
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}

/// Searching names goes through the trigram index for texts of three characters or
/// more: it finds exactly the names containing the text, in name order and across
/// pages, and follows sets created by a write, deleted and restored under a new name.
async fn search_finds_exactly_the_names_containing_the_text(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let other = user(&state, "b@example.com", "other").await;
    let mut names: Vec<String> = (0..40).map(|i| format!("svc-{:03}", i * 7)).collect();
    names.extend(
        [
            "ab", "abc", "xabcx", "ab-c", "prod-api", "api-prod", "aaaa", "a-aaa-a",
        ]
        .map(String::from),
    );
    for (i, n) in names.iter().enumerate() {
        if i % 2 == 0 {
            secrets::create(&state, &who, &name(n)).await.unwrap();
        } else {
            // A write creates the set too.
            secrets::write(&state, &who, &name(n), pairs(&[("K", "v")]), None)
                .await
                .unwrap();
        }
    }
    // Another organization's names never show.
    secrets::create(&state, &other, &name("svc-014")).await.unwrap();
    secrets::create(&state, &other, &name("abcdef")).await.unwrap();
    let check = |names: Vec<String>| {
        let state = &state;
        let who = &who;
        async move {
            let mut sorted = names.clone();
            sorted.sort();
            for q in [
                "0", "01", "014", "svc-0", "svc-01", "-0", "abc", "ab", "api", "prod-api", "pi-", "zzz",
                "aaa", "a-a", "c-1", "svc-26", "svc-266", "SVC-14", " c-1 ",
            ] {
                let text = q.trim().to_ascii_lowercase();
                let want: Vec<String> = sorted.iter().filter(|n| n.contains(&text)).cloned().collect();
                for limit in [3, 100] {
                    assert_eq!(
                        searched(state, who, q, limit).await,
                        want,
                        "search {q:?}, {limit} a page"
                    );
                }
            }
        }
    };
    check(names.clone()).await;
    // Deleting takes a name out; restoring under a new name puts that one in.
    secrets::delete(&state, &who, "svc-014").await.unwrap();
    names.retain(|n| n != "svc-014");
    check(names.clone()).await;
    let gone = cloakroom::domain::history::deleted(&state, &who).await.unwrap();
    let id = gone.iter().find(|d| d.name == "svc-014").unwrap().id;
    cloakroom::domain::history::undelete(&state, &who, id, Some(&name("restored-014")))
        .await
        .unwrap();
    names.push("restored-014".into());
    check(names.clone()).await;
}

/// A database from before the index (migration 11) gets its sets and deployments
/// indexed when it is opened: the migration is undone by hand, then the state is
/// opened again and searches.
async fn the_search_index_is_built_for_existing_names(backend: Backend) {
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let who = user(&state, "a@example.com", "acme").await;
    for n in ["alpha-one", "beta-two", "gamma-one"] {
        secrets::create(&state, &who, &name(n)).await.unwrap();
    }
    drop(state);
    let undo = format!(
        "{} {}",
        common::undo_search_index(backend),
        match backend {
            Backend::Sqlite => "PRAGMA user_version = 10;",
            Backend::Postgres => "DELETE FROM schema_migrations WHERE version >= 11;",
        }
    );
    db.try_execute(&undo).await.unwrap();
    let state = db.state(1).await;
    assert_eq!(
        searched(&state, &who, "-one", 10).await,
        ["alpha-one", "gamma-one"]
    );
    assert_eq!(searched(&state, &who, "two", 10).await, ["beta-two"]);
}

on_both_backends!(
    values_survive_storage_byte_for_byte,
    set_adds_and_updates_but_keeps_other_keys,
    a_write_that_would_overflow_the_set_changes_nothing,
    values_are_not_in_the_database_file_or_its_wal,
    a_ciphertext_copied_to_another_row_does_not_decrypt,
    a_wrong_master_key_refuses_to_start,
    organizations_never_see_each_other,
    fingerprints_are_bound_to_their_key,
    unset_and_delete_say_what_is_missing,
    sessions_and_tokens_resolve_to_their_user_and_org,
    a_write_demanding_an_old_revision_is_refused_and_changes_nothing,
    concurrent_writers_to_different_keys_of_one_set_all_land,
    email_addresses_are_one_address_in_any_letter_case,
    both_databases_have_the_same_indexes,
    search_finds_exactly_the_names_containing_the_text,
    the_search_index_is_built_for_existing_names,
);

/// One email rule on both databases: addresses are case-folded by Unicode's rules when
/// stored and when looked up, so a sign-in, a second account, a role change and the
/// audit filter all treat `Ünal@…` and `ünal@…` as one address; addresses stored
/// before the rule are folded when the store opens.
async fn email_addresses_are_one_address_in_any_letter_case(backend: Backend) {
    use cloakroom::domain::{audit, auth, orgs};
    use cloakroom::model::{AuditFilter, Role};
    let db = TestDb::new(backend).await;
    let state = db.state(1).await;
    let owner = user(&state, "owner@example.com", "acme").await;
    let member = common::user_with_role(&state, "Ünal.Öztürk@Example.COM", "acme", Role::Member).await;
    for spelling in [
        "ünal.öztürk@example.com",
        "ÜNAL.ÖZTÜRK@EXAMPLE.COM",
        " Ünal.Öztürk@example.com ",
    ] {
        let (who, _) = auth::login(&state, spelling, common::PASSWORD, "test")
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(who.user_id, member.user_id);
        assert_eq!(who.email, "ünal.öztürk@example.com");
    }
    let hash = auth::hash_password(common::PASSWORD).unwrap();
    let again = orgs::create_account(&state, "ÜNAL.öztürk@EXAMPLE.com", &hash, None).await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
    orgs::change_role(&state, &owner, "ÜNAL.ÖZTÜRK@example.com", Role::Viewer)
        .await
        .unwrap();
    let members = orgs::members(&state, &owner).await.unwrap();
    let m = members.iter().find(|m| m.email.starts_with('ü')).unwrap();
    assert_eq!(
        (m.email.as_str(), m.role),
        ("ünal.öztürk@example.com", Role::Viewer)
    );
    secrets::write(&state, &owner, &name("app"), pairs(&[("K", "v")]), None)
        .await
        .unwrap();
    let filter = AuditFilter {
        actor: Some("OWNER@Example.com".into()),
        ..Default::default()
    };
    assert!(!audit::list(&state, &owner, filter).await.unwrap().is_empty());
    // Action filters compare letter case exactly on both (SQLite's LIKE ignored ASCII case).
    let filter = |action: &str| AuditFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    assert!(!audit::list(&state, &owner, filter("secrets."))
        .await
        .unwrap()
        .is_empty());
    assert!(audit::list(&state, &owner, filter("SECRETS."))
        .await
        .unwrap()
        .is_empty());

    // An address stored in another case before this rule is folded at start-up.
    drop(state);
    db.execute("UPDATE users SET email = 'ZOË@Example.com' WHERE email = 'owner@example.com'")
        .await;
    let state = db.state(1).await;
    let (who, _) = auth::login(&state, "zoë@example.com", common::PASSWORD, "test")
        .await
        .unwrap();
    assert_eq!(
        (who.user_id, who.email.as_str()),
        (owner.user_id, "zoë@example.com")
    );
}

/// The indexes one database has, the other has too (SQLite once lacked the one that
/// expired sessions are deleted by). Dropping an index succeeds only where it exists.
async fn both_databases_have_the_same_indexes(backend: Backend) {
    let db = TestDb::new(backend).await;
    drop(db.state(1).await);
    for index in ["sessions_expires", "audit_log_org", "login_failures_scope"] {
        db.try_execute(&format!("DROP INDEX {index}"))
            .await
            .unwrap_or_else(|e| panic!("{backend:?} lacks index {index}: {e}"));
    }
}
