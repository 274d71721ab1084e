//! The operator's server-rendered pages (issue 6): login, dashboard, attendance by day and by
//! employee, review queue, leave and travel, employees, schedules and holidays, monthly recap,
//! audit log. Bahasa Indonesia first (`?lang=en` or the language cookie for English); times in
//! the office zone. Forms post `application/x-www-form-urlencoded` (uploads `multipart/form-data`)
//! with the session's `_csrf`; a successful post redirects back (post/redirect/get).

use std::collections::HashMap;
use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

use super::api::{self, TravelIn};
use super::auth::{self, Caller, PageCaller};
use super::html::{csrf_field, esc, notice, options, page, respond, url_enc, Frame, Viewer};
use super::i18n::{self, Lang, LANG_COOKIE};
use super::{AdminState, ApiError};
use crate::attendance::{DayStatus, Month};
use crate::store::{EntryFilter, EntryKind, NewManualEntry, PunchView, Role};

/// The page routes.
pub fn routes() -> Router<AdminState> {
    use axum::routing::{get, post};
    let upload = axum::extract::DefaultBodyLimit::max(api::MAX_UPLOAD_BYTES);
    Router::new()
        .route("/login", get(login_page).post(login_post))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password_post))
        .route("/", get(dashboard))
        .route("/attendance", get(attendance_day))
        .route("/attendance/employee/{nip}", get(attendance_employee))
        .route("/photo/{record_id}", get(photo))
        .route("/review", get(review_page))
        .route("/review/{record_id}", post(review_post))
        .route("/leave", get(leave_page).post(leave_post))
        .route("/leave/{id}/cancel", post(leave_cancel))
        .route("/travel", post(travel_post))
        .route("/employees", get(employees_page).post(employee_post))
        .route("/employees/import", post(employee_import).layer(upload))
        .route(
            "/employees/face",
            post(employee_face).layer(axum::extract::DefaultBodyLimit::max(api::MAX_UPLOAD_BYTES)),
        )
        .route("/schedules", get(schedules_page).post(schedule_post))
        .route("/holidays", post(holiday_post))
        .route("/holidays/{date}/delete", post(holiday_delete))
        .route(
            "/holidays/import",
            post(holiday_import).layer(axum::extract::DefaultBodyLimit::max(api::MAX_UPLOAD_BYTES)),
        )
        .route("/recap", get(recap_page))
        .route("/recap/download", get(recap_download))
        .route("/audit", get(audit_page))
        .route("/operators", get(operators_page).post(operator_post))
        .route("/operators/{name}/reset", post(operator_reset))
        .route("/static/hadir.css", get(css))
}

/// Language, current address and query of a page request.
pub struct Ctx {
    lang: Lang,
    /// Path and query without `lang`.
    here: String,
    /// `?lang=` was given: remember it in a cookie.
    set_lang: bool,
    query: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let pairs = form_pairs(raw.as_bytes());
        let lang_q = pairs
            .iter()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.clone());
        let rest: Vec<String> = raw
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
            .map(str::to_string)
            .collect();
        let here = if rest.is_empty() {
            parts.uri.path().to_string()
        } else {
            format!("{}?{}", parts.uri.path(), rest.join("&"))
        };
        Ok(Ctx {
            lang: Lang::pick(lang_q.as_deref(), &parts.headers),
            here,
            set_lang: lang_q.is_some(),
            query: pairs.into_iter().collect(),
        })
    }
}

impl Ctx {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn t(&self, id: &'static str, en: &'static str) -> &'static str {
        self.lang.t(id, en)
    }

    fn finish(&self, mut resp: Response) -> Response {
        if self.set_lang {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
                self.lang.code()
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    fn render(
        &self,
        st: &AdminState,
        c: Option<&Caller>,
        status: StatusCode,
        (title, current): (&str, &str),
        body: &str,
        refresh_s: Option<u32>,
    ) -> Response {
        let html = page(
            &Frame {
                lang: self.lang,
                title,
                office: &st.office_name,
                current,
                viewer: c.map(|c| Viewer {
                    name: &c.name,
                    role: c.role,
                    csrf: &c.csrf,
                }),
                refresh_s,
                here: &self.here,
            },
            body,
        );
        self.finish(respond(status, html))
    }

    fn ok(&self, st: &AdminState, c: &Caller, title: &str, current: &str, body: &str) -> Response {
        let mut b = String::new();
        if let Some(done) = self.q("done") {
            b.push_str(&notice("ok", &done_text(self.lang, done)));
        }
        b.push_str(body);
        self.render(st, Some(c), StatusCode::OK, (title, current), &b, None)
    }

    /// An error page with the API error's status and message, and a way back.
    fn fail(&self, st: &AdminState, c: Option<&Caller>, e: ApiError) -> Response {
        let (status, _) = e.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %e, "page request failed");
        }
        // Back to the page the form was on: the first path segment.
        let section = self.here.split(['/', '?']).nth(1).unwrap_or("");
        let back = match section {
            "travel" => "/leave",
            "holidays" => "/schedules",
            "photo" => "/review",
            "review" | "leave" | "employees" | "schedules" | "recap" | "attendance"
            | "operators" | "password" | "audit" => &self.here[..section.len() + 1],
            _ => "/",
        };
        let body = format!(
            r#"{}<p><a href="{}">{}</a> · <a href="/">{}</a></p>"#,
            notice("error", &e.to_string()),
            esc(back),
            self.t("Kembali", "Back"),
            self.t("Dasbor", "Dashboard"),
        );
        self.render(
            st,
            c,
            status,
            (self.t("Tidak dapat diproses", "Could not be done"), ""),
            &body,
            None,
        )
    }
}

fn done_text(l: Lang, code: &str) -> String {
    match code {
        "review" => l.t("Keputusan tinjauan disimpan.", "Review decision saved."),
        "leave" => l.t("Entri disimpan.", "Entry saved."),
        "cancel" => l.t(
            "Entri dibatalkan (entri asli tetap tersimpan).",
            "Entry cancelled (the original is kept).",
        ),
        "travel" => l.t("Surat perintah tugas disimpan.", "Travel order saved."),
        "employee" => l.t("Data pegawai disimpan.", "Employee saved."),
        "schedule" => l.t("Jadwal disimpan.", "Schedule saved."),
        "holiday" => l.t("Hari libur disimpan.", "Holiday saved."),
        "holiday-deleted" => l.t("Hari libur dihapus.", "Holiday removed."),
        "password" => l.t("Kata sandi diganti.", "Password changed."),
        "operator" => l.t(
            "Operator ditambahkan; ia harus mengganti kata sandinya saat masuk pertama.",
            "Operator added; they must change the password at the first login.",
        ),
        "operator-reset" => l.t(
            "Kata sandi diatur ulang; sesi operator itu diakhiri.",
            "Password reset; that operator's sessions were ended.",
        ),
        _ => l.t("Tersimpan.", "Saved."),
    }
    .to_string()
}

/// Parses `application/x-www-form-urlencoded`.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(b[i + 1]), hex(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(kv), String::new()),
        })
        .collect()
}

/// A posted form.
struct Form(HashMap<String, String>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(form_pairs(body).into_iter().collect())
    }
    fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
    fn opt(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// One part of a `multipart/form-data` body.
struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

/// Parses a `multipart/form-data` body (file uploads).
fn multipart(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Part>, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = ctype
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| ApiError::BadRequest("expected a multipart/form-data upload".into()))?;
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let Some(start) = find(rest, &delim) else {
        return Err(ApiError::BadRequest("the upload has no parts".into()));
    };
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let rest2 = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(head_end) = find(rest2, b"\r\n\r\n") else {
            return Err(ApiError::BadRequest(
                "a part of the upload has no header end".into(),
            ));
        };
        let head = String::from_utf8_lossy(&rest2[..head_end]).to_string();
        let data_start = &rest2[head_end + 4..];
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let Some(data_end) = find(data_start, &end_delim) else {
            return Err(ApiError::BadRequest("the upload is cut short".into()));
        };
        let mut name = String::new();
        let mut filename = None;
        for line in head.lines() {
            if line.to_ascii_lowercase().starts_with("content-disposition") {
                for p in line.split(';') {
                    let p = p.trim();
                    if let Some(v) = p.strip_prefix("name=") {
                        name = v.trim_matches('"').to_string();
                    } else if let Some(v) = p.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            }
        }
        parts.push(Part {
            name,
            filename,
            data: data_start[..data_end].to_vec(),
        });
        rest = &data_start[data_end + end_delim.len()..];
    }
    Ok(parts)
}

