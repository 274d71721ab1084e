//! Monthly recap correctness (hand-computed numbers over May 2026 with holidays, half-day
//! Fridays, a 6-day group, late arrivals, early leave, leave, travel, WFH and review verdicts),
//! XLSX cells read back with calamine, roster import, and the real `hadir recap` / `hadir roster
//! import` commands on a database filled through the HTTP API.

mod support;

use std::io::Cursor;
use std::process::Command;

use calamine::{Data, Reader};
use hadir::attendance::export::{self, CsvTable};
use hadir::attendance::recap::{self, Month, Recap, RecapQuery, Totals};
use hadir::attendance::{roster_import, DayStatus};
use hadir::record::{NewPunch, Source};
use hadir::store::{
    CheckinRecord, DiskLimits, Employee, EntryFilter, EntryKind, NewManualEntry, Store, StoreOwner,
    TravelOrderRow,
};
use jiff::civil::{date, Date};
use support::*;

const ANDI: &str = "198001012005011001";
const BUDI: &str = "198202022006041002";
const CITRA: &str = "198503032009032003";
const DEWI: &str = "199004042015052004";
const STRANGER: &str = "199912312020121009";

fn open(dir: &std::path::Path) -> (StoreOwner, Store) {
    let tz = jiff::tz::TimeZone::get("Asia/Makassar").unwrap();
    let limits = DiskLimits {
        max_db_bytes: 0,
        min_free_bytes: 0,
    };
    let (owner, _) = StoreOwner::open(dir, "kantor-uji", tz, limits).unwrap();
    let store = owner.store();
    (owner, store)
}

async fn close(owner: StoreOwner, store: Store) {
    drop(store);
    tokio::task::spawn_blocking(move || owner.close())
        .await
        .unwrap();
}

fn punch(nip: &str, d: Date, (h, m, s): (i8, i8, i8), state: u8) -> NewPunch {
    NewPunch {
        source: Source::Api,
        device: "pintu-depan".into(),
        employee: nip.into(),
        local_time: d.at(h, m, s, 0),
        state,
        verify: Some(1),
        payload: format!("{nip} {d} {h}:{m}:{s} {state}").into_bytes(),
    }
}

fn may(d: i8) -> Date {
    date(2026, 5, d)
}

/// Working days of the "reguler" group in May 2026: weekdays without 1 (Hari Buruh), 14
/// (Kenaikan), 15 (cuti bersama), 27 (Idul Adha), 28 (cuti bersama). 21 weekdays − 5 = 16.
const REGULER_MAY: [i8; 16] = [4, 5, 6, 7, 8, 11, 12, 13, 18, 19, 20, 21, 22, 25, 26, 29];
/// "6-hari" adds the Saturdays 2, 9, 16, 23, 30: 16 + 5 = 21.
const ENAM_HARI_MAY: [i8; 21] = [
    2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 18, 19, 20, 21, 22, 23, 25, 26, 29, 30,
];

fn employee(nip: &str, name: &str, unit: &str) -> Employee {
    // Through serde, as the API builds it, so fields added later keep their defaults.
    serde_json::from_value(serde_json::json!({
        "nip": nip, "name": name, "unit": unit, "position": "Staf",
    }))
    .unwrap()
}

fn checkin(nip: &str, at: &str, mode: &str, verdict: &str) -> CheckinRecord {
    let record_id = hadir::record::stable_id(&["test-checkin", nip, at]);
    CheckinRecord {
        record_id: record_id.clone(),
        tablet: "tablet-1".into(),
        nonce: record_id.clone(),
        nip: nip.into(),
        mode: mode.into(),
        client_time_utc: "2026-05-01T00:00:00Z".into(),
        received_utc: "2026-05-01T00:00:00Z".into(),
        received_local: at.into(),
        location: None,
        photo_sha256: record_id.clone(),
        photo_dhash: 0,
        verdict: verdict.into(),
        findings: "[]".into(),
        reply: "{}".into(),
        counted: true,
        raw: record_id.clone().into_bytes(),
        photo: None,
        body: "{}".into(),
    }
}

async fn entry(store: &Store, nip: &str, kind: EntryKind, from: i8, to: i8) -> String {
    store
        .add_manual_entry(
            NewManualEntry {
                nip: nip.into(),
                kind,
                date_from: may(from),
                date_to: may(to),
                note: "surat".into(),
                supersedes: None,
            },
            "operator".into(),
        )
        .await
        .unwrap()
        .id
}

