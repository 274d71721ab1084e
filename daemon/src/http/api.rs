//! The operator JSON API under `/api/v1` (issue 6): dashboard, attendance, review, manual
//! entries, travel orders, roster, schedules and holidays, monthly recap, audit log, operator
//! accounts. Every route is registered through [`Api::add`], which records it so the OpenAPI
//! document ([`super::openapi`]) can be checked against the router.
//!
//! Callers: the bearer API token (acts as `api`, admin) or an operator session with
//! `X-CSRF-Token` on state-changing requests. Viewers read; operators change attendance data;
//! admins also manage schedules and operator accounts.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{self, ApiCaller, Caller};
use super::i18n;
use super::{AdminState, ApiError};
use crate::attendance::export::{self, CsvTable};
use crate::attendance::{self, AttendanceError, Holiday, HolidayKind, Month, RecapQuery};
use crate::store::{EntryFilter, EntryKind, NewManualEntry, Role, TravelOrderRow};

impl From<AttendanceError> for ApiError {
    fn from(e: AttendanceError) -> Self {
        match e {
            AttendanceError::Store(s) => s.into(),
            AttendanceError::Invalid(m) => ApiError::BadRequest(m),
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

/// The API router with the list of `(method, path)` it serves.
pub struct Api {
    router: Router<AdminState>,
    /// Every registered `(METHOD, path)`.
    pub routes: Vec<(&'static str, &'static str)>,
}

impl Api {
    fn add(
        mut self,
        path: &'static str,
        methods: &[&'static str],
        mr: MethodRouter<AdminState>,
    ) -> Self {
        self.router = self.router.route(path, mr);
        self.routes.extend(methods.iter().map(|m| (*m, path)));
        self
    }

    /// The router.
    pub fn into_router(self) -> Router<AdminState> {
        self.router
    }
}

/// Largest upload (roster, holiday list), bytes.
pub const MAX_UPLOAD_BYTES: usize = 8 << 20;

/// Builds the operator API.
pub fn api() -> Api {
    use axum::routing::{get, post, put};
    let upload = axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES);
    Api {
        router: Router::new(),
        routes: Vec::new(),
    }
    .add(
        "/api/v1/session",
        &["GET", "POST", "DELETE"],
        get(auth::api_whoami)
            .post(auth::api_login)
            .delete(auth::api_logout),
    )
    .add(
        "/api/v1/session/password",
        &["POST"],
        post(auth::api_password),
    )
    .add("/api/v1/dashboard", &["GET"], get(dashboard))
    .add("/api/v1/attendance", &["GET"], get(attendance_day))
    .add(
        "/api/v1/attendance/employee/{nip}",
        &["GET"],
        get(attendance_employee),
    )
    .add("/api/v1/records/{record_id}", &["GET"], get(record))
    .add("/api/v1/records/{record_id}/photo", &["GET"], get(photo))
    .add("/api/v1/review", &["GET"], get(review_queue))
    .add("/api/v1/review/{record_id}", &["POST"], post(review_decide))
    .add(
        "/api/v1/leave",
        &["GET", "POST"],
        get(leave_list).post(leave_add),
    )
    .add("/api/v1/leave/{id}/cancel", &["POST"], post(leave_cancel))
    .add(
        "/api/v1/travel-orders",
        &["GET", "POST"],
        get(travel_list).post(travel_add),
    )
    .add("/api/v1/employees", &["GET"], get(employees))
    .add("/api/v1/employees/{nip}", &["PUT"], put(employee_put))
    .add(
        "/api/v1/employees/import",
        &["POST"],
        post(employee_import).layer(upload),
    )
    .add(
        "/api/v1/employees/{nip}/face",
        &["POST"],
        post(employee_face).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
    )
    .add("/api/v1/schedules", &["GET"], get(schedules))
    .add(
        "/api/v1/schedules/{name}",
        &["PUT", "DELETE"],
        put(schedule_put).delete(schedule_delete),
    )
    .add("/api/v1/holidays", &["GET"], get(holidays))
    .add(
        "/api/v1/holidays/{date}",
        &["PUT", "DELETE"],
        put(holiday_put).delete(holiday_delete),
    )
    .add(
        "/api/v1/holidays/import",
        &["POST"],
        post(holiday_import).layer(upload),
    )
    .add("/api/v1/recap", &["GET"], get(recap_json))
    .add("/api/v1/recap.xlsx", &["GET"], get(recap_xlsx))
    .add("/api/v1/recap.csv", &["GET"], get(recap_csv))
    .add("/api/v1/audit", &["GET"], get(audit))
    .add(
        "/api/v1/operators",
        &["GET", "POST"],
        get(operators).post(operator_add),
    )
    .add(
        "/api/v1/operators/{name}/reset",
        &["POST"],
        post(operator_reset),
    )
    .add("/api/v1/openapi.json", &["GET"], get(super::openapi::serve))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(what: &str, s: &str) -> Result<jiff::civil::Date, ApiError> {
    s.parse::<jiff::civil::Date>()
        .map_err(|_| ApiError::BadRequest(format!("{what} {s:?} is not a date (YYYY-MM-DD)")))
}

fn nip_ok(nip: &str) -> Result<(), ApiError> {
    if (4..=32).contains(&nip.len()) && nip.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "nip must be 4–32 letters or digits".into(),
        ))
    }
}

// ---------------------------------------------------------------- dashboard

/// Everything the dashboard shows.
#[derive(Serialize)]
pub struct Dashboard {
    /// Office day shown.
    pub date: jiff::civil::Date,
    /// Office zone label (WIB/WITA/WIT).
    pub zone: String,
    /// Today's present / late / absent / on leave / on travel.
    pub today: attendance::TodayCounts,
    /// Check-ins waiting for review.
    pub to_review: i64,
    /// Readers.
    pub devices: Vec<crate::store::DeviceStatus>,
    /// Tablets.
    pub tablets: Vec<crate::store::TabletActivity>,
    /// Store and upstream backlog.
    pub store: crate::store::StoreStats,
    /// Forwarding link.
    pub upstream: crate::forward::ForwardStatus,
}

/// Loads the dashboard data.
pub async fn load_dashboard(st: &AdminState) -> Result<Dashboard, ApiError> {
    let date = i18n::today(&st.office_tz);
    let today = attendance::recap::load_day_counts(&st.store, date).await?;
    let presence = st.store.day_presence(date).await?;
    Ok(Dashboard {
        date,
        zone: i18n::zone_label(&st.office_tz).to_string(),
        today,
        to_review: presence.to_review,
        devices: st.store.devices().await?,
        tablets: st.store.tablet_activity().await?,
        store: st.store.stats().await?,
        upstream: st.forward.lock().map(|s| s.clone()).unwrap_or_default(),
    })
}

async fn dashboard(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(load_dashboard(&st).await?))
}

