//! Operator accounts and browser sessions for the web UI (issue 6), and the audit helper every
//! operator action goes through: one `audit_log` row plus an `audit` record in the outbox, in the
//! caller's transaction, so the provincial server sees who did what, when and why.
//!
//! Passwords are stored as argon2id PHC strings; session tokens only as their SHA-256.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{outbox, Store, StoreError};

/// Consecutive failed logins after which an account is locked.
pub const LOCKOUT_AFTER: i64 = 5;
/// How long a locked account stays locked, minutes.
pub const LOCKOUT_MINUTES: i64 = 15;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing (except their own password).
    Viewer,
    /// Reviews check-ins, enters leave and travel, edits the roster.
    Operator,
    /// Everything, including operator accounts and schedules.
    Admin,
}

impl Role {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An operator account as listed (no password hash).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorRow {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Must change the password at the next login.
    pub must_change: bool,
    /// Locked until (UTC) after repeated failures, if locked now.
    pub locked_until_utc: Option<String>,
    /// When created (UTC).
    pub created_utc: String,
}

/// What a login attempt needs from the store.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The account.
    pub operator: OperatorRow,
    /// argon2 PHC string.
    pub password_hash: String,
}

/// A live session, looked up by its token.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    /// The operator.
    pub operator: String,
    /// Their role.
    pub role: Role,
    /// Must change the password before anything else.
    pub must_change: bool,
    /// The session's CSRF token.
    #[serde(skip)]
    pub csrf: String,
    /// Expiry (UTC).
    pub expires_utc: String,
}