/// The non-empty file parts named `field` of a `multipart/form-data` body.
pub(super) fn files_named(
    headers: &HeaderMap,
    body: &[u8],
    field: &str,
) -> Result<Vec<Vec<u8>>, ApiError> {
    Ok(multipart(headers, body)?
        .into_iter()
        .filter(|p| p.name == field && !p.data.is_empty())
        .map(|p| p.data)
        .collect())
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn read_only(ctx: &Ctx) -> String {
    format!(
        r#"<p class="muted">{}</p>"#,
        ctx.t(
            "Akun Anda hanya dapat melihat (viewer).",
            "Your account can only view (viewer)."
        )
    )
}

// ------------------------------------------------------------------ login, logout, password

async fn login_page(State(st): State<AdminState>, ctx: Ctx, headers: HeaderMap) -> Response {
    if let Some(t) = auth::cookie(&headers, auth::SESSION_COOKIE) {
        if let Ok(Some(_)) = st.store.session(auth::sha256_hex(&t)).await {
            return see_other(&auth::safe_next(ctx.q("next")));
        }
    }
    login_form(
        &st,
        &ctx,
        StatusCode::OK,
        None,
        ctx.q("next").unwrap_or("/"),
    )
}

fn login_form(
    st: &AdminState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<&str>,
    next: &str,
) -> Response {
    let token = auth::random_hex(16);
    let body = format!(
        r#"<div class="login">{err}<form method="post" action="/login" class="box">
<input type="hidden" name="_csrf" value="{token}"><input type="hidden" name="next" value="{next}">
<label for="name">{name}</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">{pw}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit" id="login">{go}</button></p></form>
<p class="muted">{hint}</p></div>"#,
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        next = esc(next),
        name = ctx.t("Nama pengguna", "User name"),
        pw = ctx.t("Kata sandi", "Password"),
        go = ctx.t("Masuk", "Log in"),
        hint = ctx.t(
            "Akun admin pertama dibuat saat mulai pertama; kata sandi sekali pakainya ada di berkas admin-password di direktori data.",
            "The first admin account is created on first start; its one-time password is in the admin-password file in the data directory."
        ),
    );
    let mut resp = ctx.render(
        st,
        None,
        status,
        (ctx.t("Masuk", "Log in"), ""),
        &body,
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600",
        auth::LOGIN_COOKIE
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let next = auth::safe_next(f.opt("next"));
    let expected = auth::cookie(&headers, auth::LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !super::constant_time_eq(f.get("_csrf").as_bytes(), expected.as_bytes())
    {
        return login_form(
            &st,
            &ctx,
            StatusCode::FORBIDDEN,
            Some(ctx.t(
                "Formulir kedaluwarsa atau tidak sah (CSRF). Silakan coba lagi.",
                "The form expired or is not valid (CSRF). Please try again.",
            )),
            &next,
        );
    }
    match auth::login(&st.store, f.get("name").trim(), f.get("password")).await {
        Ok(done) => {
            let to = if done.must_change {
                "/password".to_string()
            } else {
                next
            };
            let mut resp = see_other(&to);
            resp.headers_mut()
                .append(header::SET_COOKIE, auth::session_cookie(&done.token));
            ctx.finish(resp)
        }
        Err(ApiError::Unauthorized) => login_form(
            &st,
            &ctx,
            StatusCode::UNAUTHORIZED,
            Some(ctx.t(
                "Nama pengguna atau kata sandi salah.",
                "Wrong user name or password.",
            )),
            &next,
        ),
        Err(ApiError::Locked(_)) => login_form(
            &st,
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            Some(ctx.t(
                "Terlalu banyak percobaan gagal: akun dikunci selama 15 menit.",
                "Too many failed attempts: the account is locked for 15 minutes.",
            )),
            &next,
        ),
        Err(e) => ctx.fail(&st, None, e),
    }
}

async fn logout(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    if let Err(e) = c.check_csrf(f.get("_csrf")) {
        return ctx.fail(&st, Some(&c), e);
    }
    if let Some(s) = c.session.clone() {
        if let Err(e) = st.store.close_session(s, c.name.clone()).await {
            return ctx.fail(&st, Some(&c), e.into());
        }
    }
    let mut resp = see_other("/login");
    resp.headers_mut()
        .append(header::SET_COOKIE, auth::clear_session_cookie());
    resp
}

fn password_form(ctx: &Ctx, c: &Caller, error: Option<&str>) -> String {
    format!(
        r#"{first}{err}<form method="post" action="/password" class="box">{csrf}
<label for="current">{cur}</label><input id="current" name="current" type="password" autocomplete="current-password" required>
<label for="new">{new}</label><input id="new" name="new" type="password" autocomplete="new-password" minlength="{min}" required>
<label for="confirm">{conf}</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="{min}" required>
<p><button type="submit" id="save-password">{save}</button></p></form>"#,
        first = if c.must_change {
            notice(
                "error",
                ctx.t(
                    "Ganti kata sandi sekali pakai ini sebelum melanjutkan.",
                    "Change this one-time password before going on.",
                ),
            )
        } else {
            String::new()
        },
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        csrf = csrf_field(&c.csrf),
        cur = ctx.t("Kata sandi sekarang", "Current password"),
        new = ctx.t(
            "Kata sandi baru (minimal 10 karakter)",
            "New password (at least 10 characters)"
        ),
        conf = ctx.t("Ulangi kata sandi baru", "Repeat the new password"),
        min = auth::MIN_PASSWORD_CHARS,
        save = ctx.t("Simpan", "Save"),
    )
}

async fn password_page(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let body = password_form(&ctx, &c, None);
    ctx.ok(
        &st,
        &c,
        ctx.t("Ganti kata sandi", "Change password"),
        "",
        &body,
    )
}

async fn password_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    if let Err(e) = c.check_csrf(f.get("_csrf")) {
        return ctx.fail(&st, Some(&c), e);
    }
    let result = if f.get("new") != f.get("confirm") {
        Err(ApiError::BadRequest(
            ctx.t(
                "Kata sandi baru dan ulangannya berbeda.",
                "The new password and its repetition differ.",
            )
            .into(),
        ))
    } else {
        auth::change_password(&st, &c, f.get("current"), f.get("new")).await
    };
    match result {
        Ok(()) => see_other("/?done=password"),
        Err(e) => {
            let (status, _) = e.status_and_code();
            let body = password_form(&ctx, &c, Some(&e.to_string()));
            ctx.render(
                &st,
                Some(&c),
                status,
                (ctx.t("Ganti kata sandi", "Change password"), ""),
                &body,
                None,
            )
        }
    }
}

// ------------------------------------------------------------------ dashboard

async fn dashboard(State(st): State<AdminState>, ctx: Ctx, PageCaller(c): PageCaller) -> Response {
    let d = match api::load_dashboard(&st).await {
        Ok(d) => d,
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let tz = &st.office_tz;
    let mut b = String::new();
    if let Some(done) = ctx.q("done") {
        b.push_str(&notice("ok", &done_text(ctx.lang, done)));
    }
    let _ = write!(
        b,
        r#"<p class="muted">{date} · {zone} · {auto}</p><div class="cards" id="today">"#,
        date = i18n::long_date(ctx.lang, d.date),
        zone = esc(&d.zone),
        auto = ctx.t(
            "diperbarui otomatis tiap 30 detik",
            "refreshes every 30 seconds"
        ),
    );
    let cards: [(&str, &str, u32, &str); 7] = [
        ("Pegawai", "Employees", d.today.employees, ""),
        ("Hadir", "Present", d.today.present, "ok"),
        ("Terlambat", "Late", d.today.late, "warn"),
        ("Belum hadir / alpa", "Absent", d.today.absent, "bad"),
        ("Izin / sakit / cuti", "On leave", d.today.on_leave, ""),
        ("Dinas luar", "On travel", d.today.on_travel, ""),
        ("Perlu ditinjau", "To review", d.to_review as u32, "warn"),
    ];
    for (id, en, n, cls) in cards {
        let _ = write!(
            b,
            r#"<div class="card"><div class="n {cls}">{n}</div><div class="l">{}</div></div>"#,
            ctx.t(id, en)
        );
    }
    b.push_str("</div>");
    if d.to_review > 0 {
        let _ = write!(
            b,
            r#"<p><a href="/review">{} ({})</a></p>"#,
            ctx.t("Buka antrean tinjauan", "Open the review queue"),
            d.to_review
        );
    }
    // Readers.
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="devices"><tr><th>{}</th><th>{}</th><th>Status</th><th>{}</th><th class="num">{}</th><th>{}</th></tr>"#,
        ctx.t("Mesin sidik jari", "Fingerprint readers"),
        ctx.t("Nama", "Name"),
        ctx.t("Jenis", "Kind"),
        ctx.t("Terakhir terlihat", "Last seen"),
        ctx.t("Selisih jam (dtk)", "Clock drift (s)"),
        ctx.t("Galat terakhir", "Last error"),
    );
    if d.devices.is_empty() {
        let _ = write!(
            b,
            r#"<tr><td colspan="6" class="muted">{}</td></tr>"#,
            ctx.t("Belum ada mesin.", "No readers yet.")
        );
    }
    for dev in &d.devices {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td><td class="num">{}</td><td class="muted">{}</td></tr>"#,
            esc(&dev.name),
            esc(&dev.kind),
            if dev.online { "ok" } else { "bad" },
            if dev.online {
                ctx.t("daring", "online")
            } else {
                ctx.t("luring", "offline")
            },
            i18n::utc_to_local(dev.last_seen_utc.as_deref(), tz),
            dev.drift_s
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            esc(dev.last_error.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table>");
    // Tablets.
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="tablets"><tr><th>{}</th><th>Status</th><th>{}</th><th class="num">{}</th></tr>"#,
        ctx.t("Tablet presensi", "Check-in tablets"),
        ctx.t("Nama", "Name"),
        ctx.t("Presensi terakhir", "Last check-in"),
        ctx.t("Selisih jam (dtk)", "Clock drift (s)"),
    );
    if d.tablets.is_empty() {
        let _ = write!(
            b,
            r#"<tr><td colspan="4" class="muted">{}</td></tr>"#,
            ctx.t("Belum ada tablet.", "No tablets yet.")
        );
    }
    let now = jiff::Timestamp::now();
    for t in &d.tablets {
        let recent = t
            .last_seen_utc
            .as_deref()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .is_some_and(|s| (now.as_second() - s.as_second()) < 15 * 60);
        let (cls, status) = if t.revoked {
            ("bad", ctx.t("dicabut", "revoked"))
        } else if recent {
            ("ok", ctx.t("aktif (15 mnt)", "active (15 min)"))
        } else {
            ("muted", ctx.t("tidak aktif", "idle"))
        };
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td class="{cls}">{status}</td><td>{}</td><td class="num">{}</td></tr>"#,
            esc(&t.name),
            i18n::utc_to_local(t.last_seen_utc.as_deref(), tz),
            t.drift_s
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
        );
    }
    b.push_str("</table>");
    // Upstream and disk.
    let _ = write!(
        b,
        r#"<h2>{up}</h2><table id="upstream"><tr><th>{link}</th><td class="{lc}">{ls}</td></tr>
<tr><th>{backlog}</th><td class="num">{bn}</td></tr><tr><th>{oldest}</th><td>{ov}</td></tr>
<tr><th>{last}</th><td>{lv}</td></tr></table>
<h2>{disk}</h2><table id="disk"><tr><th>{db}</th><td>{dbv}</td></tr><tr><th>{free}</th><td>{fv}</td></tr><tr><th>{recs}</th><td class="num">{rv}</td></tr>{refused}</table>"#,
        up = ctx.t(
            "Pengiriman ke server provinsi",
            "Forwarding to the provincial server"
        ),
        link = ctx.t("Sambungan", "Link"),
        lc = if d.upstream.connected { "ok" } else { "warn" },
        ls = if d.upstream.connected {
            ctx.t("terhubung", "connected")
        } else {
            ctx.t("tidak terhubung", "not connected")
        },
        backlog = ctx.t("Antrean belum terkirim", "Backlog (not yet acknowledged)"),
        bn = d.store.backlog,
        oldest = ctx.t("Rekaman tertua belum terkirim", "Oldest unsent record"),
        ov = i18n::utc_to_local(d.store.oldest_unsent_utc.as_deref(), tz),
        last = ctx.t("Pengiriman berhasil terakhir", "Last successful forward"),
        lv = i18n::utc_to_local(d.store.last_forward_utc.as_deref(), tz),
        disk = ctx.t("Penyimpanan", "Storage"),
        db = ctx.t("Basis data", "Database"),
        dbv = i18n::bytes(d.store.db_bytes),
        free = ctx.t("Ruang kosong", "Free space"),
        fv = d
            .store
            .free_bytes
            .map(i18n::bytes)
            .unwrap_or_else(|| "—".into()),
        recs = ctx.t("Rekaman tersimpan", "Records stored"),
        rv = d.store.records,
        refused = d
            .store
            .intake_refused
            .as_deref()
            .map(|r| format!(
                r#"<tr><th class="bad">{}</th><td class="bad">{}</td></tr>"#,
                ctx.t("Penerimaan ditolak", "Intake refused"),
                esc(r)
            ))
            .unwrap_or_default(),
    );
    if c.role >= Role::Admin {
        let _ = write!(
            b,
            r#"<p><a href="/qr?token={}" target="_blank" rel="noopener">{}</a></p>"#,
            url_enc(st.display_token.expose()),
            ctx.t(
                "Layar kode QR kantor (untuk TV di pintu masuk)",
                "Office QR display (for a TV at the entrance)"
            ),
        );
    }
    ctx.render(
        &st,
        Some(&c),
        StatusCode::OK,
        (ctx.t("Dasbor", "Dashboard"), "/"),
        &b,
        Some(30),
    )
}

// ------------------------------------------------------------------ attendance

fn status_text(l: Lang, s: DayStatus) -> &'static str {
    match s {
        DayStatus::DayOff => l.t("Libur", "Day off"),
        DayStatus::Holiday => l.t("Hari libur", "Holiday"),
        DayStatus::NotYet => "—",
        DayStatus::Hadir => l.t("Hadir", "Present"),
        DayStatus::DinasLuar => l.t("Dinas luar", "Official travel"),
        DayStatus::Izin => l.t("Izin", "Permission"),
        DayStatus::Sakit => l.t("Sakit", "Sick"),
        DayStatus::Cuti => l.t("Cuti", "Leave"),
        DayStatus::TanpaKeterangan => l.t("Tanpa keterangan", "Absent"),
    }
}

fn status_class(s: DayStatus) -> &'static str {
    match s {
        DayStatus::Hadir => "ok",
        DayStatus::TanpaKeterangan => "bad",
        _ => "",
    }
}

