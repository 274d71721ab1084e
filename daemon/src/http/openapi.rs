//! The OpenAPI 3 document for `/api/v1`, served at `/api/v1/openapi.json`. Built from one table
//! ([`OPERATIONS`]); a unit test checks it against the routes the router registers.

use axum::Json;
use serde_json::{json, Map, Value};

/// One documented operation: method, path, tag, summary, least role (`None` = see summary).
pub struct Operation {
    /// HTTP method.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Group.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Least role needed (`viewer`, `operator`, `admin`), or how it is authenticated.
    pub auth: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Request body description, if it takes one.
    pub body: Option<&'static str>,
}

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    auth: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        auth,
        query: &[],
        body: None,
    }
}

const fn q(mut o: Operation, query: &'static [(&'static str, &'static str)]) -> Operation {
    o.query = query;
    o
}

const fn b(mut o: Operation, body: &'static str) -> Operation {
    o.body = Some(body);
    o
}

/// Every operation under `/api/v1`.
pub const OPERATIONS: &[Operation] = &[
    b(op("POST", "/api/v1/punches", "intake", "Import punches from another system; answered after the commit; duplicates stored once.", "the bearer API token (not a session)"),
      r#"{"punches":[{"device":"pintu-depan","employee":"1987…","time":"2026-11-23T07:29:05","state":0}]} (1–1000 punches)"#),
    q(op("GET", "/api/v1/qr", "display", "The current office QR code (display token, not a session).", "display token"),
      &[("token", "the display token from data_dir/display-token")]),
    op("GET", "/api/v1/session", "session", "Who is calling, their role and the session's CSRF token.", "viewer"),
    b(op("POST", "/api/v1/session", "session", "Log in; sets the HttpOnly session cookie and returns the CSRF token. Locked after 5 failures for 15 minutes (429).", "none"),
      r#"{"name":"admin","password":"…"} as application/json"#),
    op("DELETE", "/api/v1/session", "session", "Log out.", "viewer"),
    b(op("POST", "/api/v1/session/password", "session", "Change the caller's own password (at least 10 characters).", "viewer"),
      r#"{"current":"…","new":"…"}"#),
    op("GET", "/api/v1/dashboard", "dashboard", "Readers and tablets (last seen, clock drift), today's present/late/absent/on leave/on travel, upstream backlog, disk use.", "viewer"),
    q(op("GET", "/api/v1/attendance", "attendance", "One office day: per employee first in, last out, late and early minutes, status; every record with its evidence.", "viewer"),
      &[("date", "YYYY-MM-DD (default today, office zone)")]),
    q(op("GET", "/api/v1/attendance/employee/{nip}", "attendance", "One employee's month: days, totals and records with evidence.", "viewer"),
      &[("month", "YYYY-MM (default this month)")]),
    op("GET", "/api/v1/records/{record_id}", "attendance", "One punch or check-in with its evidence and review.", "viewer"),
    op("GET", "/api/v1/records/{record_id}/photo", "attendance", "The retained selfie (image/jpeg) while it is kept for review.", "viewer"),
    op("GET", "/api/v1/review", "review", "Check-ins waiting for review, oldest first.", "viewer"),
    b(op("POST", "/api/v1/review/{record_id}", "review", "Approve or reject a check-in with a required note; audited and forwarded upstream.", "operator"),
      r#"{"decision":"approve"|"reject","note":"…"}"#),
    q(op("GET", "/api/v1/leave", "leave", "Manual entries (izin, sakit, cuti, WFH); with history=true also superseded ones and cancellations.", "viewer"),
      &[("nip", "only this employee"), ("from", "YYYY-MM-DD"), ("to", "YYYY-MM-DD"), ("history", "true to include superseded entries")]),
    b(op("POST", "/api/v1/leave", "leave", "Record leave or a WFH assignment over a date range; a correction supersedes an entry (nothing is deleted).", "operator"),
      r#"{"nip":"…","kind":"izin"|"sakit"|"cuti"|"wfh","date_from":"2026-11-23","date_to":"2026-11-24","note":"…","supersedes":null}"#),
    b(op("POST", "/api/v1/leave/{id}/cancel", "leave", "Cancel an entry by appending a cancellation (the original is kept).", "operator"),
      r#"{"reason":"…"}"#),
    q(op("GET", "/api/v1/travel-orders", "leave", "Official travel orders (SPT) overlapping a range.", "viewer"),
      &[("from", "YYYY-MM-DD (default first of this month)"), ("to", "YYYY-MM-DD")]),
    b(op("POST", "/api/v1/travel-orders", "leave", "Record an official travel order (dinas luar) with its SPT number and date range.", "operator"),
      r#"{"nip":"…","spt_number":"094/123/BKD/2026","from":"2026-11-23","to":"2026-11-25"}"#),
    op("GET", "/api/v1/employees", "employees", "The roster.", "viewer"),
    b(op("PUT", "/api/v1/employees/{nip}", "employees", "Add or edit an employee (name, unit, position, schedule group, home location for WFH).", "operator"),
      r#"{"name":"…","unit":"…","position":"…","schedule_group":"reguler","home_lat":-0.5,"home_lon":117.1}"#),
    b(q(op("POST", "/api/v1/employees/import", "employees", "Import a SIMPEG export (CSV or XLSX as the raw body); reports per row.", "operator"),
      &[("filename", "original file name (decides CSV or XLSX)"), ("dry_run", "true for a preview that writes nothing")]),
      "the file's bytes"),
    b(op("POST", "/api/v1/employees/{nip}/face", "employees", "Enroll the employee's face from 1–5 photos (multipart/form-data, parts named photo); stores templates only. 400 with a reason per refused photo, or when face verification is off.", "operator"),
      "multipart/form-data with 1–5 `photo` parts (JPEG or PNG)"),
    op("GET", "/api/v1/schedules", "schedules", "Work schedule groups.", "viewer"),
    b(op("PUT", "/api/v1/schedules/{name}", "schedules", "Add or replace a schedule group (hours per weekday, late and early tolerance).", "admin"),
      r#"{"label":"…","late_tolerance_min":0,"early_tolerance_min":0,"is_default":false,"days":[{"start":"07:30","end":"16:00"},…,null,null]}"#),
    op("DELETE", "/api/v1/schedules/{name}", "schedules", "Delete a schedule group no employee uses.", "admin"),
    q(op("GET", "/api/v1/holidays", "schedules", "Holidays of a year.", "viewer"),
      &[("year", "default this year")]),
    b(op("PUT", "/api/v1/holidays/{date}", "schedules", "Add or rename a holiday.", "admin"),
      r#"{"name":"…","kind":"libur-nasional"|"cuti-bersama"|"libur-daerah"}"#),
    op("DELETE", "/api/v1/holidays/{date}", "schedules", "Remove a holiday.", "admin"),
    b(op("POST", "/api/v1/holidays/import", "schedules", "Import a holiday list (CSV with tanggal, nama[, jenis]).", "admin"),
      "the CSV bytes"),
    q(op("GET", "/api/v1/recap", "recap", "Monthly recap per employee and unit: days present, late count and minutes, early leave, absences by type, attendance rate.", "viewer"),
      &[("month", "YYYY-MM"), ("unit", "only this unit")]),
    q(op("GET", "/api/v1/recap.xlsx", "recap", "The monthly recap as XLSX (same numbers as `hadir recap`).", "viewer"),
      &[("month", "YYYY-MM"), ("unit", "only this unit")]),
    q(op("GET", "/api/v1/recap.csv", "recap", "The monthly recap as CSV.", "viewer"),
      &[("month", "YYYY-MM"), ("unit", "only this unit"), ("table", "pegawai (default), unit or harian")]),
    q(op("GET", "/api/v1/audit", "audit", "The audit log, newest first.", "viewer"),
      &[("limit", "default 200, at most 5000")]),
    op("GET", "/api/v1/operators", "operators", "Operator accounts.", "admin"),
    b(op("POST", "/api/v1/operators", "operators", "Create an operator account (must change the password at first login).", "admin"),
      r#"{"name":"siti","role":"operator","password":"…"}"#),
    b(op("POST", "/api/v1/operators/{name}/reset", "operators", "Set a new one-time password for an operator and end their sessions.", "admin"),
      r#"{"password":"…"}"#),
    op("GET", "/api/v1/readers", "readers", "Readers' last observed state (online, last seen, clock drift) and push readers with an unknown serial.", "viewer"),
    op("GET", "/api/v1/readers/unknown", "readers", "Push readers that called with a serial number not in the configuration.", "viewer"),
    op("POST", "/api/v1/readers/unknown/{serial}/approve", "readers", "Approve an unknown push reader.", "admin"),
    op("POST", "/api/v1/employees/{nip}/deactivate", "employees", "Take an employee off the roster; every reader drops their user at the next sync.", "operator"),
    op("GET", "/api/v1/openapi.json", "meta", "This document.", "none"),
];

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let mut params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(o.query.iter().map(|(n, d)| {
            json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": "string"}})
        }));
        let mut operation = json!({
            "tags": [o.tag],
            "summary": o.summary,
            "description": format!("Needs: {}.", o.auth),
            "operationId": format!("{}_{}", o.method.to_lowercase(), o.path.trim_start_matches("/api/v1/").replace(['/', '.', '{', '}', '-'], "_")),
            "parameters": params,
            "responses": {
                "200": {"description": "OK (JSON unless stated)"},
                "400": {"description": "Bad input; nothing was changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "No or wrong API token / session"},
                "403": {"description": "Role not allowed, or missing X-CSRF-Token with a session"},
            },
        });
        if o.auth == "none" || o.auth == "display token" {
            operation["security"] = json!([]);
        }
        if let Some(body) = o.body {
            operation["requestBody"] = json!({
                "required": true,
                "description": body,
                "content": {"application/json": {"schema": {"type": "object"}}},
            });
        }
        let entry = paths
            .entry(o.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[o.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Hadir gateway API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The office attendance gateway's local API. Authenticate with `Authorization: Bearer <API token>` (automation) or an operator session cookie from POST /api/v1/session; with a session, every state-changing request must send the session's CSRF token in `X-CSRF-Token`. Times are office wall-clock (WIB/WITA/WIT) unless named *_utc.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE},
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
            },
        },
        "paths": paths,
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_is_documented_and_every_documented_operation_is_routed() {
        let mut routed: Vec<(&str, &str)> = super::super::api::api().routes;
        // Routed in http.rs beside the operator API.
        routed.push(("POST", "/api/v1/punches"));
        routed.push(("GET", "/api/v1/qr"));
        // Routed in http/readers.rs (push-mode readers).
        routed.push(("GET", "/api/v1/readers"));
        routed.push(("GET", "/api/v1/readers/unknown"));
        routed.push(("POST", "/api/v1/readers/unknown/{serial}/approve"));
        routed.push(("POST", "/api/v1/employees/{nip}/deactivate"));
        routed.sort();
        let mut documented: Vec<(&str, &str)> =
            OPERATIONS.iter().map(|o| (o.method, o.path)).collect();
        documented.sort();
        assert_eq!(routed, documented);
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(
            doc["paths"]["/api/v1/review/{record_id}"]["post"]["parameters"][0]["name"]
                .as_str()
                .is_some_and(|n| n == "record_id")
        );
    }
}
