//! The office QR display: a full-screen page for a TV at the entrance showing the rotating code
//! and a clock, and the same code as JSON. Both need the display token (not the API token), so
//! the page can run on a TV without exposing anything else.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde::Deserialize;

use super::{AdminState, ApiError};
use crate::verify::qr;

#[derive(Deserialize)]
pub(super) struct Display {
    token: Option<String>,
}

fn check(st: &AdminState, d: &Display) -> Result<(), ApiError> {
    match &d.token {
        Some(t) if super::constant_time_eq(t.as_bytes(), st.display_token.expose().as_bytes()) => {
            Ok(())
        }
        _ => Err(ApiError::Unauthorized),
    }
}

fn current(st: &AdminState) -> (String, u64) {
    let now = jiff::Timestamp::now();
    let step = u64::from(st.qr_step_s.max(1));
    let left = step - (now.as_second().rem_euclid(step as i64) as u64);
    (qr::code_at(&st.qr_secret, st.qr_step_s, now), left)
}

pub(super) async fn json(
    State(st): State<AdminState>,
    Query(d): Query<Display>,
) -> Result<impl IntoResponse, ApiError> {
    check(&st, &d)?;
    let (code, left) = current(&st);
    Ok(axum::Json(
        serde_json::json!({ "code": code, "step_s": st.qr_step_s, "expires_in_s": left }),
    ))
}

pub(super) async fn page(
    State(st): State<AdminState>,
    Query(d): Query<Display>,
) -> Result<impl IntoResponse, ApiError> {
    check(&st, &d)?;
    let (code, left) = current(&st);
    let svg = qrcode::QrCode::new(code.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(480, 480)
                .build()
        })
        .unwrap_or_default();
    let tz = jiff::tz::TimeZone::get(&st.office_tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now().to_zoned(tz);
    let zone = match st.office_tz.as_ref() {
        "Asia/Jakarta" | "Asia/Pontianak" => "WIB",
        "Asia/Makassar" => "WITA",
        "Asia/Jayapura" => "WIT",
        _ => "",
    };
    let body = format!(
        r#"<!doctype html><html lang="id"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Kode Presensi — {office}</title>
<style>body{{margin:0;height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;
font-family:system-ui,sans-serif;background:#fff;color:#111}}h1{{font-size:2.2rem;margin:.2em}}
.clock{{font-size:4rem;font-variant-numeric:tabular-nums}}.hint{{font-size:1.3rem;color:#444}}</style></head>
<body><h1>Pindai untuk presensi · Scan to check in</h1>{svg}
<div class="clock">{time} {zone}</div><div class="hint">{date} · {office} · kode berganti dalam {left} detik</div></body></html>"#,
        refresh = left.clamp(1, 30),
        office = html_escape(&st.office_name),
        time = now.strftime("%H:%M:%S"),
        date = now.strftime("%d-%m-%Y"),
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(body)))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
