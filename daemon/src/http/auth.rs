//! Operator authentication: argon2id passwords, session cookies (HttpOnly, SameSite=Strict),
//! CSRF tokens, lockout after repeated failures, and the first-start admin account.
//!
//! `/api/v1` accepts either the bearer API token (automation; acts as `api` with the admin role)
//! or a session cookie, in which case every state-changing request must carry the session's
//! CSRF token in `X-CSRF-Token`. Pages accept only a session; their forms carry `_csrf`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::html::url_enc;
use super::{constant_time_eq, AdminState, ApiError};
use crate::store::{Role, Store};

/// Session cookie name.
pub const SESSION_COOKIE: &str = "hadir_session";
/// Cookie holding the login form's CSRF token (before there is a session).
pub const LOGIN_COOKIE: &str = "hadir_login";
/// Header carrying the CSRF token on API requests made with a session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts, hours.
pub const SESSION_HOURS: i64 = 12;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// File in the data directory holding the first admin's one-time password.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Operator name (`api` for the bearer token).
    pub name: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token (empty for the bearer token).
    pub csrf: String,
    /// SHA-256 of the session token (None for the bearer token).
    pub session: Option<String>,
    /// The password must be changed before anything else.
    pub must_change: bool,
}

impl Caller {
    /// `Forbidden` unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} may not do this (needs {})",
                self.role.as_str(),
                role.as_str()
            )))
        }
    }

    /// `Forbidden` unless `given` is this session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), ApiError> {
        if self.session.is_none()
            || (!given.is_empty() && constant_time_eq(given.as_bytes(), self.csrf.as_bytes()))
        {
            Ok(())
        } else {
            Err(ApiError::Forbidden("missing or wrong CSRF token".into()))
        }
    }
}

/// The value of a cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// SHA-256 hex.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Hashes a password with argon2id (slow on purpose: run it off the async workers).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ApiError::Unavailable(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Unavailable(format!("password hashing: {e}")))
}

/// Whether `password` matches the PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password against the policy.
pub fn password_policy(name: &str, password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::BadRequest(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > 256 {
        return Err(ApiError::BadRequest(
            "the password must have at most 256 bytes".into(),
        ));
    }
    if password.eq_ignore_ascii_case(name) {
        return Err(ApiError::BadRequest(
            "the password must not be the login name".into(),
        ));
    }
    Ok(())
}

/// Checks an operator login name: 2–32 lower-case letters, digits, `.`, `-`, `_`.
pub fn name_ok(name: &str) -> Result<(), ApiError> {
    if (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "the login name must be 2–32 lower-case letters, digits, '.', '-' or '_'".into(),
        ))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unavailable(format!("worker: {e}")))
}

/// Hashes off the async workers.
pub async fn hash_password_async(password: String) -> Result<String, ApiError> {
    blocking(move || hash_password(&password)).await?
}

/// A fixed hash to compare against when the name is unknown, so timing does not tell.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

/// A successful login.
pub struct LoggedIn {
    /// The cookie token (only its hash is stored).
    pub token: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Role.
    pub role: Role,
    /// Must change the password now.
    pub must_change: bool,
}

/// Checks a name and password, applying the lockout; opens a session on success.
pub async fn login(store: &Store, name: &str, password: &str) -> Result<LoggedIn, ApiError> {
    let wrong = || ApiError::Unauthorized;
    let record = store.login_record(name.to_string()).await?;
    let now = jiff::Timestamp::now().to_string();
    if let Some(until) = record
        .as_ref()
        .and_then(|r| r.operator.locked_until_utc.clone())
        .filter(|u| *u > now)
    {
        return Err(ApiError::Locked(format!(
            "too many failed logins: the account is locked until {until} (UTC)"
        )));
    }
    let phc = record
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    let ok = blocking(move || verify_password(&pw, &phc)).await? && record.is_some();
    let Some(record) = record.filter(|_| ok) else {
        if store.login_failed(name.to_string()).await? {
            tracing::warn!(
                operator = name,
                "operator account locked after repeated failed logins"
            );
        }
        return Err(wrong());
    };
    let token = random_hex(32);
    let csrf = random_hex(24);
    store
        .open_session(
            record.operator.name.clone(),
            sha256_hex(&token),
            csrf.clone(),
            SESSION_HOURS,
        )
        .await?;
    Ok(LoggedIn {
        token,
        csrf,
        role: record.operator.role,
        must_change: record.operator.must_change,
    })
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_HOURS * 3600
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("hadir_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

async fn caller_from_parts(parts: &Parts, st: &AdminState) -> Result<Option<Caller>, ApiError> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let given = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        if constant_time_eq(given.as_bytes(), st.api_token.expose().as_bytes()) {
            return Ok(Some(Caller {
                name: "api".into(),
                role: Role::Admin,
                csrf: String::new(),
                session: None,
                must_change: false,
            }));
        }
        return Err(ApiError::Unauthorized);
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let hash = sha256_hex(&token);
    Ok(st.store.session(hash.clone()).await?.map(|s| Caller {
        name: s.operator,
        role: s.role,
        csrf: s.csrf,
        session: Some(hash),
        must_change: s.must_change,
    }))
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An `/api/v1` caller: bearer token, or session with `X-CSRF-Token` on state-changing requests.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AdminState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AdminState) -> Result<Self, ApiError> {
        let caller = caller_from_parts(parts, st)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !is_safe(&parts.method) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            caller.check_csrf(given)?;
        }
        if caller.must_change && !parts.uri.path().starts_with("/api/v1/session") {
            return Err(ApiError::Forbidden(
                "change the one-time password first (POST /api/v1/session/password)".into(),
            ));
        }
        Ok(ApiCaller(caller))
    }
}