// ---------------------------------------------------------------- attendance

#[derive(Deserialize)]
pub(super) struct DayQ {
    date: Option<String>,
}

/// One employee's evaluated day beside their identity.
#[derive(Serialize)]
pub struct DayLine {
    /// NIP.
    pub nip: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// The evaluated day.
    pub day: attendance::DayResult,
}

/// The attendance of one office day.
#[derive(Serialize)]
pub struct DayReport {
    /// The day.
    pub date: jiff::civil::Date,
    /// Holiday name, if any.
    pub holiday: Option<String>,
    /// Per employee: first in, last out, late and early minutes, status.
    pub employees: Vec<DayLine>,
    /// Every punch and check-in that day with its evidence.
    pub records: Vec<crate::store::PunchView>,
}

/// Loads one day's attendance.
pub async fn load_day(st: &AdminState, date: jiff::civil::Date) -> Result<DayReport, ApiError> {
    let as_of = i18n::today(&st.office_tz);
    let recap = attendance::recap::load(
        &st.store,
        RecapQuery::month(Month::of(date), as_of.max(date)),
    )
    .await?;
    let idx = (date.day() - 1) as usize;
    let holiday = recap
        .holidays
        .iter()
        .find(|(d, _)| *d == date)
        .map(|(_, n)| n.clone());
    let employees = recap
        .employees
        .into_iter()
        .filter_map(|e| {
            let day = e.days.get(idx)?.clone();
            Some(DayLine {
                nip: e.nip,
                name: e.name,
                unit: e.unit,
                day,
            })
        })
        .collect();
    Ok(DayReport {
        date,
        holiday,
        employees,
        records: st.store.punches_on(date).await?,
    })
}