fn time_opt(t: Option<jiff::civil::Time>) -> String {
    t.map(|t| t.strftime("%H:%M").to_string())
        .unwrap_or_else(|| "—".into())
}

fn verdict_text(l: Lang, v: &str) -> &'static str {
    match v {
        "accepted" => l.t("diterima", "accepted"),
        "rejected" => l.t("ditolak", "rejected"),
        "needs-review" => l.t("perlu ditinjau", "needs review"),
        _ => "?",
    }
}

/// The evidence of one record: mode, distance, accuracy, QR, face score, findings, photo.
fn evidence(l: Lang, p: &PunchView) -> String {
    let mut out = String::from(r#"<div class="evidence">"#);
    if let Some(m) = &p.mode {
        let _ = write!(out, "{}: {} · ", l.t("mode", "mode"), esc(m));
    }
    let findings = p.findings.as_array().cloned().unwrap_or_default();
    let distance = findings
        .iter()
        .find_map(|f| f["detail"]["distance_m"].as_f64());
    if let Some(d) = distance {
        let _ = write!(out, "{} {d:.0} m · ", l.t("jarak", "distance"));
    }
    if let Some(a) = p.accuracy_m {
        let _ = write!(out, "{} ±{a:.0} m · ", l.t("akurasi", "accuracy"));
    }
    if let Some(q) = findings
        .iter()
        .find(|f| f["code"].as_str().is_some_and(|c| c.starts_with("qr.")))
    {
        let _ = write!(out, "QR: {} · ", esc(q["code"].as_str().unwrap_or("")));
    }
    if let Some(s) = findings.iter().find_map(|f| {
        f["code"]
            .as_str()
            .filter(|c| c.starts_with("face."))
            .and(f["detail"]["score"].as_f64())
    }) {
        let _ = write!(out, "{} {s:.2} · ", l.t("skor wajah", "face score"));
    }
    let msgs: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"].as_str() != Some("info"))
        .map(|f| {
            let msg = f[l.code()].as_str().unwrap_or("");
            format!("{} ({})", esc(msg), esc(f["code"].as_str().unwrap_or("")))
        })
        .collect();
    if !msgs.is_empty() {
        out.push_str(&msgs.join("; "));
    }
    if let Some(r) = &p.review {
        let _ = write!(
            out,
            "<br>{}: {} — {} ({})",
            l.t("Ditinjau", "Reviewed"),
            esc(&r.operator),
            esc(&r.note),
            esc(verdict_text(l, &r.decision))
        );
    }
    if p.photo {
        let _ = write!(
            out,
            r#"<br><a href="/photo/{id}" target="_blank"><img class="selfie" src="/photo/{id}" alt="{alt}" loading="lazy"></a>"#,
            id = url_enc(&p.record_id),
            alt = l.t("foto presensi", "check-in photo"),
        );
    }
    out.push_str("</div>");
    out
}

fn records_table(l: Lang, rows: &[PunchView], with_employee: bool) -> String {
    let mut b = format!(
        r#"<table class="records"><tr><th>{}</th>{}<th>{}</th><th>{}</th><th>{}</th></tr>"#,
        l.t("Waktu", "Time"),
        if with_employee {
            format!("<th>{}</th>", l.t("Pegawai", "Employee"))
        } else {
            String::new()
        },
        l.t("Sumber", "Source"),
        l.t("Putusan", "Verdict"),
        l.t("Bukti", "Evidence"),
    );
    if rows.is_empty() {
        let _ = write!(
            b,
            r#"<tr><td colspan="5" class="muted">{}</td></tr>"#,
            l.t("Tidak ada rekaman.", "No records.")
        );
    }
    for p in rows {
        let when = if with_employee {
            i18n::hhmm(&p.occurred_local).to_string()
        } else {
            format!(
                "{} {}",
                p.occurred_local.get(..10).unwrap_or(""),
                i18n::hhmm(&p.occurred_local)
            )
        };
        let _ = write!(b, "<tr><td>{}</td>", esc(&when));
        if with_employee {
            let _ = write!(
                b,
                r#"<td><a href="/attendance/employee/{}">{}</a><br><span class="muted">{}</span></td>"#,
                url_enc(&p.employee),
                esc(p.name.as_deref().unwrap_or("?")),
                esc(&p.employee)
            );
        }
        let _ = write!(
            b,
            r#"<td>{} <span class="muted">{}</span></td><td class="verdict-{v}">{}</td><td>{}</td></tr>"#,
            esc(&p.source),
            esc(&p.device),
            verdict_text(l, &p.verdict),
            evidence(l, p),
            v = esc(&p.verdict),
        );
    }
    b.push_str("</table>");
    b
}

async fn attendance_day(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let date = match ctx
        .q("date")
        .map(|d| api::parse_date("date", d))
        .transpose()
    {
        Ok(d) => d.unwrap_or_else(|| i18n::today(&st.office_tz)),
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let r = match api::load_day(&st, date).await {
        Ok(r) => r,
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let l = ctx.lang;
    let prev = date.yesterday().unwrap_or(date);
    let next = date.tomorrow().unwrap_or(date);
    let mut b = format!(
        r#"<form method="get" action="/attendance" class="row"><a href="/attendance?date={prev}">« {prevl}</a>
<input type="date" name="date" value="{date}"><button type="submit">{show}</button><a href="/attendance?date={next}">{nextl} »</a></form>
<p><strong>{long}</strong> {hol}</p>"#,
        prevl = l.t("sebelumnya", "previous"),
        nextl = l.t("berikutnya", "next"),
        show = l.t("Tampilkan", "Show"),
        long = i18n::long_date(l, date),
        hol = r
            .holiday
            .as_deref()
            .map(|h| format!("· {}", esc(h)))
            .unwrap_or_default(),
    );
    let _ = write!(
        b,
        r#"<table id="day"><tr><th>NIP</th><th>{}</th><th>{}</th><th>Status</th><th>{}</th><th>{}</th><th class="num">{}</th><th class="num">{}</th></tr>"#,
        l.t("Nama", "Name"),
        l.t("Unit", "Unit"),
        l.t("Masuk", "First in"),
        l.t("Pulang", "Last out"),
        l.t("Terlambat (mnt)", "Late (min)"),
        l.t("Pulang cepat (mnt)", "Early leave (min)"),
    );
    for e in &r.employees {
        let d = &e.day;
        let _ = write!(
            b,
            r#"<tr><td>{nip}</td><td><a href="/attendance/employee/{nipu}?month={m}">{name}</a></td><td>{unit}</td><td class="{cls}">{status}{wfh}</td><td>{fi}{mi}</td><td>{lo}{mo}</td><td class="num">{late}</td><td class="num">{early}</td></tr>"#,
            nip = esc(&e.nip),
            nipu = url_enc(&e.nip),
            m = Month::of(date),
            name = esc(&e.name),
            unit = esc(&e.unit),
            cls = status_class(d.status),
            status = status_text(l, d.status),
            wfh = if d.wfh { " (WFH)" } else { "" },
            fi = time_opt(d.first_in),
            mi = if d.missing_in {
                l.t(" (tidak absen)", " (missing)")
            } else {
                ""
            },
            lo = time_opt(d.last_out),
            mo = if d.missing_out {
                l.t(" (tidak absen)", " (missing)")
            } else {
                ""
            },
            late = d.late_min,
            early = d.early_min,
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<h2>{}</h2>",
        l.t("Rekaman dan bukti", "Records and evidence")
    );
    b.push_str(&records_table(l, &r.records, true));
    ctx.ok(
        &st,
        &c,
        l.t("Kehadiran harian", "Attendance by day"),
        "/attendance",
        &b,
    )
}

async fn attendance_employee(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(nip): Path<String>,
) -> Response {
    let month = match ctx.q("month").map(Month::parse).transpose() {
        Ok(m) => m.unwrap_or_else(|| Month::of(i18n::today(&st.office_tz))),
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let r = match api::load_employee_month(&st, &nip, month).await {
        Ok(r) => r,
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let l = ctx.lang;
    let e = &r.recap;
    let t = &e.totals;
    let mut b = format!(
        r#"<p><strong>{name}</strong> · NIP {nip} · {unit} · {pos}</p>
<form method="get" class="row"><input type="month" name="month" value="{month}"><button type="submit">{show}</button></form>
<div class="cards"><div class="card"><div class="n">{wd}</div><div class="l">{wdl}</div></div><div class="card"><div class="n ok">{pr}</div><div class="l">{prl}</div></div>
<div class="card"><div class="n warn">{lc} / {lm}</div><div class="l">{latel}</div></div><div class="card"><div class="n">{ec} / {em}</div><div class="l">{earlyl}</div></div>
<div class="card"><div class="n bad">{tk}</div><div class="l">{tkl}</div></div><div class="card"><div class="n">{rate}</div><div class="l">{ratel}</div></div></div>"#,
        name = esc(&e.name),
        nip = esc(&e.nip),
        unit = esc(&e.unit),
        pos = esc(&e.position),
        month = month,
        show = l.t("Tampilkan", "Show"),
        wd = t.working_days,
        wdl = l.t("Hari kerja", "Working days"),
        pr = t.present,
        prl = l.t("Hadir", "Present"),
        lc = t.late_count,
        lm = t.late_minutes,
        latel = l.t("Terlambat (kali / menit)", "Late (times / minutes)"),
        ec = t.early_count,
        em = t.early_minutes,
        earlyl = l.t(
            "Pulang cepat (kali / menit)",
            "Early leave (times / minutes)"
        ),
        tk = t.tanpa_keterangan,
        tkl = l.t("Tanpa keterangan", "Absent"),
        rate = t
            .rate_pct
            .map(|r| format!("{r:.2} %"))
            .unwrap_or_else(|| "—".into()),
        ratel = l.t("Tingkat kehadiran", "Attendance rate"),
    );
    let _ = write!(
        b,
        r#"<table id="days"><tr><th>{}</th><th>Status</th><th>{}</th><th>{}</th><th class="num">{}</th><th class="num">{}</th></tr>"#,
        l.t("Tanggal", "Date"),
        l.t("Masuk", "First in"),
        l.t("Pulang", "Last out"),
        l.t("Terlambat (mnt)", "Late (min)"),
        l.t("Pulang cepat (mnt)", "Early leave (min)"),
    );
    for d in &e.days {
        let _ = write!(
            b,
            r#"<tr><td><a href="/attendance?date={date}">{wd} {dd}</a></td><td class="{cls}">{st}{hol}</td><td>{fi}</td><td>{lo}</td><td class="num">{late}</td><td class="num">{early}</td></tr>"#,
            date = d.date,
            wd = i18n::short_weekday(l, d.date),
            dd = d.date.strftime("%d/%m"),
            cls = status_class(d.status),
            st = status_text(l, d.status),
            hol = d
                .holiday
                .as_deref()
                .map(|h| format!(" · {}", esc(h)))
                .unwrap_or_default(),
            fi = time_opt(d.first_in),
            lo = time_opt(d.last_out),
            late = d.late_min,
            early = d.early_min,
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<h2>{}</h2>",
        l.t("Rekaman dan bukti", "Records and evidence")
    );
    b.push_str(&records_table(l, &r.records, false));
    ctx.ok(
        &st,
        &c,
        l.t("Kehadiran pegawai", "Employee attendance"),
        "/attendance",
        &b,
    )
}

async fn photo(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(id): Path<String>,
) -> Response {
    match api::photo_response(&st, id).await {
        Ok(r) => r,
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ review

async fn review_page(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let items = match st.store.review_queue().await {
        Ok(i) => i,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let l = ctx.lang;
    let mut b = format!(
        r#"<p class="muted">{}</p>"#,
        l.t(
            "Presensi yang perlu ditinjau. Setiap keputusan wajib disertai catatan, dicatat di jejak audit dan dikirim ke server provinsi.",
            "Check-ins that need review. Every decision needs a note, goes to the audit log and is forwarded to the provincial server."
        )
    );
    if items.is_empty() {
        let _ = write!(
            b,
            r#"<p id="review-empty">{}</p>"#,
            l.t("Tidak ada yang perlu ditinjau.", "Nothing to review.")
        );
    }
    b.push_str(r#"<table id="review">"#);
    for p in &items {
        let _ = write!(
            b,
            r#"<tr><td>{date} {time}</td><td><a href="/attendance/employee/{nipu}">{name}</a><br><span class="muted">{nip}</span></td><td>{src} <span class="muted">{dev}</span></td><td>{ev}</td><td>"#,
            date = p
                .occurred_local
                .get(..10)
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                .map(|d| d.strftime("%d/%m/%Y").to_string())
                .unwrap_or_default(),
            time = esc(i18n::hhmm(&p.occurred_local)),
            nipu = url_enc(&p.employee),
            name = esc(p.name.as_deref().unwrap_or("?")),
            nip = esc(&p.employee),
            src = esc(&p.source),
            dev = esc(&p.device),
            ev = evidence(l, p),
        );
        if c.role >= Role::Operator {
            let _ = write!(
                b,
                r#"<form method="post" action="/review/{id}" class="review-form">{csrf}
<textarea name="note" required maxlength="1000" placeholder="{ph}" aria-label="{ph}"></textarea>
<button type="submit" name="decision" value="approve" class="approve">{ok}</button> <button type="submit" name="decision" value="reject" class="reject">{no}</button></form>"#,
                id = url_enc(&p.record_id),
                csrf = csrf_field(&c.csrf),
                ph = l.t("Catatan (wajib)", "Note (required)"),
                ok = l.t("Setujui", "Approve"),
                no = l.t("Tolak", "Reject"),
            );
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</table>");
    if c.role < Role::Operator {
        b.push_str(&read_only(&ctx));
    }
    ctx.ok(
        &st,
        &c,
        l.t("Antrean tinjauan", "Review queue"),
        "/review",
        &b,
    )
}

async fn review_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = match c.check_csrf(f.get("_csrf")) {
        Ok(()) => api::decide(&st, &c, id, f.get("decision"), f.get("note")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => see_other("/review?done=review"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ leave & travel

fn employee_options(emps: &[crate::store::EmployeeView], selected: &str) -> String {
    let items: Vec<(String, String)> = emps
        .iter()
        .filter(|e| e.active)
        .map(|e| (e.nip.clone(), format!("{} — {}", e.name, e.nip)))
        .collect();
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    options(&refs, selected)
}

async fn leave_page(State(st): State<AdminState>, ctx: Ctx, PageCaller(c): PageCaller) -> Response {
    let l = ctx.lang;
    let today = i18n::today(&st.office_tz);
    // From the first day of last month: recent entries stay visible for corrections.
    let from = Month::of(Month::of(today).first().yesterday().unwrap_or(today)).first();
    let (emps, entries, travel) = match tokio::try_join!(
        st.store.employees(),
        st.store.manual_entries(EntryFilter {
            from: Some(from),
            ..Default::default()
        }),
        st.store
            .travel_orders_between(from, jiff::civil::date(9999, 12, 31)),
    ) {
        Ok(x) => x,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let mut b = String::new();
    if c.role >= Role::Operator {
        let kinds = [
            ("izin", l.t("Izin", "Permission (izin)")),
            ("sakit", l.t("Sakit", "Sick (sakit)")),
            ("cuti", l.t("Cuti", "Leave (cuti)")),
            ("wfh", l.t("Tugas WFH", "WFH assignment")),
        ];
        let _ = write!(
            b,
            r#"<h2>{h}</h2><form method="post" action="/leave" class="box" id="leave-form">{csrf}
<div class="row"><div><label for="nip">{emp}</label><select id="nip" name="nip" required>{opts}</select></div>
<div><label for="kind">{kind}</label><select id="kind" name="kind">{kopts}</select></div></div>
<div class="row"><div><label for="date_from">{fr}</label><input type="date" id="date_from" name="date_from" value="{today}" required></div>
<div><label for="date_to">{to}</label><input type="date" id="date_to" name="date_to" value="{today}" required></div></div>
<label for="note">{note}</label><textarea id="note" name="note" maxlength="500"></textarea>
<p><button type="submit" id="leave-save">{save}</button></p></form>
<h2>{ht}</h2><form method="post" action="/travel" class="box" id="travel-form">{csrf}
<div class="row"><div><label for="tnip">{emp}</label><select id="tnip" name="nip" required>{opts}</select></div>
<div><label for="spt">{spt}</label><input id="spt" name="spt_number" required maxlength="100" placeholder="094/123/BKD/2026"></div></div>
<div class="row"><div><label for="tfrom">{fr}</label><input type="date" id="tfrom" name="from" value="{today}" required></div>
<div><label for="tto">{to}</label><input type="date" id="tto" name="to" value="{today}" required></div></div>
<p><button type="submit" id="travel-save">{save}</button></p></form>"#,
            h = l.t("Izin, sakit, cuti, tugas WFH", "Leave and WFH assignment"),
            csrf = csrf_field(&c.csrf),
            emp = l.t("Pegawai", "Employee"),
            opts = employee_options(&emps, ""),
            kind = l.t("Jenis", "Kind"),
            kopts = options(&kinds, "izin"),
            fr = l.t("Dari tanggal", "From"),
            to = l.t("Sampai tanggal", "To"),
            note = l.t(
                "Keterangan (nomor surat, alasan)",
                "Note (letter number, reason)"
            ),
            save = l.t("Simpan", "Save"),
            ht = l.t("Dinas luar (SPT)", "Official travel (SPT)"),
            spt = l.t("Nomor SPT", "SPT number"),
        );
    } else {
        b.push_str(&read_only(&ctx));
    }
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="entries"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>"#,
        l.t(
            "Entri berlaku (sejak bulan lalu)",
            "Entries in force (since last month)"
        ),
        l.t("Pegawai", "Employee"),
        l.t("Jenis", "Kind"),
        l.t("Tanggal", "Dates"),
        l.t("Keterangan", "Note"),
        l.t("Dicatat oleh", "Entered by"),
    );
    let names: HashMap<&str, &str> = emps
        .iter()
        .map(|e| (e.nip.as_str(), e.name.as_str()))
        .collect();
    for e in entries.iter().filter(|e| e.in_force) {
        let _ = write!(
            b,
            r#"<tr><td>{name}<br><span class="muted">{nip}</span></td><td>{kind}</td><td>{from} – {to}</td><td>{note}</td><td>{by}</td><td>"#,
            name = esc(names.get(e.nip.as_str()).copied().unwrap_or("?")),
            nip = esc(&e.nip),
            kind = esc(e.kind.label()),
            from = e.date_from.strftime("%d/%m/%Y"),
            to = e.date_to.strftime("%d/%m/%Y"),
            note = esc(&e.note),
            by = esc(&e.entered_by),
        );
        if c.role >= Role::Operator {
            let _ = write!(
                b,
                r#"<form method="post" action="/leave/{id}/cancel" class="inline">{csrf}<input name="reason" required maxlength="500" placeholder="{ph}" aria-label="{ph}"> <button type="submit" class="reject">{cancel}</button></form>"#,
                id = url_enc(&e.id),
                csrf = csrf_field(&c.csrf),
                ph = l.t("Alasan pembatalan", "Reason"),
                cancel = l.t("Batalkan", "Cancel"),
            );
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="travel"><tr><th>{}</th><th>SPT</th><th>{}</th><th>{}</th></tr>"#,
        l.t("Dinas luar", "Official travel"),
        l.t("Pegawai", "Employee"),
        l.t("Tanggal", "Dates"),
        l.t("Dicatat oleh", "Entered by"),
    );
    for t in &travel {
        let _ = write!(
            b,
            r#"<tr><td>{}<br><span class="muted">{}</span></td><td>{}</td><td>{} – {}</td><td>{}</td></tr>"#,
            esc(t.name.as_deref().unwrap_or("?")),
            esc(&t.nip),
            esc(&t.spt_number),
            esc(&t.date_from),
            esc(&t.date_to),
            esc(&t.created_by),
        );
    }
    b.push_str("</table>");
    ctx.ok(
        &st,
        &c,
        l.t("Izin, cuti dan dinas luar", "Leave and official travel"),
        "/leave",
        &b,
    )
}

fn form_date(f: &Form, k: &str) -> Result<jiff::civil::Date, ApiError> {
    api::parse_date(k, f.get(k).trim())
}

async fn leave_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        let kind = EntryKind::parse(f.get("kind"))
            .filter(|k| *k != EntryKind::Batal)
            .ok_or_else(|| ApiError::BadRequest("kind must be izin, sakit, cuti or wfh".into()))?;
        let e = NewManualEntry {
            nip: f.get("nip").trim().to_string(),
            kind,
            date_from: form_date(&f, "date_from")?,
            date_to: form_date(&f, "date_to")?,
            note: f.get("note").trim().to_string(),
            supersedes: f.opt("supersedes").map(str::to_string),
        };
        api::add_leave(&st, &c, e).await
    }
    .await;
    match r {
        Ok(_) => see_other("/leave?done=leave"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn leave_cancel(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = match c.check_csrf(f.get("_csrf")) {
        Ok(()) => api::cancel_leave(&st, &c, id, f.get("reason"))
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => see_other("/leave?done=cancel"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn travel_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        let t = TravelIn {
            nip: f.get("nip").trim().to_string(),
            spt_number: f.get("spt_number").to_string(),
            from: form_date(&f, "from")?,
            to: form_date(&f, "to")?,
        };
        api::add_travel(&st, &c, t).await
    }
    .await;
    match r {
        Ok(_) => see_other("/leave?done=travel"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ employees

async fn employees_page(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let l = ctx.lang;
    let (emps, groups) = match tokio::try_join!(st.store.employees(), st.store.schedule_groups()) {
        Ok(x) => x,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let mut b = String::new();
    if c.role >= Role::Operator {
        let edit = ctx.q("edit").and_then(|n| emps.iter().find(|e| e.nip == n));
        let mut gitems: Vec<(String, String)> =
            vec![(String::new(), l.t("(bawaan)", "(default)").to_string())];
        gitems.extend(
            groups
                .iter()
                .map(|g| (g.name.clone(), format!("{} — {}", g.name, g.label))),
        );
        let grefs: Vec<(&str, &str)> = gitems
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let f = |v: Option<&str>| esc(v.unwrap_or("")).into_owned();
        let _ = write!(
            b,
            r#"<h2>{h}</h2><form method="post" action="/employees" class="box" id="employee-form">{csrf}
<div class="row"><div><label for="enip">NIP</label><input id="enip" name="nip" required value="{nip}" maxlength="32"></div>
<div><label for="ename">{name}</label><input id="ename" name="name" required value="{namev}" maxlength="200" size="32"></div></div>
<div class="row"><div><label for="eunit">{unit}</label><input id="eunit" name="unit" value="{unitv}" maxlength="200"></div>
<div><label for="epos">{pos}</label><input id="epos" name="position" value="{posv}" maxlength="200"></div>
<div><label for="egroup">{grp}</label><select id="egroup" name="schedule_group">{gopts}</select></div></div>
<div class="row"><div><label for="elat">{home} (lat)</label><input id="elat" name="home_lat" value="{lat}" size="10"></div><div><label for="elon">(lon)</label><input id="elon" name="home_lon" value="{lon}" size="10"></div></div>
<p><button type="submit" id="employee-save">{save}</button></p></form>
<h2>{imp}</h2><form method="post" action="/employees/import" enctype="multipart/form-data" class="box" id="import-form">{csrf}
<input type="file" name="file" accept=".csv,.xlsx,.xls,.ods,text/csv" required> <label class="inline"><input type="checkbox" name="dry_run" value="1"> {dry}</label>
<p><button type="submit">{upload}</button></p><p class="muted">{imphint}</p></form>"#,
            h = l.t("Tambah atau ubah pegawai", "Add or edit an employee"),
            csrf = csrf_field(&c.csrf),
            nip = f(edit.map(|e| e.nip.as_str())),
            name = l.t("Nama", "Name"),
            namev = f(edit.map(|e| e.name.as_str())),
            unit = l.t("Unit / bidang", "Unit"),
            unitv = f(edit.map(|e| e.unit.as_str())),
            pos = l.t("Jabatan", "Position"),
            posv = f(edit.map(|e| e.position.as_str())),
            grp = l.t("Kelompok jadwal", "Schedule group"),
            gopts = options(
                &grefs,
                edit.map(|e| e.schedule_group.as_str()).unwrap_or("")
            ),
            home = l.t("Lokasi rumah untuk WFH", "Home for WFH"),
            lat = edit
                .and_then(|e| e.home_lat)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            lon = edit
                .and_then(|e| e.home_lon)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            save = l.t("Simpan", "Save"),
            imp = l.t(
                "Impor dari SIMPEG (CSV atau XLSX)",
                "Import from SIMPEG (CSV or XLSX)"
            ),
            dry = l.t(
                "pratinjau saja (tidak menyimpan)",
                "preview only (saves nothing)"
            ),
            upload = l.t("Unggah", "Upload"),
            imphint = l.t(
                "Kolom yang dikenali: NIP, Nama, Unit/Bidang, Jabatan, Kelompok jadwal.",
                "Recognised columns: NIP, Nama, Unit/Bidang, Jabatan, Kelompok jadwal."
            ),
        );
        if st.face.is_some() {
            let _ = write!(
                b,
                r#"<h2>{h}</h2><form method="post" action="/employees/face" enctype="multipart/form-data" class="box" id="face-form">{csrf}
<label for="fnip">{emp}</label><select id="fnip" name="nip" required>{opts}</select>
<label for="fphotos">{ph}</label><input id="fphotos" type="file" name="photo" accept="image/jpeg,image/png" multiple required>
<p class="muted">{hint}</p><p><button type="submit">{go}</button></p></form>"#,
                h = l.t("Daftarkan wajah", "Enroll a face"),
                csrf = csrf_field(&c.csrf),
                emp = l.t("Pegawai", "Employee"),
                opts = employee_options(&emps, ""),
                ph = l.t("1–5 foto (JPEG/PNG)", "1–5 photos (JPEG/PNG)"),
                hint = l.t(
                    "Satu wajah besar, terang dan tajam per foto. Hanya templat yang disimpan, bukan fotonya.",
                    "One large, well-lit, sharp face per photo. Only templates are stored, never the photos."
                ),
                go = l.t("Daftarkan", "Enroll"),
            );
        } else {
            let _ = write!(
                b,
                r#"<p class="muted">{}</p>"#,
                l.t(
                    "Verifikasi wajah tidak aktif (face.detector_model dan face.embedder_model belum diatur).",
                    "Face verification is off (face.detector_model and face.embedder_model are not set)."
                )
            );
        }
    } else {
        b.push_str(&read_only(&ctx));
    }
    // The roster first; the forms first when editing someone.
    let forms = std::mem::take(&mut b);
    let _ = write!(
        b,
        r#"<h2>{} ({})</h2><table id="employees"><tr><th>NIP</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>WFH</th><th></th></tr>"#,
        l.t("Daftar pegawai", "Roster"),
        emps.len(),
        l.t("Nama", "Name"),
        l.t("Unit", "Unit"),
        l.t("Jabatan", "Position"),
        l.t("Jadwal", "Schedule"),
    );
    for e in &emps {
        let _ = write!(
            b,
            r#"<tr{inactive}><td>{nip}</td><td><a href="/attendance/employee/{nipu}">{name}</a></td><td>{unit}</td><td>{pos}</td><td>{grp}</td><td>{home}</td><td>{edit}</td></tr>"#,
            inactive = if e.active { "" } else { r#" class="muted""# },
            nip = esc(&e.nip),
            nipu = url_enc(&e.nip),
            name = esc(&e.name),
            unit = esc(&e.unit),
            pos = esc(&e.position),
            grp = esc(&e.schedule_group),
            home = if e.home_lat.is_some() { "✓" } else { "" },
            edit = if c.role >= Role::Operator {
                format!(
                    r#"<a href="/employees?edit={}">{}</a>"#,
                    url_enc(&e.nip),
                    l.t("ubah", "edit")
                )
            } else {
                String::new()
            },
        );
    }
    b.push_str("</table>");
    let b = if ctx.q("edit").is_some() {
        forms + &b
    } else {
        b + &forms
    };
    ctx.ok(&st, &c, l.t("Pegawai", "Employees"), "/employees", &b)
}

fn opt_f64(f: &Form, k: &str) -> Result<Option<f64>, ApiError> {
    f.opt(k)
        .map(|v| {
            v.replace(',', ".")
                .parse::<f64>()
                .map_err(|_| ApiError::BadRequest(format!("{k} {v:?} is not a number")))
        })
        .transpose()
}

async fn employee_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        let e = api::EmployeeIn {
            name: f.get("name").to_string(),
            unit: f.get("unit").to_string(),
            position: f.get("position").to_string(),
            schedule_group: Some(f.get("schedule_group").trim().to_string()),
            home_lat: opt_f64(&f, "home_lat")?,
            home_lon: opt_f64(&f, "home_lon")?,
        };
        api::save_employee(&st, &c, f.get("nip").trim(), e).await
    }
    .await;
    match r {
        Ok(()) => see_other("/employees?done=employee"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

fn upload_parts(
    c: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<u8>, String, bool), ApiError> {
    let parts = multipart(headers, body)?;
    let csrf = parts
        .iter()
        .find(|p| p.name == "_csrf")
        .map(|p| String::from_utf8_lossy(&p.data).to_string())
        .unwrap_or_default();
    c.check_csrf(&csrf)?;
    let dry = parts.iter().any(|p| p.name == "dry_run");
    let file = parts
        .into_iter()
        .find(|p| p.name == "file" && !p.data.is_empty())
        .ok_or_else(|| ApiError::BadRequest("choose a file to upload".into()))?;
    Ok((file.data, file.filename.unwrap_or_default(), dry))
}

async fn employee_import(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let l = ctx.lang;
    let r = async {
        let (data, name, dry) = upload_parts(&c, &headers, &body)?;
        c.require(Role::Operator)?;
        Ok::<_, ApiError>(
            crate::attendance::roster_import::import_bytes(&st.store, data, &name, &c.name, dry)
                .await?,
        )
    }
    .await;
    let rep = match r {
        Ok(r) => r,
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let mut b = format!(
        r#"<p id="import-result">{fmt}: {rows} {rowsl} · {ins} {insl} · {upd} {updl} · {same} {samel} · {skip} {skipl}{dry}</p>"#,
        fmt = esc(&rep.format),
        rows = rep.rows,
        rowsl = l.t("baris", "rows"),
        ins = rep.inserted,
        insl = l.t("baru", "new"),
        upd = rep.updated,
        updl = l.t("diubah", "changed"),
        same = rep.unchanged,
        samel = l.t("tetap", "unchanged"),
        skip = rep.skipped,
        skipl = l.t("dilewati", "skipped"),
        dry = if rep.dry_run {
            l.t(
                " (pratinjau: tidak ada yang disimpan)",
                " (preview: nothing saved)",
            )
        } else {
            ""
        },
    );
    if !rep.issues.is_empty() {
        let _ = write!(
            b,
            "<table><tr><th>{}</th><th>NIP</th><th>{}</th></tr>",
            l.t("Baris", "Line"),
            l.t("Masalah", "Problem")
        );
        for i in &rep.issues {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                i.line,
                esc(&i.nip),
                esc(&i.reasons.join("; ")),
                if i.skipped {
                    l.t(" (dilewati)", " (skipped)")
                } else {
                    ""
                }
            );
        }
        b.push_str("</table>");
    }
    let _ = write!(
        b,
        r#"<p><a href="/employees">{}</a></p>"#,
        l.t("Kembali ke daftar pegawai", "Back to the roster")
    );
    ctx.ok(
        &st,
        &c,
        l.t("Hasil impor", "Import result"),
        "/employees",
        &b,
    )
}

async fn employee_face(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let l = ctx.lang;
    let r = async {
        let parts = multipart(&headers, &body)?;
        let csrf = parts
            .iter()
            .find(|p| p.name == "_csrf")
            .map(|p| String::from_utf8_lossy(&p.data).to_string())
            .unwrap_or_default();
        c.check_csrf(&csrf)?;
        let nip = parts
            .iter()
            .find(|p| p.name == "nip")
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
            .unwrap_or_default();
        let photos = parts
            .into_iter()
            .filter(|p| p.name == "photo" && !p.data.is_empty())
            .map(|p| p.data)
            .collect();
        api::enroll_face(&st, &c, &nip, photos).await
    }
    .await;
    match r {
        Ok(rep) => {
            let b = format!(
                r#"<p id="face-result">{} {} · {} {} · {} {:.2}</p><p><a href="/employees">{}</a></p>"#,
                esc(&rep.nip),
                l.t("terdaftar:", "enrolled:"),
                rep.enrolled,
                l.t("templat", "templates"),
                l.t("kemiripan terendah", "lowest agreement"),
                rep.min_agreement,
                l.t("Kembali ke daftar pegawai", "Back to the roster"),
            );
            ctx.ok(
                &st,
                &c,
                l.t("Wajah terdaftar", "Face enrolled"),
                "/employees",
                &b,
            )
        }
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ schedules & holidays

async fn schedules_page(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let l = ctx.lang;
    let year = ctx
        .q("year")
        .and_then(|y| y.parse::<i16>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| i18n::today(&st.office_tz).year());
    let (groups, hols) = match tokio::try_join!(
        st.store.schedule_groups(),
        st.store.holidays(
            jiff::civil::date(year, 1, 1),
            jiff::civil::date(year, 12, 31)
        ),
    ) {
        Ok(x) => x,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let days_id = [
        "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
    ];
    let days_en = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut b = format!(
        r#"<h2>{}</h2><table id="schedules"><tr><th>{}</th><th>{}</th>"#,
        l.t("Kelompok jadwal kerja", "Work schedule groups"),
        l.t("Nama", "Name"),
        l.t("Toleransi (mnt)", "Tolerance (min)"),
    );
    for i in 0..7 {
        let _ = write!(
            b,
            "<th>{}</th>",
            if l == Lang::Id {
                days_id[i]
            } else {
                days_en[i]
            }
        );
    }
    b.push_str("</tr>");
    for g in &groups {
        let _ =
            write!(
            b,
            "<tr><td><strong>{}</strong>{}<br><span class=\"muted\">{}</span></td><td>{} / {}</td>",
            esc(&g.name),
            if g.is_default { l.t(" (bawaan)", " (default)") } else { "" },
            esc(&g.label),
            g.late_tolerance_min,
            g.early_tolerance_min
        );
        for d in &g.days {
            let _ = write!(
                b,
                "<td>{}</td>",
                d.map(|h| format!("{}–{}", h.start.strftime("%H:%M"), h.end.strftime("%H:%M")))
                    .unwrap_or_else(|| l.t("libur", "off").to_string())
            );
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
    if c.role >= Role::Admin {
        let _ = write!(
            b,
            r#"<form method="post" action="/schedules" class="box" id="schedule-form">{csrf}<p class="muted">{hint}</p>
<div class="row"><div><label for="gname">{name}</label><input id="gname" name="name" required maxlength="32" placeholder="reguler"></div>
<div><label for="glabel">{label}</label><input id="glabel" name="label" maxlength="200"></div>
<div><label for="glate">{late}</label><input id="glate" name="late_tolerance_min" type="number" min="0" max="240" value="0"></div>
<div><label for="gearly">{early}</label><input id="gearly" name="early_tolerance_min" type="number" min="0" max="240" value="0"></div>
<div><label><input type="checkbox" name="is_default" value="1"> {def}</label></div></div><div class="row">"#,
            csrf = csrf_field(&c.csrf),
            hint = l.t("Kosongkan jam untuk hari libur. Contoh: Senin–Kamis 07:30–16:00, Jumat 07:30–11:30.", "Leave the hours empty for a day off. Example: Mon–Thu 07:30–16:00, Fri 07:30–11:30."),
            name = l.t("Nama (kunci)", "Name (key)"),
            label = l.t("Keterangan", "Description"),
            late = l.t("Toleransi terlambat (mnt)", "Late tolerance (min)"),
            early = l.t("Toleransi pulang cepat (mnt)", "Early tolerance (min)"),
            def = l.t("jadwal bawaan", "default schedule"),
        );
        for i in 0..7 {
            let (s, e) = match i {
                0..=3 => ("07:30", "16:00"),
                4 => ("07:30", "11:30"),
                _ => ("", ""),
            };
            let _ = write!(
                b,
                r#"<div><label>{d}</label><input name="start{i}" type="time" value="{s}" aria-label="{d} start"> – <input name="end{i}" type="time" value="{e}" aria-label="{d} end"></div>"#,
                d = if l == Lang::Id {
                    days_id[i]
                } else {
                    days_en[i]
                },
            );
        }
        let _ = write!(
            b,
            r#"</div><p><button type="submit">{}</button></p></form>"#,
            l.t("Simpan jadwal", "Save schedule")
        );
    }
    let _ = write!(
        b,
        r#"<h2>{h} {year}</h2><form method="get" class="row"><input name="year" type="number" min="2000" max="2100" value="{year}"><button type="submit">{show}</button></form>
<table id="holidays"><tr><th>{date}</th><th>{name}</th><th>{kind}</th><th></th></tr>"#,
        h = l.t("Hari libur", "Holidays"),
        show = l.t("Tampilkan", "Show"),
        date = l.t("Tanggal", "Date"),
        name = l.t("Nama", "Name"),
        kind = l.t("Jenis", "Kind"),
    );
    for h in &hols {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>",
            i18n::long_date(l, h.day),
            esc(&h.name),
            h.kind.as_str()
        );
        if c.role >= Role::Admin {
            let _ = write!(
                b,
                r#"<form method="post" action="/holidays/{}/delete" class="inline">{}<button type="submit" class="reject">{}</button></form>"#,
                h.day,
                csrf_field(&c.csrf),
                l.t("Hapus", "Remove")
            );
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</table>");
    if c.role >= Role::Admin {
        let kinds = [
            ("libur-nasional", l.t("Libur nasional", "National holiday")),
            ("cuti-bersama", l.t("Cuti bersama", "Collective leave")),
            ("libur-daerah", l.t("Libur daerah", "Regional holiday")),
        ];
        let _ = write!(
            b,
            r#"<form method="post" action="/holidays" class="box row" id="holiday-form">{csrf}
<div><label for="hdate">{date}</label><input id="hdate" name="date" type="date" required></div>
<div><label for="hname">{name}</label><input id="hname" name="name" required maxlength="200"></div>
<div><label for="hkind">{kind}</label><select id="hkind" name="kind">{kopts}</select></div><div><button type="submit">{add}</button></div></form>
<form method="post" action="/holidays/import" enctype="multipart/form-data" class="box">{csrf}<label>{imp}</label><input type="file" name="file" accept=".csv,text/csv" required> <button type="submit">{upload}</button>
<p class="muted">{hint}</p></form>"#,
            csrf = csrf_field(&c.csrf),
            date = l.t("Tanggal", "Date"),
            name = l.t("Nama", "Name"),
            kind = l.t("Jenis", "Kind"),
            kopts = options(&kinds, "libur-nasional"),
            add = l.t("Tambah", "Add"),
            imp = l.t(
                "Impor daftar hari libur (CSV)",
                "Import a holiday list (CSV)"
            ),
            upload = l.t("Unggah", "Upload"),
            hint = l.t(
                "Kolom: tanggal, nama, jenis (opsional).",
                "Columns: tanggal, nama, jenis (optional)."
            ),
        );
    } else {
        b.push_str(&read_only(&ctx));
    }
    ctx.ok(
        &st,
        &c,
        l.t("Jadwal dan hari libur", "Schedules and holidays"),
        "/schedules",
        &b,
    )
}

async fn schedule_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        c.require(Role::Admin)?;
        let mut days = [None; 7];
        for (i, day) in days.iter_mut().enumerate() {
            let (s, e) = (f.get(&format!("start{i}")), f.get(&format!("end{i}")));
            if !s.trim().is_empty() || !e.trim().is_empty() {
                *day =
                    Some(crate::attendance::WorkHours::parse(s, e).map_err(ApiError::BadRequest)?);
            }
        }
        let num = |k: &str| {
            f.get(k)
                .trim()
                .parse::<u32>()
                .map_err(|_| ApiError::BadRequest(format!("{k} must be a whole number of minutes")))
        };
        let name = f.get("name").trim().to_string();
        if name.is_empty() || name.len() > 32 {
            return Err(ApiError::BadRequest(
                "the schedule name is required (at most 32 characters)".into(),
            ));
        }
        let g = crate::attendance::ScheduleGroup {
            name,
            label: f.get("label").trim().to_string(),
            late_tolerance_min: num("late_tolerance_min")?,
            early_tolerance_min: num("early_tolerance_min")?,
            is_default: f.opt("is_default").is_some(),
            days,
        };
        st.store.save_schedule_group(g, c.name.clone()).await?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => see_other("/schedules?done=schedule"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn holiday_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = match c.check_csrf(f.get("_csrf")) {
        Ok(()) => {
            api::save_holiday(&st, &c, f.get("date").trim(), f.get("name"), f.opt("kind")).await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => see_other("/schedules?done=holiday"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn holiday_delete(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(date): Path<String>,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        c.require(Role::Admin)?;
        let day = api::parse_date("date", &date)?;
        st.store.delete_holiday(day, c.name.clone()).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match r {
        Ok(()) => see_other("/schedules?done=holiday-deleted"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn holiday_import(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let l = ctx.lang;
    let r = async {
        let (data, _, _) = upload_parts(&c, &headers, &body)?;
        c.require(Role::Admin)?;
        Ok::<_, ApiError>(st.store.import_holidays_csv(data, c.name.clone()).await?)
    }
    .await;
    match r {
        Ok(rep) => {
            let mut b = format!(
                "<p>{} {}</p>",
                rep.saved,
                l.t("hari libur disimpan.", "holidays saved.")
            );
            for (line, m) in &rep.problems {
                let _ = write!(
                    b,
                    "<p class=\"notice error\">{} {line}: {}</p>",
                    l.t("Baris", "Line"),
                    esc(m)
                );
            }
            let _ = write!(
                b,
                r#"<p><a href="/schedules">{}</a></p>"#,
                l.t("Kembali", "Back")
            );
            ctx.ok(
                &st,
                &c,
                l.t("Hasil impor hari libur", "Holiday import"),
                "/schedules",
                &b,
            )
        }
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ recap

async fn recap_page(State(st): State<AdminState>, ctx: Ctx, PageCaller(c): PageCaller) -> Response {
    let l = ctx.lang;
    let month = match ctx.q("month").map(Month::parse).transpose() {
        Ok(m) => m.unwrap_or_else(|| Month::of(i18n::today(&st.office_tz))),
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let unit = ctx.q("unit").map(str::to_string);
    let r = match api::load_recap(&st, month, unit.clone()).await {
        Ok(r) => r,
        Err(e) => return ctx.fail(&st, Some(&c), e),
    };
    let uq = unit
        .as_deref()
        .map(|u| format!("&unit={}", url_enc(u)))
        .unwrap_or_default();
    let mut b = format!(
        r#"<form method="get" class="row"><div><label for="month">{ml}</label><input id="month" type="month" name="month" value="{month}"></div>
<div><label for="unit">{ul}</label><input id="unit" name="unit" value="{unit}"></div><div><button type="submit">{show}</button></div></form>
<p><strong>{mname}</strong> · {asof} {asofd} · <a id="download-xlsx" href="/recap/download?month={month}&amp;format=xlsx{uq}">{dx}</a> · <a id="download-csv" href="/recap/download?month={month}&amp;format=csv{uq}">{dc}</a> · <a href="/recap/download?month={month}&amp;format=csv&amp;table=harian{uq}">{dh}</a></p>"#,
        ml = l.t("Bulan", "Month"),
        ul = l.t("Unit (kosong = semua)", "Unit (empty = all)"),
        unit = esc(unit.as_deref().unwrap_or("")),
        show = l.t("Tampilkan", "Show"),
        mname = i18n::month_name(l, month.year, month.month),
        asof = l.t("dihitung sampai", "counted up to"),
        asofd = i18n::long_date(l, r.as_of.min(month.last())),
        dx = l.t("Unduh XLSX", "Download XLSX"),
        dc = l.t("Unduh CSV", "Download CSV"),
        dh = l.t("CSV harian", "Daily CSV"),
        uq = esc(&uq),
    );
    let head = |b: &mut String, first: &str| {
        let _ = write!(
            b,
            r#"<tr><th>{first}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">Izin</th><th class="num">Sakit</th><th class="num">Cuti</th><th class="num">{}</th><th class="num">{}</th></tr>"#,
            l.t("Hari kerja", "Working days"),
            l.t("Hadir", "Present"),
            l.t("Terlambat (kali)", "Late (times)"),
            l.t("Terlambat (mnt)", "Late (min)"),
            l.t("Pulang cepat (kali)", "Early (times)"),
            l.t("Dinas luar", "Travel"),
            l.t("Tanpa ket.", "Absent"),
            l.t("Kehadiran %", "Rate %"),
        );
    };
    let row = |b: &mut String, first: String, t: &crate::attendance::Totals| {
        let _ = write!(
            b,
            r#"<tr><td>{first}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            t.working_days,
            t.present,
            t.late_count,
            t.late_minutes,
            t.early_count,
            t.dinas_luar,
            t.izin,
            t.sakit,
            t.cuti,
            t.tanpa_keterangan,
            t.rate_pct
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "—".into()),
        );
    };
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="recap-units">"#,
        l.t("Per unit", "Per unit")
    );
    head(&mut b, l.t("Unit", "Unit"));
    for u in &r.units {
        row(
            &mut b,
            format!("{} ({})", esc(&u.unit), u.employees),
            &u.totals,
        );
    }
    row(
        &mut b,
        format!("<strong>{}</strong>", l.t("Seluruh kantor", "Whole office")),
        &r.overall,
    );
    b.push_str("</table>");
    let _ = write!(
        b,
        r#"<h2>{}</h2><table id="recap-employees">"#,
        l.t("Per pegawai", "Per employee")
    );
    head(&mut b, l.t("Pegawai", "Employee"));
    for e in &r.employees {
        row(
            &mut b,
            format!(
                r#"<a href="/attendance/employee/{}?month={month}">{}</a><br><span class="muted">{}</span>"#,
                url_enc(&e.nip),
                esc(&e.name),
                esc(&e.nip)
            ),
            &e.totals,
        );
    }
    b.push_str("</table>");
    ctx.ok(&st, &c, l.t("Rekap bulanan", "Monthly recap"), "/recap", &b)
}

async fn recap_download(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let xlsx = ctx.q("format") != Some("csv");
    match api::recap_download(
        &st,
        ctx.q("month"),
        ctx.q("unit").map(str::to_string),
        xlsx,
        ctx.q("table"),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

// ------------------------------------------------------------------ audit, assets

async fn audit_page(State(st): State<AdminState>, ctx: Ctx, PageCaller(c): PageCaller) -> Response {
    let l = ctx.lang;
    let rows = match st.store.audit_entries(300).await {
        Ok(r) => r,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let mut b = format!(
        r#"<table id="audit"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"#,
        l.t("Waktu", "When"),
        l.t("Oleh", "Who"),
        l.t("Tindakan", "Action"),
        l.t("Objek", "Subject"),
        l.t("Keterangan", "Detail"),
    );
    for a in &rows {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i18n::utc_to_local(Some(&a.at_utc), &st.office_tz),
            esc(&a.actor),
            esc(&a.action),
            esc(&a.subject),
            esc(&a.detail)
        );
    }
    b.push_str("</table>");
    ctx.ok(&st, &c, l.t("Jejak audit", "Audit log"), "/audit", &b)
}

async fn operators_page(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
) -> Response {
    let l = ctx.lang;
    if let Err(e) = c.require(Role::Admin) {
        return ctx.fail(&st, Some(&c), e);
    }
    let ops = match st.store.operators().await {
        Ok(o) => o,
        Err(e) => return ctx.fail(&st, Some(&c), e.into()),
    };
    let roles = [
        (
            "viewer",
            l.t("viewer — hanya melihat", "viewer — read only"),
        ),
        (
            "operator",
            l.t(
                "operator — tinjauan, izin, pegawai",
                "operator — review, leave, roster",
            ),
        ),
        (
            "admin",
            l.t(
                "admin — juga jadwal dan akun",
                "admin — also schedules and accounts",
            ),
        ),
    ];
    let mut b = format!(
        r#"<table id="operators"><tr><th>{}</th><th>{}</th><th>Status</th><th>{}</th><th>{}</th></tr>"#,
        l.t("Nama", "Name"),
        l.t("Peran", "Role"),
        l.t("Dibuat", "Created"),
        l.t("Atur ulang kata sandi", "Reset password"),
    );
    let now = jiff::Timestamp::now().to_string();
    for o in &ops {
        let locked = o
            .locked_until_utc
            .as_deref()
            .filter(|u| **u > *now.as_str());
        let status = match (locked, o.must_change) {
            (Some(u), _) => format!(
                r#"<span class="bad">{} {}</span>"#,
                l.t("terkunci sampai", "locked until"),
                i18n::utc_to_local(Some(u), &st.office_tz)
            ),
            (None, true) => l
                .t("harus ganti kata sandi", "must change password")
                .to_string(),
            (None, false) => l.t("aktif", "active").to_string(),
        };
        let _ = write!(
            b,
            r#"<tr><td>{name}</td><td>{role}</td><td>{status}</td><td>{created}</td><td><form method="post" action="/operators/{nameu}/reset" class="inline">{csrf}<input name="password" type="password" minlength="{min}" required placeholder="{ph}" aria-label="{ph}" autocomplete="new-password"> <button type="submit">{reset}</button></form></td></tr>"#,
            name = esc(&o.name),
            nameu = url_enc(&o.name),
            role = o.role.as_str(),
            created = i18n::utc_to_local(Some(&o.created_utc), &st.office_tz),
            csrf = csrf_field(&c.csrf),
            min = auth::MIN_PASSWORD_CHARS,
            ph = l.t("kata sandi sekali pakai", "one-time password"),
            reset = l.t("Atur ulang", "Reset"),
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        r#"<h2>{h}</h2><form method="post" action="/operators" class="box" id="operator-form">{csrf}
<div class="row"><div><label for="oname">{name}</label><input id="oname" name="name" required maxlength="32" pattern="[a-z0-9._-]{{2,32}}"></div>
<div><label for="orole">{role}</label><select id="orole" name="role">{ropts}</select></div>
<div><label for="opw">{pw}</label><input id="opw" name="password" type="password" minlength="{min}" required autocomplete="new-password"></div></div>
<p class="muted">{hint}</p><p><button type="submit">{add}</button></p></form>"#,
        h = l.t("Tambah operator", "Add an operator"),
        csrf = csrf_field(&c.csrf),
        name = l.t(
            "Nama pengguna (huruf kecil, angka)",
            "User name (lower case, digits)"
        ),
        role = l.t("Peran", "Role"),
        ropts = options(&roles, "operator"),
        pw = l.t("Kata sandi sekali pakai", "One-time password"),
        min = auth::MIN_PASSWORD_CHARS,
        hint = l.t(
            "Operator baru harus mengganti kata sandi ini saat masuk pertama kali.",
            "The new operator must change this password at the first login."
        ),
        add = l.t("Tambah", "Add"),
    );
    ctx.ok(
        &st,
        &c,
        l.t("Akun operator", "Operator accounts"),
        "/operators",
        &b,
    )
}

async fn operator_post(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        c.require(Role::Admin)?;
        let name = f.get("name").trim().to_string();
        auth::name_ok(&name)?;
        let role = Role::parse(f.get("role"))
            .ok_or_else(|| ApiError::BadRequest("role must be admin, operator or viewer".into()))?;
        auth::password_policy(&name, f.get("password"))?;
        let hash = auth::hash_password_async(f.get("password").to_string()).await?;
        st.store
            .add_operator(name, role, hash, true, c.name.clone())
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match r {
        Ok(()) => see_other("/operators?done=operator"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn operator_reset(
    State(st): State<AdminState>,
    ctx: Ctx,
    PageCaller(c): PageCaller,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let f = Form::parse(&body);
    let r = async {
        c.check_csrf(f.get("_csrf"))?;
        c.require(Role::Admin)?;
        auth::password_policy(&name, f.get("password"))?;
        let hash = auth::hash_password_async(f.get("password").to_string()).await?;
        if !st
            .store
            .set_operator_password(name.clone(), hash, true, None, c.name.clone())
            .await?
        {
            return Err(ApiError::NotFound(format!("no operator {name}")));
        }
        Ok(())
    }
    .await;
    match r {
        Ok(()) => see_other("/operators?done=operator-reset"),
        Err(e) => ctx.fail(&st, Some(&c), e),
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        super::html::CSS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_forms_and_multipart_uploads_parse() {
        let f = Form::parse(b"note=Sudah+dicek+%26+benar&_csrf=abc&empty=&bad=%ZZ");
        assert_eq!(f.get("note"), "Sudah dicek & benar");
        assert_eq!(f.get("_csrf"), "abc");
        assert_eq!(f.opt("empty"), None);
        assert_eq!(f.get("bad"), "%ZZ");
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nNIP,Nama\r\n1,A\r\n--XyZ--\r\n";
        let parts = multipart(&h, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"tok");
        assert_eq!(parts[1].filename.as_deref(), Some("a.csv"));
        assert_eq!(parts[1].data, b"NIP,Nama\r\n1,A");
    }
}
