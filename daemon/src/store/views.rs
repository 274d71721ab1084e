//! Read models for the operator web UI (issue 6) and the review decision: the review queue, the
//! punches of a day with their evidence, tablet activity, today's counts. Reviews never touch the
//! raw event or the check-in evidence; the attendance row carries the decided verdict and the
//! `reviews` table keeps every decision with its note.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::operators::audit_forwarded;
use super::{Store, StoreError};

/// Most rows any list returns.
pub const MAX_ROWS: usize = 5_000;

/// One stored punch or check-in with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct PunchView {
    /// Stable record id.
    pub record_id: String,
    /// Employee NIP (or reader user id).
    pub employee: String,
    /// Name from the roster, if known.
    pub name: Option<String>,
    /// Office wall-clock time `YYYY-MM-DDTHH:MM:SS`.
    pub occurred_local: String,
    /// `zk-pull`, `zk-push`, `api`, `tablet`, ...
    pub source: String,
    /// Reader name or tablet id.
    pub device: String,
    /// Reader state code (255 for tablets).
    pub state: i64,
    /// Verdict now (after any review).
    pub verdict: String,
    /// Tablet check-in mode (`regular`, `wfh`, `dinas-luar`).
    pub mode: Option<String>,
    /// Reported fix.
    pub lat: Option<f64>,
    /// Reported fix.
    pub lon: Option<f64>,
    /// Reported accuracy, metres.
    pub accuracy_m: Option<f64>,
    /// The rules' findings (JSON array of `{code, severity, id, en, detail}`).
    pub findings: serde_json::Value,
    /// A selfie is retained for review.
    pub photo: bool,
    /// The latest review decision, if reviewed.
    pub review: Option<ReviewRow>,
}

/// A review decision.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewRow {
    /// `accepted` or `rejected`.
    pub decision: String,
    /// Why.
    pub note: String,
    /// Who.
    pub operator: String,
    /// When (UTC).
    pub at_utc: String,
}

/// A tablet's registration and last activity.
#[derive(Debug, Clone, Serialize)]
pub struct TabletActivity {
    /// Tablet id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Revoked tablets cannot log in.
    pub revoked: bool,
    /// Last check-in received (UTC), if any.
    pub last_seen_utc: Option<String>,
    /// Tablet clock minus gateway clock at the last check-in, seconds.
    pub drift_s: Option<i64>,
}

/// Who was present on one day, from the stored punches (not counting rejected ones).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DayPresence {
    /// Active employees on the roster.
    pub employees: i64,
    /// Distinct people with at least one counted punch or check-in.
    pub present: i64,
    /// Of them, not on the roster.
    pub unknown: i64,
    /// Employees covered by a travel order that day.
    pub on_travel: i64,
    /// Check-ins waiting for review (all days).
    pub to_review: i64,
}

const PUNCH_SELECT: &str = "
    SELECT a.record_id, a.employee, e.name, a.occurred_local, a.source, a.device, a.state, a.verdict,
           c.mode, c.lat, c.lon, c.accuracy_m, COALESCE(c.findings, a.reasons),
           EXISTS (SELECT 1 FROM checkin_photos p WHERE p.record_id = a.record_id),
           (SELECT r.id FROM reviews r WHERE r.record_id = a.record_id ORDER BY r.id DESC LIMIT 1)
    FROM attendance a
    LEFT JOIN employees e ON e.nip = a.employee
    LEFT JOIN checkins c ON c.record_id = a.record_id";