/// Fills May 2026 for four employees; see each block for what they did.
async fn fill_may(store: &Store) {
    for e in [
        employee(ANDI, "Andi", "Umum"),
        employee(BUDI, "Budi", "Umum"),
        employee(CITRA, "Citra", "Keuangan"),
        employee(DEWI, "Dewi", "Keuangan"),
    ] {
        store.upsert_employee(e).await.unwrap();
    }
    assert!(store
        .set_schedule_group(CITRA.into(), "6-hari".into(), "operator".into())
        .await
        .unwrap());

    let mut punches = Vec::new();
    // Andi: every working day 07:25 → 16:05 (Friday 11:35) except
    //   5 May 07:45:30 → 16:02   late 15 (07:45 − 07:30)
    //   8 May 07:20 → 11:00      Friday: early 30 (11:30 − 11:00)
    //  12 May 07:31 → 15:30      late 1, early 30
    // plus punches on Saturday 9 May and on the 14 May holiday, which do not count.
    for d in REGULER_MAY {
        let friday = may(d).weekday() == jiff::civil::Weekday::Friday;
        let (i, o) = match d {
            5 => ((7, 45, 30), (16, 2, 0)),
            8 => ((7, 20, 0), (11, 0, 0)),
            12 => ((7, 31, 0), (15, 30, 0)),
            _ if friday => ((7, 25, 0), (11, 35, 0)),
            _ => ((7, 25, 0), (16, 5, 0)),
        };
        punches.push(punch(ANDI, may(d), i, 0));
        punches.push(punch(ANDI, may(d), o, 1));
    }
    punches.push(punch(ANDI, may(9), (8, 0, 0), 0));
    punches.push(punch(ANDI, may(14), (7, 30, 0), 0));

    // Budi: present on time 7, 8 (Friday), 11, 12; on 13 May only a morning punch (no
    // departure); a punch on 25 May while on travel (dinas luar wins); nothing on 6 May.
    for d in [7, 11, 12] {
        punches.push(punch(BUDI, may(d), (7, 28, 0), 0));
        punches.push(punch(BUDI, may(d), (16, 1, 0), 1));
    }
    punches.push(punch(BUDI, may(8), (7, 28, 0), 0));
    punches.push(punch(BUDI, may(8), (11, 31, 0), 1));
    punches.push(punch(BUDI, may(13), (7, 20, 0), 0));
    punches.push(punch(BUDI, may(25), (7, 30, 0), 0));

    // Citra, group 6-hari (Mon–Thu 07:30–14:00, Fri 07:30–11:00, Sat 07:30–12:30): present every
    // working day 07:29:59 → end + 2 min, except
    //   9 May (Sat) 07:29 → 12:00         early 30
    //  19 May 08:00:10 → 14:02            late 30
    //  11 May WFH check-ins 07:28, 14:05  (tablet, accepted) → present, WFH
    //  12 May no check-in (WFH assignment) → tanpa keterangan
    //  13 May a rejected WFH check-in     → tanpa keterangan
    //  20 May a check-in still to review  → tanpa keterangan
    for d in ENAM_HARI_MAY {
        if [11, 12, 13, 20].contains(&d) {
            continue;
        }
        let (i, o) = match (d, may(d).weekday().to_monday_one_offset()) {
            (9, _) => ((7, 29, 0), (12, 0, 0)),
            (19, _) => ((8, 0, 10), (14, 2, 0)),
            (_, 5) => ((7, 29, 59), (11, 2, 0)),
            (_, 6) => ((7, 29, 59), (12, 32, 0)),
            _ => ((7, 29, 59), (14, 2, 0)),
        };
        punches.push(punch(CITRA, may(d), i, 0));
        punches.push(punch(CITRA, may(d), o, 1));
    }

    // Dewi: on time (07:30:00 → 16:00:00, Friday 11:30:00) on 7, 8, 12, 13, 18–22, 25, 26, 29.
    for d in [7, 8, 12, 13, 18, 19, 20, 21, 22, 25, 26, 29] {
        let friday = may(d).weekday() == jiff::civil::Weekday::Friday;
        punches.push(punch(DEWI, may(d), (7, 30, 0), 0));
        let out = if friday { (11, 30, 0) } else { (16, 0, 0) };
        punches.push(punch(DEWI, may(d), out, 1));
    }
    // Someone not on the roster.
    punches.push(punch(STRANGER, may(4), (7, 0, 0), 0));
    store.append_punches(punches).await.unwrap();

    for c in [
        checkin(CITRA, "2026-05-11T07:28:00", "wfh", "accepted"),
        checkin(CITRA, "2026-05-11T14:05:00", "wfh", "accepted"),
        checkin(CITRA, "2026-05-13T07:30:00", "wfh", "rejected"),
        checkin(CITRA, "2026-05-20T07:35:00", "regular", "needs-review"),
    ] {
        assert!(store.store_checkin(c).await.unwrap());
    }

    // Budi: sakit 4–5, cuti 18–22, izin 29, travel (SPT) 25–26.
    entry(store, BUDI, EntryKind::Sakit, 4, 5).await;
    entry(store, BUDI, EntryKind::Cuti, 18, 22).await;
    entry(store, BUDI, EntryKind::Izin, 29, 29).await;
    store
        .add_travel_order(
            BUDI.into(),
            TravelOrderRow {
                spt_number: "SPT/090/12/2026".into(),
                date_from: "2026-05-25".into(),
                date_to: "2026-05-26".into(),
            },
            "operator".into(),
        )
        .await
        .unwrap();
    // Citra: WFH 11–13.
    entry(store, CITRA, EntryKind::Wfh, 11, 13).await;
    // Dewi: cuti 4–8, corrected to 4–6; izin 11, cancelled.
    let cuti = entry(store, DEWI, EntryKind::Cuti, 4, 8).await;
    store
        .add_manual_entry(
            NewManualEntry {
                nip: DEWI.into(),
                kind: EntryKind::Cuti,
                date_from: may(4),
                date_to: may(6),
                note: "koreksi".into(),
                supersedes: Some(cuti),
            },
            "operator".into(),
        )
        .await
        .unwrap();
    let izin = entry(store, DEWI, EntryKind::Izin, 11, 11).await;
    store
        .cancel_manual_entry(izin, "salah input".into(), "operator".into())
        .await
        .unwrap();
}