fn row_to_operator(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperatorRow> {
    let role: String = r.get(1)?;
    Ok(OperatorRow {
        name: r.get(0)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        must_change: r.get(2)?,
        locked_until_utc: r.get(3)?,
        created_utc: r.get(4)?,
    })
}

/// Appends an audit entry and queues it for the provincial server, in the caller's transaction.
pub(crate) fn audit_forwarded(
    tx: &Transaction<'_>,
    office: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<i64, StoreError> {
    let now = jiff::Timestamp::now().to_string();
    tx.execute(
        "INSERT INTO audit_log (at_utc, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now, actor, action, subject, detail],
    )?;
    let id = tx.last_insert_rowid();
    let chain = outbox::chain_id(tx)?;
    let record_id = crate::record::stable_id(&[office, "audit", &chain, &id.to_string()]);
    let body = serde_json::json!({
        "type": "audit",
        "record_id": record_id,
        "office": office,
        "at_utc": now,
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    })
    .to_string();
    outbox::enqueue(tx, &record_id, "audit", &body, &now)?;
    Ok(id)
}

impl Store {
    /// Number of operator accounts.
    pub async fn operator_count(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0))?))
            .await
    }

    /// Every operator account.
    pub async fn operators(&self) -> Result<Vec<OperatorRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name, role, must_change, locked_until_utc, created_utc FROM operators ORDER BY name",
            )?;
            let rows = stmt
                .query_map([], row_to_operator)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Creates an account; `Invalid` when the name is taken.
    pub async fn add_operator(
        &self,
        name: String,
        role: Role,
        password_hash: String,
        must_change: bool,
        actor: String,
    ) -> Result<(), StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let now = jiff::Timestamp::now().to_string();
            let n = tx.execute(
                "INSERT INTO operators (name, role, password_hash, must_change, created_utc, updated_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (name) DO NOTHING",
                params![name, role.as_str(), password_hash, must_change, now],
            )?;
            if n == 0 {
                return Err(StoreError::Invalid(format!(
                    "an operator named {name:?} already exists"
                )));
            }
            audit_forwarded(tx, &office, &actor, "operator-added", &name, role.as_str())?;
            Ok(())
        })
        .await
    }

    /// Sets a new password (and whether it must be changed at next login), clears any lockout
    /// and ends the account's other sessions except `keep_session` (a token hash).
    pub async fn set_operator_password(
        &self,
        name: String,
        password_hash: String,
        must_change: bool,
        keep_session: Option<String>,
        actor: String,
    ) -> Result<bool, StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE operators SET password_hash = ?2, must_change = ?3, failed_logins = 0,
                     locked_until_utc = NULL, updated_utc = ?4 WHERE name = ?1",
                params![
                    name,
                    password_hash,
                    must_change,
                    jiff::Timestamp::now().to_string()
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM sessions WHERE operator = ?1 AND token_sha256 IS NOT ?2",
                params![name, keep_session],
            )?;
            let action = if must_change {
                "operator-password-reset"
            } else {
                "operator-password-changed"
            };
            audit_forwarded(tx, &office, &actor, action, &name, "")?;
            Ok(true)
        })
        .await
    }

    /// The account and its hash, for a login attempt.
    pub async fn login_record(&self, name: String) -> Result<Option<LoginRecord>, StoreError> {
        self.read(move |c| login_record(c, &name)).await
    }

    /// Records a failed login; locks the account after [`LOCKOUT_AFTER`] in a row. Returns
    /// whether the account is now locked.
    pub async fn login_failed(&self, name: String) -> Result<bool, StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let failures: Option<i64> = tx
                .query_row(
                    "UPDATE operators SET failed_logins = failed_logins + 1 WHERE name = ?1
                     RETURNING failed_logins",
                    [&name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(failures) = failures else {
                return Ok(false);
            };
            if failures >= LOCKOUT_AFTER {
                let until =
                    jiff::Timestamp::now() + jiff::SignedDuration::from_mins(LOCKOUT_MINUTES);
                tx.execute(
                    "UPDATE operators SET locked_until_utc = ?2, failed_logins = 0 WHERE name = ?1",
                    params![name, until.to_string()],
                )?;
                audit_forwarded(
                    tx,
                    &office,
                    "system",
                    "operator-locked",
                    &name,
                    &format!("{failures} failed logins; locked until {until}"),
                )?;
                return Ok(true);
            }
            Ok(false)
        })
        .await
    }

    /// Opens a session after a successful login: clears the failure count, stores the token's
    /// hash and CSRF token.
    pub async fn open_session(
        &self,
        name: String,
        token_sha256: String,
        csrf: String,
        hours: i64,
    ) -> Result<(), StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let now = jiff::Timestamp::now();
            let expires = now + jiff::SignedDuration::from_hours(hours);
            tx.execute(
                "UPDATE operators SET failed_logins = 0, locked_until_utc = NULL WHERE name = ?1",
                [&name],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE expires_utc < ?1",
                [now.to_string()],
            )?;
            tx.execute(
                "INSERT INTO sessions (token_sha256, operator, csrf, created_utc, expires_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token_sha256,
                    name,
                    csrf,
                    now.to_string(),
                    expires.to_string()
                ],
            )?;
            audit_forwarded(tx, &office, &name, "login", &name, "")?;
            Ok(())
        })
        .await
    }

    /// The live session for a token hash, if any.
    pub async fn session(&self, token_sha256: String) -> Result<Option<SessionRow>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT s.operator, o.role, o.must_change, s.csrf, s.expires_utc
                 FROM sessions s JOIN operators o ON o.name = s.operator
                 WHERE s.token_sha256 = ?1 AND s.expires_utc > ?2 AND o.disabled = 0",
            )?
            .query_row(
                params![token_sha256, jiff::Timestamp::now().to_string()],
                |r| {
                    let role: String = r.get(1)?;
                    Ok(SessionRow {
                        operator: r.get(0)?,
                        role: Role::parse(&role).unwrap_or(Role::Viewer),
                        must_change: r.get(2)?,
                        csrf: r.get(3)?,
                        expires_utc: r.get(4)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Ends a session (logout).
    pub async fn close_session(
        &self,
        token_sha256: String,
        operator: String,
    ) -> Result<(), StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                [&token_sha256],
            )?;
            if n > 0 {
                audit_forwarded(tx, &office, &operator, "logout", &operator, "")?;
            }
            Ok(())
        })
        .await
    }

    /// Appends an audit entry and queues it upstream (durable when this returns).
    pub async fn audit_forwarded(
        &self,
        actor: String,
        action: String,
        subject: String,
        detail: String,
    ) -> Result<(), StoreError> {
        let office = self.office.clone();
        let r = self
            .write(move |tx| {
                audit_forwarded(tx, &office, &actor, &action, &subject, &detail).map(drop)
            })
            .await;
        if r.is_ok() {
            self.appended.notify_one();
        }
        r
    }
}

fn login_record(c: &Connection, name: &str) -> Result<Option<LoginRecord>, StoreError> {
    Ok(c.query_row(
        "SELECT name, role, must_change, locked_until_utc, created_utc, password_hash
             FROM operators WHERE name = ?1 AND disabled = 0",
        [name],
        |r| {
            Ok(LoginRecord {
                operator: row_to_operator(r)?,
                password_hash: r.get(5)?,
            })
        },
    )
    .optional()?)
}