fn punch_rows(
    c: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<PunchView>, StoreError> {
    let mut stmt = c.prepare(sql)?;
    let rows = stmt
        .query_map(args, |r| {
            let findings: String = r.get(12)?;
            Ok((
                PunchView {
                    record_id: r.get(0)?,
                    employee: r.get(1)?,
                    name: r.get(2)?,
                    occurred_local: r.get(3)?,
                    source: r.get(4)?,
                    device: r.get(5)?,
                    state: r.get(6)?,
                    verdict: r.get(7)?,
                    mode: r.get(8)?,
                    lat: r.get(9)?,
                    lon: r.get(10)?,
                    accuracy_m: r.get(11)?,
                    findings: serde_json::from_str(&findings)
                        .unwrap_or(serde_json::Value::Array(Vec::new())),
                    photo: r.get(13)?,
                    review: None,
                },
                r.get::<_, Option<i64>>(14)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut review =
        c.prepare_cached("SELECT decision, note, operator, at_utc FROM reviews WHERE id = ?1")?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut p, rid) in rows {
        if let Some(id) = rid {
            p.review = review
                .query_row([id], |r| {
                    Ok(ReviewRow {
                        decision: r.get(0)?,
                        note: r.get(1)?,
                        operator: r.get(2)?,
                        at_utc: r.get(3)?,
                    })
                })
                .optional()?;
        }
        out.push(p);
    }
    Ok(out)
}

impl Store {
    /// Check-ins waiting for an operator, oldest first.
    pub async fn review_queue(&self) -> Result<Vec<PunchView>, StoreError> {
        self.read(|c| {
            punch_rows(
                c,
                &format!(
                    "{PUNCH_SELECT} WHERE a.verdict = 'needs-review' ORDER BY a.occurred_local LIMIT {MAX_ROWS}"
                ),
                &[],
            )
        })
        .await
    }

    /// Every punch and check-in of one office day (`YYYY-MM-DD`), in time order.
    pub async fn punches_on(&self, day: jiff::civil::Date) -> Result<Vec<PunchView>, StoreError> {
        let (from, to) = day_bounds(day);
        self.read(move |c| {
            punch_rows(
                c,
                &format!(
                    "{PUNCH_SELECT} WHERE a.occurred_local >= ?1 AND a.occurred_local < ?2
                     ORDER BY a.occurred_local, a.employee LIMIT {MAX_ROWS}"
                ),
                &[&from, &to],
            )
        })
        .await
    }

    /// One employee's punches and check-ins between two office days (inclusive).
    pub async fn punches_of(
        &self,
        nip: String,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<PunchView>, StoreError> {
        let (start, _) = day_bounds(from);
        let (_, end) = day_bounds(to);
        self.read(move |c| {
            punch_rows(
                c,
                &format!(
                    "{PUNCH_SELECT} WHERE a.employee = ?1 AND a.occurred_local >= ?2 AND a.occurred_local < ?3
                     ORDER BY a.occurred_local LIMIT {MAX_ROWS}"
                ),
                &[&nip, &start, &end],
            )
        })
        .await
    }

    /// One punch or check-in by record id.
    pub async fn punch(&self, record_id: String) -> Result<Option<PunchView>, StoreError> {
        self.read(move |c| {
            Ok(punch_rows(
                c,
                &format!("{PUNCH_SELECT} WHERE a.record_id = ?1"),
                &[&record_id],
            )?
            .pop())
        })
        .await
    }

    /// The retained selfie of a check-in, if still kept.
    pub async fn checkin_photo(&self, record_id: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT jpeg FROM checkin_photos WHERE record_id = ?1",
                [record_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    /// Decides a check-in that needs review: `accepted` or `rejected`, with a note. Writes the
    /// decision, the attendance verdict, the audit log and an audit record for upstream in one
    /// transaction. `Invalid` when the record does not exist or is not waiting for review.
    pub async fn review(
        &self,
        record_id: String,
        accept: bool,
        note: String,
        operator: String,
    ) -> Result<(), StoreError> {
        let office = self.office.clone();
        let r = self
            .write(move |tx| {
                let decision = if accept { "accepted" } else { "rejected" };
                let previous: Option<String> = tx
                    .query_row(
                        "SELECT verdict FROM attendance WHERE record_id = ?1",
                        [&record_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                match previous.as_deref() {
                    None => {
                        return Err(StoreError::Invalid(format!(
                            "no record {record_id:?}"
                        )))
                    }
                    Some("needs-review") => {}
                    Some(other) => {
                        return Err(StoreError::Invalid(format!(
                            "record {record_id} is not waiting for review (verdict {other})"
                        )))
                    }
                }
                let now = jiff::Timestamp::now().to_string();
                tx.execute(
                    "INSERT INTO reviews (record_id, decision, previous_verdict, note, operator, at_utc)
                     VALUES (?1, ?2, 'needs-review', ?3, ?4, ?5)",
                    params![record_id, decision, note, operator, now],
                )?;
                tx.execute(
                    "UPDATE attendance SET verdict = ?2 WHERE record_id = ?1",
                    params![record_id, decision],
                )?;
                audit_forwarded(
                    tx,
                    &office,
                    &operator,
                    &format!("review-{}", if accept { "approved" } else { "rejected" }),
                    &record_id,
                    &note,
                )?;
                Ok(())
            })
            .await;
        if r.is_ok() {
            self.appended.notify_one();
        }
        r
    }

    /// Registered tablets with their last check-in and clock drift.
    pub async fn tablet_activity(&self) -> Result<Vec<TabletActivity>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT t.id, t.name, t.revoked_utc IS NOT NULL,
                        (SELECT k.received_utc FROM checkins k WHERE k.tablet = t.id ORDER BY k.received_utc DESC LIMIT 1),
                        (SELECT k.client_time_utc FROM checkins k WHERE k.tablet = t.id ORDER BY k.received_utc DESC LIMIT 1)
                 FROM tablets t ORDER BY t.name",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let seen: Option<String> = r.get(3)?;
                    let client: Option<String> = r.get(4)?;
                    let drift_s = match (&seen, &client) {
                        (Some(s), Some(c)) => match (
                            s.parse::<jiff::Timestamp>(),
                            c.parse::<jiff::Timestamp>(),
                        ) {
                            (Ok(s), Ok(c)) => Some(c.as_second() - s.as_second()),
                            _ => None,
                        },
                        _ => None,
                    };
                    Ok(TabletActivity {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        revoked: r.get(2)?,
                        last_seen_utc: seen,
                        drift_s,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Who was present on one office day, from the stored records.
    pub async fn day_presence(&self, day: jiff::civil::Date) -> Result<DayPresence, StoreError> {
        let (from, to) = day_bounds(day);
        let date = day.to_string();
        self.read(move |c| {
            let employees: i64 =
                c.query_row("SELECT COUNT(*) FROM employees WHERE active = 1", [], |r| {
                    r.get(0)
                })?;
            let (present, unknown): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(e.nip IS NULL), 0) FROM
                   (SELECT DISTINCT employee FROM attendance
                    WHERE occurred_local >= ?1 AND occurred_local < ?2 AND verdict <> 'rejected') p
                 LEFT JOIN employees e ON e.nip = p.employee",
                params![from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let on_travel: i64 = c.query_row(
                "SELECT COUNT(DISTINCT nip) FROM travel_orders WHERE date_from <= ?1 AND date_to >= ?1",
                [&date],
                |r| r.get(0),
            )?;
            let to_review: i64 = c.query_row(
                "SELECT COUNT(*) FROM attendance WHERE verdict = 'needs-review'",
                [],
                |r| r.get(0),
            )?;
            Ok(DayPresence {
                employees,
                present,
                unknown,
                on_travel,
                to_review,
            })
        })
        .await
    }

    /// Travel orders (SPT) overlapping a date range, newest first.
    pub async fn travel_orders_between(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<TravelOrderView>, StoreError> {
        let (from, to) = (from.to_string(), to.to_string());
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT t.id, t.nip, e.name, t.spt_number, t.date_from, t.date_to, t.created_by, t.created_utc
                 FROM travel_orders t LEFT JOIN employees e ON e.nip = t.nip
                 WHERE t.date_from <= ?2 AND t.date_to >= ?1 ORDER BY t.date_from DESC, t.id DESC LIMIT {MAX_ROWS}"
            ))?;
            let rows = stmt
                .query_map(params![from, to], |r| {
                    Ok(TravelOrderView {
                        id: r.get(0)?,
                        nip: r.get(1)?,
                        name: r.get(2)?,
                        spt_number: r.get(3)?,
                        date_from: r.get(4)?,
                        date_to: r.get(5)?,
                        created_by: r.get(6)?,
                        created_utc: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The latest audit entries, newest first.
    pub async fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, at_utc, actor, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit.min(MAX_ROWS) as i64], |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at_utc: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        subject: r.get(4)?,
                        detail: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// An employee as listed on the roster page.
#[derive(Debug, Clone, Serialize)]
pub struct EmployeeView {
    /// NIP.
    pub nip: String,
    /// Full name.
    pub name: String,
    /// Unit / bidang.
    pub unit: String,
    /// Position.
    pub position: String,
    /// Schedule group (`""` = the default group).
    pub schedule_group: String,
    /// Home location for WFH.
    pub home_lat: Option<f64>,
    /// Home location for WFH.
    pub home_lon: Option<f64>,
    /// Still on the roster.
    pub active: bool,
}

impl Store {
    /// The roster (active first, then by unit and name).
    pub async fn employees(&self) -> Result<Vec<EmployeeView>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT nip, name, unit, position, schedule_group, home_lat, home_lon, active
                 FROM employees ORDER BY active DESC, unit, name LIMIT {MAX_ROWS}"
            ))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(EmployeeView {
                        nip: r.get(0)?,
                        name: r.get(1)?,
                        unit: r.get(2)?,
                        position: r.get(3)?,
                        schedule_group: r.get(4)?,
                        home_lat: r.get(5)?,
                        home_lon: r.get(6)?,
                        active: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// A travel order as listed.
#[derive(Debug, Clone, Serialize)]
pub struct TravelOrderView {
    /// Row id.
    pub id: i64,
    /// Employee NIP.
    pub nip: String,
    /// Name from the roster.
    pub name: Option<String>,
    /// SPT number.
    pub spt_number: String,
    /// First day.
    pub date_from: String,
    /// Last day (inclusive).
    pub date_to: String,
    /// Who entered it.
    pub created_by: String,
    /// When (UTC).
    pub created_utc: String,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When (UTC).
    pub at_utc: String,
    /// Who (operator name, `api`, `system`).
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Why / details.
    pub detail: String,
}

/// `[day 00:00:00, next day 00:00:00)` as stored local-time strings.
fn day_bounds(day: jiff::civil::Date) -> (String, String) {
    let next = day.tomorrow().unwrap_or(day);
    (format!("{day}T00:00:00"), format!("{next}T00:00:00"))
}