async fn attendance_day(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<DayQ>,
) -> Result<Json<DayReport>, ApiError> {
    let date = match q.date.as_deref() {
        Some(d) => parse_date("date", d)?,
        None => i18n::today(&st.office_tz),
    };
    Ok(Json(load_day(&st, date).await?))
}

#[derive(Deserialize)]
pub(super) struct MonthQ {
    month: Option<String>,
    unit: Option<String>,
    table: Option<String>,
}

fn month_of(st: &AdminState, m: Option<&str>) -> Result<Month, ApiError> {
    match m {
        Some(m) if !m.is_empty() => Ok(Month::parse(m)?),
        _ => Ok(Month::of(i18n::today(&st.office_tz))),
    }
}

/// One employee's month.
#[derive(Serialize)]
pub struct EmployeeMonth {
    /// The recap of the month for this employee (days and totals).
    pub recap: attendance::recap::EmployeeRecap,
    /// Their punches and check-ins that month with evidence.
    pub records: Vec<crate::store::PunchView>,
}

/// Loads one employee's month.
pub async fn load_employee_month(
    st: &AdminState,
    nip: &str,
    month: Month,
) -> Result<EmployeeMonth, ApiError> {
    let mut q = RecapQuery::month(month, i18n::today(&st.office_tz));
    q.nip = Some(nip.to_string());
    let recap = attendance::recap::load(&st.store, q)
        .await?
        .employees
        .into_iter()
        .find(|e| e.nip == nip)
        .ok_or_else(|| ApiError::NotFound(format!("no employee {nip} on the roster")))?;
    let records = st
        .store
        .punches_of(nip.to_string(), month.first(), month.last())
        .await?;
    Ok(EmployeeMonth { recap, records })
}

async fn attendance_employee(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Path(nip): Path<String>,
    Query(q): Query<MonthQ>,
) -> Result<Json<EmployeeMonth>, ApiError> {
    nip_ok(&nip)?;
    let month = month_of(&st, q.month.as_deref())?;
    Ok(Json(load_employee_month(&st, &nip, month).await?))
}

async fn record(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<crate::store::PunchView>, ApiError> {
    st.store
        .punch(id.clone())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no record {id}")))
}

/// The retained selfie as `image/jpeg`.
pub async fn photo_response(st: &AdminState, id: String) -> Result<Response, ApiError> {
    let jpeg = st
        .store
        .checkin_photo(id.clone())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no retained photo for {id}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        jpeg,
    )
        .into_response())
}

async fn photo(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    photo_response(&st, id).await
}

// ---------------------------------------------------------------- review

async fn review_queue(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<crate::store::PunchView>>, ApiError> {
    Ok(Json(st.store.review_queue().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionIn {
    decision: String,
    note: String,
}

/// Validates and applies a review decision.
pub async fn decide(
    st: &AdminState,
    c: &Caller,
    record_id: String,
    decision: &str,
    note: &str,
) -> Result<(), ApiError> {
    c.require(Role::Operator)?;
    let accept = match decision {
        "approve" | "accept" | "accepted" => true,
        "reject" | "rejected" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "decision must be approve or reject (got {other:?})"
            )))
        }
    };
    let note = note.trim();
    if note.is_empty() || note.len() > 1000 {
        return Err(ApiError::BadRequest(
            "a note is required (at most 1000 characters)".into(),
        ));
    }
    st.store
        .review(record_id, accept, note.to_string(), c.name.clone())
        .await?;
    Ok(())
}

