//! Storage tests on a real SQLite file, through the same service layer the server
//! uses: exact values, atomic writes, size limits, encryption at rest, AAD binding,
//! wrong-key refusal and organization scoping.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod common;

use cloakroom::error::AppError;
use cloakroom::server::secrets;
use cloakroom::validate::{parse_pairs, validate_pairs, ResourceName, SET_MAX_BYTES, VALUE_MAX_BYTES};
use common::{state_in, user};

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

#[tokio::test]
async fn values_survive_storage_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let big = "x".repeat(VALUE_MAX_BYTES);
    let mut list: Vec<(String, String)> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.to_string()))
        .collect();
    list.push(("BIG".into(), big));
    let input = validate_pairs(list.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let r = secrets::write(&state, &who, &name("prod"), input).await.unwrap();
    assert!(r.created);
    assert_eq!(r.added.len(), list.len());
    for (k, v) in &list {
        let got = secrets::reveal(&state, &who, "prod", k).await.unwrap();
        assert_eq!(got.expose(), v, "{k}");
    }
}

#[tokio::test]
async fn set_adds_and_updates_but_keeps_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(&state, &who, &name("s"), pairs(&[("A", "1"), ("B", "2")]))
        .await
        .unwrap();
    let r = secrets::write(&state, &who, &name("s"), pairs(&[("B", "3"), ("C", "4")]))
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

#[tokio::test]
async fn a_write_that_would_overflow_the_set_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let chunk = "v".repeat(VALUE_MAX_BYTES);
    // Exactly 1 MiB fits.
    let keys: Vec<String> = (0..SET_MAX_BYTES / VALUE_MAX_BYTES)
        .map(|i| format!("K{i}"))
        .collect();
    let full: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), chunk.as_str())).collect();
    secrets::write(&state, &who, &name("full"), pairs(&full))
        .await
        .unwrap();
    let before = secrets::detail(&state, &who, "full").await.unwrap();
    // Updating K0 to the same size still fits; adding one more byte anywhere does not.
    let err = secrets::write(
        &state,
        &who,
        &name("full"),
        pairs(&[("K0", "changed"), ("EXTRA", &"y".repeat(VALUE_MAX_BYTES))]),
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

#[tokio::test]
async fn an_invalid_pair_rejects_the_whole_write_and_lists_every_problem() {
    let err = parse_pairs("GOOD=1\nBAD.KEY=2\nNOEQUALS\n").unwrap_err();
    assert_eq!(err.len(), 2);
    // Nothing reaches the store when parsing fails; the store itself is all-or-nothing
    // (see the overflow test), so a failed write never leaves half of itself behind.
}

#[tokio::test]
async fn values_are_not_in_the_database_file_or_its_wal() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let marker = "PLAINTEXT-MARKER-q8Zt3";
    secrets::write(
        &state,
        &who,
        &name("s"),
        pairs(&[("K", marker), ("K2", &format!("{marker} again"))]),
    )
    .await
    .unwrap();
    let mut found_any_file = false;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("cloakroom.db") {
            found_any_file = true;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{name} contains the plaintext"
            );
        }
    }
    assert!(found_any_file);
    assert!(dir.path().join("cloakroom.db-wal").exists(), "WAL mode is on");
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_row_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(&state, &who, &name("s"), pairs(&[("A", "alpha"), ("B", "beta")]))
        .await
        .unwrap();
    secrets::write(&state, &who, &name("t"), pairs(&[("A", "gamma")]))
        .await
        .unwrap();
    let db = rusqlite::Connection::open(dir.path().join("cloakroom.db")).unwrap();
    // Copy s/A's ciphertext over s/B (other key) and over t/A (other set).
    db.execute_batch(
        "UPDATE secrets SET sealed = (SELECT k.sealed FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
           WHERE s.name = 's' AND k.key = 'A') \
         WHERE key = 'B' OR set_id = (SELECT id FROM secret_sets WHERE name = 't');",
    )
    .unwrap();
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

#[tokio::test]
async fn a_wrong_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    drop(state_in(&dir, 1).await);
    let config = cloakroom::server::config::Config::for_tests(dir.path(), "target/site");
    let err = cloakroom::server::state::AppState::open_with_key(config, Some(common::key_b64(2)), None)
        .await
        .err()
        .expect("a different key must be refused");
    assert!(err.contains("does not match"), "{err}");
    // The right key still opens it.
    drop(state_in(&dir, 1).await);
}

#[tokio::test]
async fn organizations_never_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let a = user(&state, "a@example.com", "org-a").await;
    let b = user(&state, "b@example.com", "org-b").await;
    secrets::write(&state, &a, &name("shared-name"), pairs(&[("K", "from a")]))
        .await
        .unwrap();
    assert!(state.store.list_sets(b.org.id).await.unwrap().is_empty());
    assert!(matches!(
        secrets::detail(&state, &b, "shared-name").await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        secrets::unset(&state, &b, "shared-name", "K").await,
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
    secrets::write(&state, &b, &name("shared-name"), pairs(&[("K", "from b")]))
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

#[tokio::test]
async fn equal_values_show_equal_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(
        &state,
        &who,
        &name("s"),
        pairs(&[("A", "same"), ("B", "same"), ("C", "other")]),
    )
    .await
    .unwrap();
    let d = secrets::detail(&state, &who, "s").await.unwrap();
    assert_eq!(d.keys[0].fingerprint, d.keys[1].fingerprint);
    assert_ne!(d.keys[0].fingerprint, d.keys[2].fingerprint);
    assert_eq!(d.keys[0].fingerprint.len(), 12);
}

#[tokio::test]
async fn unset_and_delete_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    secrets::write(&state, &who, &name("s"), pairs(&[("A", "1"), ("B", "2")]))
        .await
        .unwrap();
    secrets::unset(&state, &who, "s", "A").await.unwrap();
    assert_eq!(
        secrets::unset(&state, &who, "s", "A").await.unwrap_err(),
        AppError::NotFound("key \"A\" not found in set \"s\"".into())
    );
    assert_eq!(
        secrets::unset(&state, &who, "nope", "A").await.unwrap_err(),
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

#[tokio::test]
async fn sessions_and_tokens_resolve_to_their_user_and_org() {
    use cloakroom::server::crypto::token_hash;
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 1).await;
    let who = user(&state, "a@example.com", "acme").await;
    let (p, session) = cloakroom::server::auth::login(&state, "A@Example.com", common::PASSWORD)
        .await
        .unwrap();
    assert_eq!(p, who);
    let now = cloakroom::server::now();
    assert_eq!(
        state
            .store
            .principal_for_session(&token_hash(&session), now)
            .await
            .unwrap(),
        Some(who.clone())
    );
    let ttl = state.config.session_ttl_secs;
    assert_eq!(
        state
            .store
            .principal_for_session(&token_hash(&session), now + ttl + 1)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        cloakroom::server::auth::login(&state, "a@example.com", "wrong").await,
        Err(AppError::BadCredentials)
    ));
    assert!(matches!(
        cloakroom::server::auth::login(&state, "nobody@example.com", "wrong").await,
        Err(AppError::BadCredentials)
    ));
    let token = cloakroom::server::auth::create_api_token(&state, &who, "ci")
        .await
        .unwrap();
    assert!(token.starts_with("ckr_"));
    assert_eq!(
        state
            .store
            .principal_for_token(&token_hash(&token), now)
            .await
            .unwrap(),
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