/// A page caller: a session, or a redirect to the login page.
pub struct PageCaller(pub Caller);

/// Where an unauthenticated page request goes.
pub struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to(&self.0).into_response()
    }
}

impl FromRequestParts<AdminState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AdminState) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let caller = match caller_from_parts(parts, st).await {
            Ok(Some(c)) if c.session.is_some() => c,
            Ok(_) | Err(ApiError::Unauthorized) => {
                return Err(ToLogin(format!("/login?next={}", url_enc(&here))).into_response())
            }
            Err(e) => return Err(e.into_response()),
        };
        let path = parts.uri.path();
        if caller.must_change && path != "/password" && path != "/logout" {
            return Err(Redirect::to("/password").into_response());
        }
        Ok(PageCaller(caller))
    }
}

/// Only same-site absolute paths are followed after login.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginIn {
    name: String,
    password: String,
}

/// `POST /api/v1/session`: JSON login (Content-Type must be JSON, so no form can forge it).
pub(super) async fn api_login(
    State(st): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::BadRequest(
            "send the login as Content-Type: application/json".into(),
        ));
    }
    let l: LoginIn =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("login: {e}")))?;
    let done = login(&st.store, &l.name, &l.password).await?;
    let mut resp = Json(serde_json::json!({
        "operator": l.name,
        "role": done.role,
        "must_change_password": done.must_change,
        "csrf_token": done.csrf,
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&done.token));
    Ok(resp)
}

/// `GET /api/v1/session`: who is calling, and the session's CSRF token.
pub(super) async fn api_whoami(ApiCaller(c): ApiCaller) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "operator": c.name,
        "role": c.role,
        "must_change_password": c.must_change,
        "csrf_token": c.csrf,
    }))
}

/// `DELETE /api/v1/session`: logout.
pub(super) async fn api_logout(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
) -> Result<Response, ApiError> {
    if let Some(s) = c.session {
        st.store.close_session(s, c.name).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordIn {
    current: String,
    new: String,
}

/// Changes the caller's own password (sessions only).
pub async fn change_password(
    st: &AdminState,
    c: &Caller,
    current: &str,
    new: &str,
) -> Result<(), ApiError> {
    let Some(session) = c.session.clone() else {
        return Err(ApiError::BadRequest(
            "the API token has no password; log in as an operator".into(),
        ));
    };
    let record = st
        .store
        .login_record(c.name.clone())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let (cur, phc) = (current.to_string(), record.password_hash.clone());
    if !blocking(move || verify_password(&cur, &phc)).await? {
        st.store.login_failed(c.name.clone()).await?;
        return Err(ApiError::BadRequest("the current password is wrong".into()));
    }
    password_policy(&c.name, new)?;
    if new == current {
        return Err(ApiError::BadRequest(
            "the new password must differ from the current one".into(),
        ));
    }
    let hash = hash_password_async(new.to_string()).await?;
    st.store
        .set_operator_password(c.name.clone(), hash, false, Some(session), c.name.clone())
        .await?;
    // The first admin's one-time password is spent: remove the file that held it.
    if let Some(dir) = st.store.path().parent() {
        let f = dir.join(ADMIN_PASSWORD_FILE);
        if c.name == "admin" && f.exists() {
            if let Err(e) = std::fs::remove_file(&f) {
                tracing::warn!(error = %e, "could not remove the one-time admin password file");
            }
        }
    }
    Ok(())
}

/// `POST /api/v1/session/password`.
pub(super) async fn api_password(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let p: PasswordIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("password change: {e}")))?;
    change_password(&st, &c, &p.current, &p.new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// On first start (no operator yet) creates `admin` with a random one-time password, writes it
/// to `data_dir/admin-password` (0600) and returns it to be printed once. The password must be
/// changed at the first login, after which the file is removed.
pub async fn ensure_admin(
    store: &Store,
    data_dir: &Path,
) -> anyhow::Result<Option<(PathBuf, String)>> {
    if store.operator_count().await? > 0 {
        return Ok(None);
    }
    let password = random_hex(9);
    let hash = hash_password_async(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = data_dir.join(ADMIN_PASSWORD_FILE);
    {
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        writeln!(f, "{password}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
    }
    store
        .add_operator("admin".into(), Role::Admin, hash, true, "system".into())
        .await?;
    Ok(Some((path, password)))
}