async fn review_decide(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d: DecisionIn = parse_json("review decision", &body)?;
    decide(&st, &c, id.clone(), &d.decision, &d.note).await?;
    Ok(Json(
        serde_json::json!({ "record_id": id, "decision": d.decision }),
    ))
}

// ---------------------------------------------------------------- leave & travel

#[derive(Deserialize)]
pub(super) struct LeaveQ {
    nip: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    history: bool,
}

async fn leave_list(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<LeaveQ>,
) -> Result<Json<Vec<crate::store::ManualEntry>>, ApiError> {
    let filter = EntryFilter {
        nip: q.nip,
        from: q
            .from
            .as_deref()
            .map(|d| parse_date("from", d))
            .transpose()?,
        to: q.to.as_deref().map(|d| parse_date("to", d)).transpose()?,
        history: q.history,
    };
    Ok(Json(st.store.manual_entries(filter).await?))
}

/// Validates and records a manual entry.
pub async fn add_leave(
    st: &AdminState,
    c: &Caller,
    e: NewManualEntry,
) -> Result<crate::store::ManualEntry, ApiError> {
    c.require(Role::Operator)?;
    nip_ok(&e.nip)?;
    if e.kind == EntryKind::Batal {
        return Err(ApiError::BadRequest(
            "to cancel an entry use POST /api/v1/leave/{id}/cancel".into(),
        ));
    }
    if e.note.len() > 500 {
        return Err(ApiError::BadRequest("note: at most 500 characters".into()));
    }
    Ok(st.store.add_manual_entry(e, c.name.clone()).await?)
}

