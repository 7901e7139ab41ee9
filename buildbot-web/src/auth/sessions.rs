//! The authentication state kept between requests ([`AuthState`]): the policy of the
//! configuration in force, the sessions made by `/auth/login`, and the HTTP Basic
//! credentials verified lately.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buildbot_core::master::MasterHandle;
use buildbot_core::master::config::MasterConfig;

use super::config::{EndpointKind, UserSource};
use super::password;
use super::policy::{Action, Denied, Policy, User};

/// How long a session lives without use.
const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a verified Basic credential is remembered (hash checks are slow on purpose).
const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Session {
    user: User,
    expires: Instant,
}

/// Sessions and users.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    /// The policy of the configuration it was read from (`buildbot reconfig` replaces it).
    policy: Mutex<(Option<Arc<MasterConfig>>, Arc<Policy>)>,
    sessions: Mutex<HashMap<String, Session>>,
    basic_cache: Mutex<HashMap<[u8; 32], (User, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AuthState {
    /// The state for `handle`'s configuration, without sessions.
    pub(crate) fn new(handle: &MasterHandle) -> Self {
        let st = AuthState::default();
        st.refresh(handle);
        st
    }

    /// Re-reads the policy when the master's configuration was replaced (reconfig); the
    /// sessions stay, remembered Basic credentials are checked again.
    pub(super) fn refresh(&self, handle: &MasterHandle) {
        let cfg = handle.config();
        let mut cur = lock(&self.policy);
        if cur.0.as_ref().is_some_and(|c| Arc::ptr_eq(c, &cfg)) {
            return;
        }
        let changed = cur
            .0
            .as_ref()
            .is_none_or(|c| c.www != cfg.www || c.buildbot_url != cfg.buildbot_url);
        if changed {
            cur.1 = Arc::new(Policy::load(&cfg, handle.basedir()));
            lock(&self.basic_cache).clear();
        }
        cur.0 = Some(cfg);
    }

    /// The policy in force.
    pub(super) fn policy(&self) -> Arc<Policy> {
        lock(&self.policy).1.clone()
    }

    /// Whether anonymous users may read.
    pub(super) fn anonymous_read(&self) -> bool {
        self.policy().anonymous_read()
    }

    /// Starts a session for `user`; its id (the cookie value).
    pub(super) fn new_session(&self, user: User) -> String {
        let bytes: [u8; 32] = rand::random();
        let id = hex::encode(bytes);
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        s.retain(|_, v| v.expires > now);
        s.insert(
            id.clone(),
            Session {
                user,
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    /// The user of a live session (whose life is extended).
    pub(super) fn session_user(&self, id: &str) -> Option<User> {
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        let sess = s.get_mut(id)?;
        if sess.expires <= now {
            s.remove(id);
            return None;
        }
        sess.expires = now + SESSION_TTL;
        Some(sess.user.clone())
    }

    /// Ends the session `id` (logout).
    pub(super) fn end_session(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    /// Checks `username`/`password` against the configured users.
    pub(super) async fn verify(
        &self,
        handle: &MasterHandle,
        username: &str,
        password: &str,
    ) -> Option<User> {
        let policy = self.policy();
        let auth = policy.auth.as_ref()?;
        if policy.error.is_some() {
            return None;
        }
        let key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(username.as_bytes());
            h.update([0u8]);
            h.update(password.as_bytes());
            let out: [u8; 32] = h.finalize().into();
            out
        };
        if let Some((u, t)) = lock(&self.basic_cache).get(&key)
            && *t > Instant::now()
        {
            return Some(u.clone());
        }
        let ok = match &auth.users {
            UserSource::Inline(m) => m
                .get(username)
                .is_some_and(|p| password::constant_eq(p.as_bytes(), password.as_bytes())),
            UserSource::File(m) => m
                .get(username)
                .is_some_and(|h| password::verify_hash(h, password)),
            UserSource::Db => match handle.db().get_user_by_username(username).await {
                Ok(Some(u)) => u
                    .bb_password
                    .as_deref()
                    .is_some_and(|h| password::verify_buildbot_sha1(h, password)),
                Ok(None) => false,
                Err(e) => {
                    log::error!("cannot read user {username:?} for a web login: {e}");
                    false
                }
            },
        };
        if !ok {
            return None;
        }
        let user = User {
            username: username.to_owned(),
            email: username.to_owned(),
            groups: auth.groups.get(username).cloned().unwrap_or_default(),
            via_cookie: false,
        };
        let mut c = lock(&self.basic_cache);
        let now = Instant::now();
        c.retain(|_, (_, t)| *t > now);
        c.insert(key, (user.clone(), now + BASIC_CACHE_TTL));
        Some(user)
    }

    /// The user's roles from every role matcher.
    pub(super) fn roles(&self, user: &User) -> Vec<String> {
        self.policy().roles(user)
    }

    /// Decides an action on an endpoint (see [`Policy::decide`]).
    pub(super) fn decide(
        &self,
        user: Option<&User>,
        action: Action,
        endpoint: EndpointKind,
        targets: &[String],
    ) -> Result<(), Denied> {
        self.policy()
            .decide(user, action.method(), endpoint, targets)
    }
}