/// (nip, working, present, wfh, dinas luar, izin, sakit, cuti, tanpa keterangan,
///  late count, late minutes, early count, early minutes, missing in, missing out, rate %)
type Row = (&'static str, [u32; 14], Option<f64>);

fn expected_employees() -> Vec<Row> {
    vec![
        // Citra: 21 working days; absent 12, 13, 20 → 18 present (1 WFH), 3 TK;
        // late 1×30 (19 May), early 1×30 (9 May); rate 18 ÷ 21 × 100 = 85.714… → 85.71.
        (
            CITRA,
            [21, 18, 1, 0, 0, 0, 0, 3, 1, 30, 1, 30, 0, 0],
            Some(85.71),
        ),
        // Dewi: 16 working days; cuti 4, 5, 6 (after the correction) = 3; izin on 11 was
        // cancelled and she did not come → 1 TK; present 16 − 3 − 1 = 12;
        // rate 12 ÷ (16 − 3) × 100 = 92.307… → 92.31.
        (
            DEWI,
            [16, 12, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0],
            Some(92.31),
        ),
        // Andi: present all 16 days; late 2× (15 + 1 = 16 min), early 2× (30 + 30 = 60 min);
        // rate 16 ÷ 16 = 100.
        (
            ANDI,
            [16, 16, 0, 0, 0, 0, 0, 0, 2, 16, 2, 60, 0, 0],
            Some(100.0),
        ),
        // Budi: sakit 2 (4, 5), TK 1 (6), present 5 (7, 8, 11, 12, 13 — the 13th without a
        // departure), cuti 5 (18–22), dinas luar 2 (25, 26), izin 1 (29): 2+1+5+5+2+1 = 16;
        // rate (5 + 2) ÷ (16 − 5) × 100 = 63.636… → 63.64.
        (
            BUDI,
            [16, 5, 0, 2, 1, 2, 5, 1, 0, 0, 0, 0, 0, 1],
            Some(63.64),
        ),
    ]
}

/// (unit, employees, counts, rate)
fn expected_units() -> Vec<(&'static str, u32, [u32; 14], Option<f64>)> {
    vec![
        // Citra + Dewi: working 21 + 16 = 37, present 18 + 12 = 30, cuti 3, TK 3 + 1 = 4;
        // rate 30 ÷ (37 − 3) × 100 = 88.235… → 88.24.
        (
            "Keuangan",
            2,
            [37, 30, 1, 0, 0, 0, 3, 4, 1, 30, 1, 30, 0, 0],
            Some(88.24),
        ),
        // Andi + Budi: working 32, present 16 + 5 = 21, DL 2, cuti 5;
        // rate (21 + 2) ÷ (32 − 5) × 100 = 85.185… → 85.19.
        (
            "Umum",
            2,
            [32, 21, 0, 2, 1, 2, 5, 1, 2, 16, 2, 60, 0, 1],
            Some(85.19),
        ),
    ]
}

fn counts(t: &Totals) -> [u32; 14] {
    export::counts(t)
}

async fn may_recap(store: &Store) -> Recap {
    recap::load(
        store,
        RecapQuery::month(Month::parse("2026-05").unwrap(), may(31)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_may_recap_matches_the_hand_computed_numbers() {
    let dir = TempDir::new("recap-may");
    let (owner, store) = open(dir.path());
    fill_may(&store).await;
    let r = may_recap(&store).await;

    let got: Vec<Row> = r
        .employees
        .iter()
        .map(|e| {
            (
                expected_employees()
                    .iter()
                    .find(|x| x.0 == e.nip)
                    .map(|x| x.0)
                    .unwrap_or("?"),
                counts(&e.totals),
                e.totals.rate_pct,
            )
        })
        .collect();
    assert_eq!(got, expected_employees());
    let units: Vec<_> = r
        .units
        .iter()
        .map(|u| {
            (
                u.unit.as_str(),
                u.employees,
                counts(&u.totals),
                u.totals.rate_pct,
            )
        })
        .collect();
    let want = expected_units();
    assert_eq!(units.len(), want.len());
    for (g, w) in units.iter().zip(&want) {
        assert_eq!((g.0, g.1, g.2, g.3), (w.0, w.1, w.2, w.3));
    }
    // Everyone: working 69, present 51, DL 2, cuti 8: (51 + 2) ÷ (69 − 8) = 86.885… → 86.89.
    assert_eq!(r.overall.working_days, 69);
    assert_eq!(r.overall.rate_pct, Some(86.89));

    // Day details: Andi's 5 May, Budi's 25 May, the holiday and the ignored Saturday punch.
    let andi = r.employees.iter().find(|e| e.nip == ANDI).unwrap();
    let d5 = &andi.days[4];
    assert_eq!(d5.status, DayStatus::Hadir);
    assert_eq!(d5.first_in, Some(jiff::civil::time(7, 45, 30, 0)));
    assert_eq!((d5.late_min, d5.early_min), (15, 0));
    assert_eq!(andi.days[13].status, DayStatus::Holiday);
    assert_eq!(
        andi.days[13].holiday.as_deref(),
        Some("Kenaikan Yesus Kristus")
    );
    assert_eq!(andi.days[8].status, DayStatus::DayOff);
    assert_eq!(andi.days[8].punches, 1);
    let budi = r.employees.iter().find(|e| e.nip == BUDI).unwrap();
    assert_eq!(budi.days[24].status, DayStatus::DinasLuar);
    assert!(budi.days[12].missing_out);
    assert!(r.employees.iter().all(|e| e.nip != STRANGER));

    // Dashboard counts. 11 May: Andi, Budi present, Citra WFH, Dewi absent (izin cancelled).
    let c = recap::load_day_counts(&store, may(11)).await.unwrap();
    assert_eq!(
        (
            c.employees,
            c.working,
            c.present,
            c.wfh,
            c.absent,
            c.on_leave,
            c.on_travel
        ),
        (4, 4, 3, 1, 1, 0, 0)
    );
    // 25 May: Budi on travel; 19 May: Budi on cuti, Citra late.
    let c = recap::load_day_counts(&store, may(25)).await.unwrap();
    assert_eq!((c.present, c.on_travel, c.absent), (3, 1, 0));
    let c = recap::load_day_counts(&store, may(19)).await.unwrap();
    assert_eq!((c.present, c.late, c.on_leave), (3, 1, 1));
    close(owner, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_after_as_of_are_not_counted_and_a_unit_filter_keeps_only_that_unit() {
    let dir = TempDir::new("recap-asof");
    let (owner, store) = open(dir.path());
    fill_may(&store).await;
    let mut q = RecapQuery::month(Month::parse("2026-05").unwrap(), may(8));
    q.unit = Some("Umum".into());
    let r = recap::load(&store, q).await.unwrap();
    assert_eq!(r.employees.len(), 2);
    // Up to 8 May the reguler group has 4, 5, 6, 7, 8 = 5 working days. Budi: sakit 4–5,
    // TK 6, present 7, 8 → rate 2 ÷ 5 = 40 %.
    let budi = r.employees.iter().find(|e| e.nip == BUDI).unwrap();
    assert_eq!(
        counts(&budi.totals),
        [5, 2, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(budi.totals.rate_pct, Some(40.0));
    assert_eq!(budi.days[20].status, DayStatus::NotYet);
    close(owner, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_entries_are_append_only_audited_forwarded_and_refuse_overlaps() {
    let dir = TempDir::new("recap-entries");
    let (owner, store) = open(dir.path());
    fill_may(&store).await;
    let all = store
        .manual_entries(EntryFilter {
            history: true,
            ..EntryFilter::default()
        })
        .await
        .unwrap();
    // 6 entries made + 1 correction + 1 cancellation; nothing deleted.
    assert_eq!(all.len(), 8);
    let in_force = store.manual_entries(EntryFilter::default()).await.unwrap();
    assert_eq!(in_force.len(), 5);
    let outbox = store.unsent_after(0, 100_000).await.unwrap();
    let forwarded: Vec<_> = outbox
        .iter()
        .filter(|r| r.kind == "manual-entry")
        .map(|r| r.record_id.clone())
        .collect();
    assert_eq!(forwarded.len(), 8);
    assert!(all.iter().all(|e| forwarded.contains(&e.id)));
    let audits = outbox
        .iter()
        .filter(|r| r.kind == "audit" && r.body.contains("manual-entry"))
        .count();
    assert_eq!(audits, 8);

    // Overlapping Budi's cuti (18–22) is refused and changes nothing.
    let err = store
        .add_manual_entry(
            NewManualEntry {
                nip: BUDI.into(),
                kind: EntryKind::Izin,
                date_from: may(22),
                date_to: may(25),
                note: String::new(),
                supersedes: None,
            },
            "operator".into(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bertumpang tindih"), "{err}");
    // An unknown employee and reversed dates are refused too.
    for (nip, from, to) in [(STRANGER, 4, 4), (BUDI, 9, 8)] {
        assert!(store
            .add_manual_entry(
                NewManualEntry {
                    nip: nip.into(),
                    kind: EntryKind::Izin,
                    date_from: may(from),
                    date_to: may(to),
                    note: String::new(),
                    supersedes: None,
                },
                "operator".into(),
            )
            .await
            .is_err());
    }
    // A cancelled entry cannot be cancelled again.
    let cancelled = all
        .iter()
        .find(|e| !e.in_force && e.kind == EntryKind::Izin)
        .unwrap();
    assert!(store
        .cancel_manual_entry(cancelled.id.clone(), "lagi".into(), "operator".into())
        .await
        .is_err());
    let after = store
        .manual_entries(EntryFilter {
            history: true,
            ..EntryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(after.len(), 8);
    close(owner, store).await;
}

fn sheet(bytes: &[u8], name: &str) -> calamine::Range<Data> {
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.worksheet_range(name).unwrap()
}

fn num(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xlsx_cells_read_back_hold_the_same_numbers_as_the_recap_and_the_csv() {
    let dir = TempDir::new("recap-xlsx");
    let (owner, store) = open(dir.path());
    fill_may(&store).await;
    let r = may_recap(&store).await;
    let bytes = export::xlsx(&r).unwrap();

    let wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.clone())).unwrap();
    assert_eq!(wb.sheet_names(), export::SHEETS.to_vec());
    drop(wb);

    let emp = sheet(&bytes, "Rekap Pegawai");
    let header: Vec<String> = emp.rows().next().unwrap().iter().map(text).collect();
    assert_eq!(header[1], "NIP");
    assert_eq!(header[6], "Hari Kerja");
    assert_eq!(header.last().unwrap(), export::RATE_HEADER);
    for (nip, counts, rate) in expected_employees() {
        let row = emp
            .rows()
            .find(|row| text(&row[1]) == nip)
            .unwrap_or_else(|| panic!("{nip} not in the sheet"));
        let got: Vec<u32> = row[6..20].iter().map(|c| num(c) as u32).collect();
        assert_eq!(got, counts.to_vec(), "{nip}");
        // The rate is a percentage cell: 63.64 % is stored as 0.6364.
        let cell = num(&row[20]);
        assert!((cell - rate.unwrap() / 100.0).abs() < 1e-9, "{nip}: {cell}");
    }

    let units = sheet(&bytes, "Rekap Unit");
    for (unit, n, counts, rate) in expected_units() {
        let row = units.rows().find(|row| text(&row[1]) == unit).unwrap();
        assert_eq!(num(&row[2]) as u32, n);
        let got: Vec<u32> = row[3..17].iter().map(|c| num(c) as u32).collect();
        assert_eq!(got, counts.to_vec(), "{unit}");
        assert!((num(&row[17]) - rate.unwrap() / 100.0).abs() < 1e-9);
    }
    let total = units.rows().find(|row| text(&row[1]) == "Jumlah").unwrap();
    assert!((num(&total[17]) - 0.8689).abs() < 1e-9);

    // Daily sheet: 4 employees × 31 days, Andi late 15 minutes on 5 May at 07:45.
    let days = sheet(&bytes, "Rincian Harian");
    assert_eq!(days.height(), 1 + 4 * 31);
    let row = days
        .rows()
        .find(|row| {
            text(&row[0]) == ANDI
                && matches!(&row[3], Data::DateTime(d) if (d.as_f64() - 46147.0).abs() < 1e-9)
        })
        .expect("Andi on 2026-05-05 (Excel serial 46147)");
    assert_eq!(text(&row[5]), "Hadir");
    match &row[6] {
        Data::DateTime(t) => {
            let want = (7.0 * 3600.0 + 45.0 * 60.0 + 30.0) / 86400.0;
            assert!((t.as_f64() - want).abs() < 1e-6);
        }
        other => panic!("Jam Masuk not a time: {other:?}"),
    }
    assert_eq!(num(&row[8]), 15.0);

    // The CSV has the same rows and numbers.
    let csv = export::csv(&r, CsvTable::Pegawai).unwrap();
    let mut rdr = csv::Reader::from_reader(csv.as_slice());
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let xrow = emp.rows().find(|row| text(&row[1]) == rec[1]).unwrap();
        for c in 6..20 {
            assert_eq!(rec[c].parse::<f64>().unwrap(), num(&xrow[c]));
        }
        let rate: f64 = rec[20].parse().unwrap();
        assert!((rate / 100.0 - num(&xrow[20])).abs() < 1e-9);
        n += 1;
    }
    assert_eq!(n, 4);
    close(owner, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_import_applies_good_rows_and_reports_bad_ones_by_line() {
    let dir = TempDir::new("recap-roster");
    let (owner, store) = open(dir.path());
    let csv = "Daftar Pegawai Dinas Contoh;;;;\n\
               No;NIP Baru;Nama;Unit Kerja;Jabatan;Kelompok Jadwal\n\
               1;198001012005011001;Andi;Umum;Analis;reguler\n\
               2;19800101200501100;Pendek;Umum;Staf;\n\
               3;1.98E+17;Angka;Umum;Staf;\n\
               4;198001012005011001;Ganda;Umum;Staf;\n\
               5;198503032009032003;Citra;Keuangan;Bendahara;6-Hari\n\
               6;199004042015052004;Dewi;Keuangan;Staf;shift-malam\n\
               7;199013332015052004;Tanggal Salah;Keuangan;Staf;\n\
               8;199004042015052005;;Keuangan;Staf;\n";
    let report = roster_import::import_bytes(&store, csv.into(), "simpeg.csv", "operator", false)
        .await
        .unwrap();
    assert_eq!(report.header_line, 2);
    assert_eq!((report.rows, report.inserted, report.skipped), (8, 2, 6));
    let lines: Vec<usize> = report.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 8, 9, 10]);
    let reason = |line: usize| {
        report
            .issues
            .iter()
            .find(|i| i.line == line)
            .unwrap()
            .reasons
            .join("; ")
    };
    assert!(reason(4).contains("18 angka"));
    assert!(reason(5).contains("Teks"));
    assert!(reason(6).contains("baris 3"));
    assert!(reason(8).contains("shift-malam"));
    assert!(reason(9).contains("tanggal lahir"));
    assert!(reason(10).contains("Nama kosong"));

    // Citra landed in "6-hari" (matched case-insensitively) and counts Saturdays.
    let r = recap::load(
        &store,
        RecapQuery::month(Month::parse("2026-05").unwrap(), may(31)),
    )
    .await
    .unwrap();
    let citra = r.employees.iter().find(|e| e.nip == CITRA).unwrap();
    assert_eq!(citra.schedule_group, "6-hari");
    assert_eq!(citra.totals.working_days, 21);

    // The same file again changes nothing; a dry run writes nothing.
    let again = roster_import::import_bytes(&store, csv.into(), "simpeg.csv", "operator", false)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 2));
    let dry = roster_import::import_bytes(
        &store,
        "NIP;Nama\n199004042015052004;Dewi\n".into(),
        "x.csv",
        "operator",
        true,
    )
    .await
    .unwrap();
    assert_eq!(dry.inserted, 1);
    let r = recap::load(
        &store,
        RecapQuery::month(Month::parse("2026-05").unwrap(), may(31)),
    )
    .await
    .unwrap();
    assert_eq!(r.employees.len(), 2);

    // A header-less file is refused as a whole.
    assert!(
        roster_import::import_bytes(&store, b"a,b\n1,2\n".to_vec(), "x.csv", "op", false)
            .await
            .is_err()
    );
    close(owner, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_import_reads_xlsx_and_catches_a_nip_typed_as_a_number() {
    let dir = TempDir::new("recap-roster-xlsx");
    let (owner, store) = open(dir.path());
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "NIP",
        "Gelar Depan",
        "Nama Pegawai",
        "Gelar Belakang",
        "Bidang",
        "Nama Jabatan",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, ANDI).unwrap();
    ws.write_string(1, 1, "Ir.").unwrap();
    ws.write_string(1, 2, "Andi").unwrap();
    ws.write_string(1, 3, "M.T.").unwrap();
    ws.write_string(1, 4, "Sarana").unwrap();
    ws.write_string(1, 5, "Kepala Bidang").unwrap();
    ws.write_number(2, 0, 198202022006041002.0).unwrap();
    ws.write_string(2, 2, "Budi").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let report = roster_import::import_bytes(&store, bytes, "SIMPEG.XLSX", "operator", false)
        .await
        .unwrap();
    assert_eq!(report.format, "xlsx");
    assert_eq!((report.inserted, report.skipped), (1, 1));
    assert_eq!(report.issues[0].line, 3);
    assert!(report.issues[0].reasons[0].contains("Teks"));
    let r = recap::load(
        &store,
        RecapQuery::month(Month::parse("2026-05").unwrap(), may(31)),
    )
    .await
    .unwrap();
    assert_eq!(r.employees[0].name, "Ir. Andi, M.T.");
    assert_eq!(r.employees[0].unit, "Sarana");
    close(owner, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2026_holidays_are_seeded_and_schedules_are_editable() {
    let dir = TempDir::new("recap-holidays");
    let (owner, store) = open(dir.path());
    let hs = store
        .holidays(date(2026, 1, 1), date(2026, 12, 31))
        .await
        .unwrap();
    use hadir::attendance::HolidayKind;
    assert_eq!(
        hs.iter()
            .filter(|h| h.kind == HolidayKind::LiburNasional)
            .count(),
        17
    );
    assert_eq!(
        hs.iter()
            .filter(|h| h.kind == HolidayKind::CutiBersama)
            .count(),
        8
    );
    let report = store
        .import_holidays_csv(
            b"tanggal,nama,jenis\n2026-11-25,HUT Kabupaten,libur daerah\n2026-11-31,Salah,\n"
                .to_vec(),
            "operator".into(),
        )
        .await
        .unwrap();
    assert_eq!(report.saved, 1);
    assert_eq!(report.problems[0].0, 3);

    let mut g = store.schedule_groups().await.unwrap()[0].clone();
    assert_eq!(g.name, "reguler");
    g.late_tolerance_min = 15;
    store
        .save_schedule_group(g.clone(), "operator".into())
        .await
        .unwrap();
    assert_eq!(
        store.schedule_groups().await.unwrap()[0].late_tolerance_min,
        15
    );
    g.days = [None; 7];
    assert!(store
        .save_schedule_group(g, "operator".into())
        .await
        .is_err());
    assert!(store
        .delete_schedule_group("reguler".into(), "operator".into())
        .await
        .is_err());
    let cal = store
        .calendar(date(2026, 11, 1), date(2026, 11, 30))
        .await
        .unwrap();
    assert!(cal.hours(cal.default_group(), date(2026, 11, 25)).is_none());
    close(owner, store).await;
}

fn hadir_cmd(args: &[&str]) -> std::process::Output {
    Command::new(hadir_bin()).args(args).output().unwrap()
}

#[test]
fn hadir_recap_on_a_database_filled_through_the_api_gives_the_same_numbers_in_csv_and_xlsx() {
    let dir = TempDir::new("recap-cli");
    let cfg = dir.path().join("hadir.toml");
    std::fs::write(&cfg, test_config(dir.path(), "")).unwrap();
    let cfg_s = cfg.to_str().unwrap();

    // Roster from a SIMPEG export on the command line: one good row, one bad row.
    let roster = dir.path().join("pegawai.csv");
    std::fs::write(
        &roster,
        "NIP,Nama,Bidang,Jabatan,Kelompok Jadwal\n\
         198503032009032003,Citra,Keuangan,Bendahara,6-hari\n\
         12345,Salah,Keuangan,Staf,\n",
    )
    .unwrap();
    let out = hadir_cmd(&[
        "roster",
        "import",
        roster.to_str().unwrap(),
        "--config",
        cfg_s,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a skipped row fails the command");
    assert!(stdout.contains("1 baru"), "{stdout}");
    assert!(stdout.contains("baris 3: DILEWATI 12345"), "{stdout}");

    // The seeded 2026 holidays: 17 libur nasional + 8 cuti bersama.
    let out = hadir_cmd(&["holidays", "list", "--year", "2026", "--config", cfg_s]);
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(listed.lines().count(), 25, "{listed}");
    assert!(listed.contains("2026-08-17  libur-nasional"), "{listed}");

    let gw = Gateway::start(&cfg);
    let put = http(
        gw.admin,
        "PUT",
        &format!("/api/v1/employees/{ANDI}"),
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"Andi","unit":"Umum","position":"Staf"}"#,
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    // November 2026 has 21 weekdays and no holidays. Andi (reguler): 2 Nov 07:40 → 16:00
    // (late 10), 6 Nov (Friday) 07:00 → 11:00 (early 30); 19 days without punches;
    // rate 2 ÷ 21 = 9.52 %. Citra (6-hari, 21 + 4 Saturdays = 25 working days): Saturday 7 Nov
    // 07:30 → 12:30; rate 1 ÷ 25 = 4 %.
    let punches = serde_json::json!([
        {"device":"pintu","employee":ANDI,"time":"2026-11-02T07:40:00","state":0},
        {"device":"pintu","employee":ANDI,"time":"2026-11-02T16:00:00","state":1},
        {"device":"pintu","employee":ANDI,"time":"2026-11-06T07:00:00","state":0},
        {"device":"pintu","employee":ANDI,"time":"2026-11-06T11:00:00","state":1},
        {"device":"pintu","employee":CITRA,"time":"2026-11-07T07:30:00","state":0},
        {"device":"pintu","employee":CITRA,"time":"2026-11-07T12:30:00","state":1},
    ]);
    let resp = post_punches(gw.admin, &punches).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.body);

    // The recap runs beside the running daemon.
    let csv_path = dir.path().join("rekap.csv");
    let xlsx_path = dir.path().join("rekap.xlsx");
    for p in [&csv_path, &xlsx_path] {
        let out = hadir_cmd(&[
            "recap",
            "--config",
            cfg_s,
            "--month",
            "2026-11",
            "--as-of",
            "2026-11-30",
            "--out",
            p.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("2 pegawai"));
    }
    drop(gw);

    let csv_bytes = std::fs::read(&csv_path).unwrap();
    let xlsx_bytes = std::fs::read(&xlsx_path).unwrap();
    let emp = sheet(&xlsx_bytes, "Rekap Pegawai");
    let mut rdr = csv::Reader::from_reader(csv_bytes.as_slice());
    let mut seen = Vec::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let xrow = emp.rows().find(|row| text(&row[1]) == rec[1]).unwrap();
        let csv_counts: Vec<u32> = (6..20).map(|c| rec[c].parse().unwrap()).collect();
        let xlsx_counts: Vec<u32> = (6..20).map(|c| num(&xrow[c]) as u32).collect();
        assert_eq!(csv_counts, xlsx_counts);
        let rate: f64 = rec[20].parse().unwrap();
        assert!((rate / 100.0 - num(&xrow[20])).abs() < 1e-9);
        seen.push((rec[1].to_string(), csv_counts, rate));
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            (
                ANDI.to_string(),
                vec![21, 2, 0, 0, 0, 0, 0, 19, 1, 10, 1, 30, 0, 0],
                9.52
            ),
            (
                CITRA.to_string(),
                vec![25, 1, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0],
                4.0
            ),
        ]
    );
}