async fn leave_add(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<crate::store::ManualEntry>), ApiError> {
    let e: NewManualEntry = parse_json("manual entry", &body)?;
    Ok((StatusCode::CREATED, Json(add_leave(&st, &c, e).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelIn {
    reason: String,
}

/// Cancels a manual entry (appends a `batal` row).
pub async fn cancel_leave(
    st: &AdminState,
    c: &Caller,
    id: String,
    reason: &str,
) -> Result<crate::store::ManualEntry, ApiError> {
    c.require(Role::Operator)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(ApiError::BadRequest(
            "a reason is required (at most 500 characters)".into(),
        ));
    }
    Ok(st
        .store
        .cancel_manual_entry(id, reason.to_string(), c.name.clone())
        .await?)
}

async fn leave_cancel(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<crate::store::ManualEntry>, ApiError> {
    let r: CancelIn = parse_json("cancellation", &body)?;
    Ok(Json(cancel_leave(&st, &c, id, &r.reason).await?))
}

#[derive(Deserialize)]
pub(super) struct RangeQ {
    from: Option<String>,
    to: Option<String>,
}

async fn travel_list(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<RangeQ>,
) -> Result<Json<Vec<crate::store::TravelOrderView>>, ApiError> {
    let today = i18n::today(&st.office_tz);
    let from = match q.from.as_deref() {
        Some(d) => parse_date("from", d)?,
        None => Month::of(today).first(),
    };
    let to = match q.to.as_deref() {
        Some(d) => parse_date("to", d)?,
        None => jiff::civil::date(9999, 12, 31),
    };
    Ok(Json(st.store.travel_orders_between(from, to).await?))
}

/// A travel order (SPT) as entered.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelIn {
    /// Employee NIP.
    pub nip: String,
    /// SPT number.
    pub spt_number: String,
    /// First day.
    pub from: jiff::civil::Date,
    /// Last day, inclusive.
    pub to: jiff::civil::Date,
}

/// Validates and records a travel order.
pub async fn add_travel(st: &AdminState, c: &Caller, t: TravelIn) -> Result<i64, ApiError> {
    c.require(Role::Operator)?;
    nip_ok(&t.nip)?;
    let spt = t.spt_number.trim();
    if spt.is_empty() || spt.len() > 100 {
        return Err(ApiError::BadRequest(
            "spt_number is required (at most 100 characters)".into(),
        ));
    }
    if t.to < t.from {
        return Err(ApiError::BadRequest("to is before from".into()));
    }
    if (t.to - t.from).get_days() > 366 {
        return Err(ApiError::BadRequest(
            "a travel order covers at most 366 days".into(),
        ));
    }
    let order = TravelOrderRow {
        spt_number: spt.to_string(),
        date_from: t.from.to_string(),
        date_to: t.to.to_string(),
    };
    let id = st
        .store
        .add_travel_order(t.nip.clone(), order, c.name.clone())
        .await?;
    st.store
        .audit_forwarded(
            c.name.clone(),
            "travel-order-added".into(),
            t.nip.clone(),
            format!("SPT {spt} {}..{}", t.from, t.to),
        )
        .await?;
    Ok(id)
}

async fn travel_add(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t: TravelIn = parse_json("travel order", &body)?;
    let id = add_travel(&st, &c, t).await?;
    Ok(Json(serde_json::json!({ "id": id })))
}

// ---------------------------------------------------------------- employees

async fn employees(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<crate::store::EmployeeView>>, ApiError> {
    Ok(Json(st.store.employees().await?))
}

/// An employee as edited.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeIn {
    /// Full name.
    pub name: String,
    /// Unit / bidang.
    #[serde(default)]
    pub unit: String,
    /// Position.
    #[serde(default)]
    pub position: String,
    /// Schedule group (`""` = default); unchanged when absent.
    #[serde(default)]
    pub schedule_group: Option<String>,
    /// Home for WFH.
    #[serde(default)]
    pub home_lat: Option<f64>,
    /// Home for WFH.
    #[serde(default)]
    pub home_lon: Option<f64>,
}

/// Validates and saves an employee.
pub async fn save_employee(
    st: &AdminState,
    c: &Caller,
    nip: &str,
    e: EmployeeIn,
) -> Result<(), ApiError> {
    c.require(Role::Operator)?;
    nip_ok(nip)?;
    let name = e.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::BadRequest(
            "name is required (at most 200 characters)".into(),
        ));
    }
    if e.unit.len() > 200 || e.position.len() > 200 {
        return Err(ApiError::BadRequest(
            "unit and position: at most 200 characters".into(),
        ));
    }
    match (e.home_lat, e.home_lon) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {}
        (None, None) => {}
        _ => {
            return Err(ApiError::BadRequest(
                "home_lat and home_lon go together and must be valid coordinates".into(),
            ))
        }
    }
    if let Some(g) = &e.schedule_group {
        if !g.is_empty()
            && !st
                .store
                .schedule_groups()
                .await?
                .iter()
                .any(|s| &s.name == g)
        {
            return Err(ApiError::BadRequest(format!(
                "schedule group {g:?} does not exist"
            )));
        }
    }
    st.store
        .upsert_employee(crate::store::Employee {
            nip: nip.to_string(),
            name: name.to_string(),
            unit: e.unit.trim().to_string(),
            position: e.position.trim().to_string(),
            home_lat: e.home_lat,
            home_lon: e.home_lon,
        })
        .await?;
    st.store
        .audit_forwarded(
            c.name.clone(),
            "employee-saved".into(),
            nip.to_string(),
            format!("{name} / {} / {}", e.unit.trim(), e.position.trim()),
        )
        .await?;
    if let Some(g) = e.schedule_group {
        st.store
            .set_schedule_group(nip.to_string(), g, c.name.clone())
            .await?;
    }
    Ok(())
}

async fn employee_put(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(nip): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e: EmployeeIn = parse_json("employee", &body)?;
    save_employee(&st, &c, &nip, e).await?;
    Ok(Json(serde_json::json!({ "nip": nip })))
}

#[derive(Deserialize)]
pub(super) struct ImportQ {
    filename: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

async fn employee_import(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Query(q): Query<ImportQ>,
    body: Bytes,
) -> Result<Json<attendance::ImportReport>, ApiError> {
    c.require(Role::Operator)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "send the CSV or XLSX file as the request body".into(),
        ));
    }
    let name = q.filename.unwrap_or_default();
    Ok(Json(
        attendance::roster_import::import_bytes(
            &st.store,
            body.to_vec(),
            &name,
            &c.name,
            q.dry_run,
        )
        .await?,
    ))
}

