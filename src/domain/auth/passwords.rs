//! Passwords: hashing with argon2id, checked off the async workers through a bounded queue.

use super::*;
pub use crate::domain::crypto::{hash_password, verify_password};

/// Password checks and hashes that may be waiting or running at once, per core: beyond
/// it a sign-in is refused (429, retry in a second) at once instead of queueing without
/// end. Each check takes tens of milliseconds, so a full queue is under a second of work.
pub const PASSWORD_QUEUE_PER_CORE: usize = 8;

/// Shortest password the admin command accepts.
pub const MIN_PASSWORD_LEN: usize = 10;

/// A place in the bounded queue of argon2 work (see [`PasswordSlot::take`]); freed when
/// dropped, which is when the work it was taken for has finished.
pub struct PasswordSlot(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl PasswordSlot {
    /// A place in `state`'s queue of password work, or 503 at once when
    /// [`PASSWORD_QUEUE_PER_CORE`] per core are already waiting or running.
    pub fn take(state: &AppState) -> Result<Self, AppError> {
        use std::sync::atomic::Ordering;
        // Read once: finding the cores may read cgroup files.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let capacity = PASSWORD_QUEUE_PER_CORE * cores;
        let in_queue = std::sync::Arc::clone(&state.password_queue);
        let taken = in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            tracing::warn!("password check refused: {capacity} already waiting or running");
            return Err(AppError::Busy(1));
        }
        Ok(Self(in_queue))
    }
}

impl Drop for PasswordSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Runs argon2 work (19 MiB and tens of milliseconds each) on the blocking pool, at
/// most [`AppState::password_work`]'s number of them at once, holding `slot` of the
/// bounded queue: a flood of sign-ins slows sign-ins only, never the rest of the app, and
/// past the queue's end is refused at once. The permit and the slot go with the work
/// into the blocking pool: a caller that gives up (a closed connection) frees neither
/// before its hash has finished.
pub(super) async fn password_work<T: Send + 'static>(
    state: &AppState,
    slot: PasswordSlot,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = std::sync::Arc::clone(&state.password_work)
        .acquire_owned()
        .await
        .map_err(|_| AppError::Internal)?;
    state
        .password_checks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(tokio::task::spawn_blocking(move || {
        let _held = (permit, slot);
        work()
    })
    .await?)
}

/// Checks `password` against an argon2id hash, in the bounded pool.
pub async fn check_password(state: &AppState, hash: String, password: &str) -> Result<bool, AppError> {
    check_password_in(state, PasswordSlot::take(state)?, hash, password).await
}

/// [`check_password`] in a place of the queue taken beforehand.
pub(super) async fn check_password_in(
    state: &AppState,
    slot: PasswordSlot,
    hash: String,
    password: &str,
) -> Result<bool, AppError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, slot, move || verify_password(&hash, &password)).await
}

/// Hashes a new password, in the bounded pool.
pub async fn new_password_hash(state: &AppState, password: &str) -> Result<String, AppError> {
    let slot = PasswordSlot::take(state)?;
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, slot, move || hash_password(&password)).await?
}

/// Changes the signed-in user's password after checking the current one; every session
/// of theirs ends, and a new one (returned) replaces the caller's.
pub async fn change_password(
    state: &AppState,
    who: &Principal,
    current: &str,
    new: &str,
) -> Result<String, AppError> {
    let user = state
        .store
        .user_by_email(&who.email)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // A guess at the current password is a guess at the account's password: it is
    // limited like a sign-in from one address (whoever holds the session is one
    // guesser), and counts toward the account's failures (which slow sign-ins down).
    let scopes = [
        limit_scope(state, "password-change", &who.user_id.to_string()),
        limit_scope(state, "account", &crate::validate::normalize_email(&who.email)),
    ];
    let now = crate::domain::now();
    let attempt = reserve_attempt(state, &scopes, now, "password change", |counts| {
        limit_refusal(
            counts.get(..1).unwrap_or_default(),
            now,
            LOGIN_WINDOW_SECS,
            LOGIN_FAILURES_ALLOWED,
        )
    })
    .await?;
    if !check_password(state, user.password_hash.clone(), current).await? {
        // The attempt stays counted as a failure.
        return Err(AppError::validation(crate::validate::FieldError {
            field: "current".into(),
            message: "the current password is not right".into(),
        }));
    }
    state.store.release_login_attempt(&attempt).await?;
    if new.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::validation(crate::validate::FieldError {
            field: "new".into(),
            message: format!("the new password must be at least {MIN_PASSWORD_LEN} characters"),
        }));
    }
    let new_hash = new_password_hash(state, new).await?;
    let object = format!("member:{}", who.email);
    let audit = crate::domain::audit::entry(who, "password.change", &object, &[], "all sessions ended");
    state.store.set_password(user.id, &new_hash, audit).await?;
    let token = new_token("cks_");
    let now = crate::domain::now();
    state
        .store
        .create_session(
            &token_hash(&token),
            user.id,
            who.org.id,
            now,
            now + state.config.session_ttl_secs,
            None,
        )
        .await?;
    Ok(token)
}