/// Enrolls an employee's face from 1–5 uploaded photos (JPEG/PNG).
pub async fn enroll_face(
    st: &AdminState,
    c: &Caller,
    nip: &str,
    photos: Vec<Vec<u8>>,
) -> Result<crate::face::EnrollReport, ApiError> {
    c.require(Role::Operator)?;
    nip_ok(nip)?;
    let Some(pool) = &st.face else {
        return Err(ApiError::BadRequest(
            "face verification is off: set face.detector_model and face.embedder_model in the configuration".into(),
        ));
    };
    crate::face::enroll_photos(
        pool.engine(),
        &st.store,
        nip,
        &photos,
        &format!("web:{}", c.name),
    )
    .await
    .map_err(|e| match e {
        crate::face::EnrollError::Engine(_) | crate::face::EnrollError::Store(_) => {
            ApiError::Unavailable(e.to_string())
        }
        other => ApiError::BadRequest(other.to_string()),
    })
}

async fn employee_face(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(nip): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<crate::face::EnrollReport>, ApiError> {
    let photos = super::pages::files_named(&headers, &body, "photo")?;
    Ok(Json(enroll_face(&st, &c, &nip, photos).await?))
}

// ---------------------------------------------------------------- schedules & holidays

async fn schedules(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<attendance::ScheduleGroup>>, ApiError> {
    Ok(Json(st.store.schedule_groups().await?))
}

async fn schedule_put(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Role::Admin)?;
    let mut g: attendance::ScheduleGroup = parse_json("schedule group", &body)?;
    g.name = name.clone();
    st.store.save_schedule_group(g, c.name.clone()).await?;
    Ok(Json(serde_json::json!({ "name": name })))
}

async fn schedule_delete(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require(Role::Admin)?;
    if st.store.delete_schedule_group(name.clone(), c.name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no schedule group {name}")))
    }
}

#[derive(Deserialize)]
pub(super) struct YearQ {
    year: Option<i16>,
}

async fn holidays(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<YearQ>,
) -> Result<Json<Vec<Holiday>>, ApiError> {
    let year = q.year.unwrap_or(i18n::today(&st.office_tz).year());
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::BadRequest("year must be 2000–2100".into()));
    }
    Ok(Json(
        st.store
            .holidays(
                jiff::civil::date(year, 1, 1),
                jiff::civil::date(year, 12, 31),
            )
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HolidayIn {
    name: String,
    #[serde(default)]
    kind: Option<String>,
}

/// Validates and saves a holiday.
pub async fn save_holiday(
    st: &AdminState,
    c: &Caller,
    date: &str,
    name: &str,
    kind: Option<&str>,
) -> Result<(), ApiError> {
    c.require(Role::Admin)?;
    let day = parse_date("date", date)?;
    let kind = match kind {
        None | Some("") => HolidayKind::LiburNasional,
        Some(k) => HolidayKind::parse(k).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "kind must be libur-nasional, cuti-bersama or libur-daerah (got {k:?})"
            ))
        })?,
    };
    st.store
        .save_holiday(
            Holiday {
                day,
                name: name.trim().to_string(),
                kind,
            },
            c.name.clone(),
        )
        .await?;
    Ok(())
}

async fn holiday_put(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(date): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let h: HolidayIn = parse_json("holiday", &body)?;
    save_holiday(&st, &c, &date, &h.name, h.kind.as_deref()).await?;
    Ok(Json(serde_json::json!({ "date": date })))
}

async fn holiday_delete(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(date): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require(Role::Admin)?;
    let day = parse_date("date", &date)?;
    if st.store.delete_holiday(day, c.name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no holiday on {date}")))
    }
}

async fn holiday_import(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Role::Admin)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "send the holiday CSV as the request body".into(),
        ));
    }
    let r = st.store.import_holidays_csv(body.to_vec(), c.name).await?;
    Ok(Json(serde_json::json!({
        "saved": r.saved,
        "problems": r.problems.iter().map(|(l, m)| serde_json::json!({"line": l, "problem": m})).collect::<Vec<_>>(),
    })))
}

// ---------------------------------------------------------------- recap

/// Builds the recap for a month (optionally one unit), counted up to today.
pub async fn load_recap(
    st: &AdminState,
    month: Month,
    unit: Option<String>,
) -> Result<attendance::Recap, ApiError> {
    let mut q = RecapQuery::month(month, i18n::today(&st.office_tz));
    q.unit = unit.filter(|u| !u.is_empty());
    Ok(attendance::recap::load(&st.store, q).await?)
}

async fn recap_json(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<MonthQ>,
) -> Result<Json<attendance::Recap>, ApiError> {
    let month = month_of(&st, q.month.as_deref())?;
    Ok(Json(load_recap(&st, month, q.unit).await?))
}

/// The recap as a download (`xlsx` or `csv`).
pub async fn recap_download(
    st: &AdminState,
    month: Option<&str>,
    unit: Option<String>,
    xlsx: bool,
    table: Option<&str>,
) -> Result<Response, ApiError> {
    let month = month_of(st, month)?;
    let table = match table {
        None | Some("") => CsvTable::Pegawai,
        Some(t) => CsvTable::parse(t).ok_or_else(|| {
            ApiError::BadRequest(format!("table must be pegawai, unit or harian (got {t:?})"))
        })?,
    };
    let recap = load_recap(st, month, unit).await?;
    let (bytes, ctype, ext) = tokio::task::spawn_blocking(move || {
        if xlsx {
            export::xlsx(&recap).map(|b| {
                (
                    b,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                )
            })
        } else {
            export::csv(&recap, table).map(|b| (b, "text/csv; charset=utf-8", "csv"))
        }
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("export: {e}")))??;
    let name = format!("rekap-kehadiran-{month}.{ext}");
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

async fn recap_xlsx(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<MonthQ>,
) -> Result<Response, ApiError> {
    recap_download(&st, q.month.as_deref(), q.unit, true, None).await
}

async fn recap_csv(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<MonthQ>,
) -> Result<Response, ApiError> {
    recap_download(&st, q.month.as_deref(), q.unit, false, q.table.as_deref()).await
}

// ---------------------------------------------------------------- audit & operators

#[derive(Deserialize)]
pub(super) struct LimitQ {
    limit: Option<usize>,
}

async fn audit(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
    Query(q): Query<LimitQ>,
) -> Result<Json<Vec<crate::store::AuditEntry>>, ApiError> {
    Ok(Json(st.store.audit_entries(q.limit.unwrap_or(200)).await?))
}

async fn operators(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
) -> Result<Json<Vec<crate::store::OperatorRow>>, ApiError> {
    c.require(Role::Admin)?;
    Ok(Json(st.store.operators().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OperatorIn {
    name: String,
    role: String,
    password: String,
}

async fn operator_add(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    c.require(Role::Admin)?;
    let o: OperatorIn = parse_json("operator", &body)?;
    auth::name_ok(&o.name)?;
    let role = Role::parse(&o.role)
        .ok_or_else(|| ApiError::BadRequest("role must be admin, operator or viewer".into()))?;
    auth::password_policy(&o.name, &o.password)?;
    let hash = auth::hash_password_async(o.password).await?;
    st.store
        .add_operator(o.name.clone(), role, hash, true, c.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "name": o.name, "role": role, "must_change_password": true })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetIn {
    password: String,
}

async fn operator_reset(
    State(st): State<AdminState>,
    ApiCaller(c): ApiCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.require(Role::Admin)?;
    let r: ResetIn = parse_json("password reset", &body)?;
    auth::password_policy(&name, &r.password)?;
    let hash = auth::hash_password_async(r.password).await?;
    if !st
        .store
        .set_operator_password(name.clone(), hash, true, None, c.name)
        .await?
    {
        return Err(ApiError::NotFound(format!("no operator {name}")));
    }
    Ok(Json(
        serde_json::json!({ "name": name, "must_change_password": true }),
    ))
}
