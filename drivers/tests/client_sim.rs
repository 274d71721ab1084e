//! The client against the simulator over real 127.0.0.1 sockets, TCP and UDP.

use std::time::Duration;

use hadir_drivers::zk::sim::{synthetic_records, synthetic_templates, synthetic_users};
use hadir_drivers::zk::{
    AttendanceRecord, ClientOptions, DeviceProfile, Faults, FingerTemplate, LiveEventFormat,
    RecordLayout, SimConfig, SimHandle, Simulator, Transport, User, UserLayout, ZkClient,
    ZkDateTime, ZkError,
};

const BOTH: [Transport; 2] = [Transport::Tcp, Transport::Udp];

fn at(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> ZkDateTime {
    ZkDateTime::new(y, mo, d, h, mi, s).unwrap()
}

fn opts(key: u32) -> ClientOptions {
    ClientOptions {
        comm_key: key,
        timeout: Duration::from_secs(2),
    }
}

fn fixture(users: usize, records: usize, layout: UserLayout) -> SimConfig {
    let u = synthetic_users(users, layout);
    let r = synthetic_records(records, &u, at(2025, 1, 6, 7, 30, 0));
    SimConfig {
        users: u,
        records: r,
        user_layout: layout,
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.unwrap()
}

async fn connect(sim: &SimHandle, t: Transport, key: u32) -> ZkClient {
    ZkClient::connect(sim.addr(), t, opts(key)).await.unwrap()
}

#[tokio::test]
async fn connecting_without_a_comm_key_opens_a_session_on_both_transports() {
    let sim = start(SimConfig::default()).await;
    for t in BOTH {
        let c = connect(&sim, t, 0).await;
        assert_ne!(c.session(), 0);
        c.disconnect().await.unwrap();
    }
    assert_eq!(sim.sessions_opened(), 2);
}

#[tokio::test]
async fn the_right_comm_key_is_accepted_and_a_wrong_one_is_unauthorized() {
    let sim = start(SimConfig {
        comm_key: 123_456,
        ..SimConfig::default()
    })
    .await;
    for t in BOTH {
        let c = connect(&sim, t, 123_456).await;
        c.disconnect().await.unwrap();
        for wrong in [0, 123_457] {
            let err = ZkClient::connect(sim.addr(), t, opts(wrong))
                .await
                .unwrap_err();
            assert!(matches!(err, ZkError::Unauthorized { .. }), "{t:?}: {err}");
            assert!(err.to_string().contains("comm key"), "{err}");
        }
    }
}

#[tokio::test]
async fn device_info_reports_serial_firmware_platform_name_and_counts() {
    let sim = start(fixture(7, 33, UserLayout::Zk8)).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        let info = c.device_info().await.unwrap();
        assert_eq!(info.serial, "HADIRSIM0001");
        assert_eq!(info.platform, "ZMM220_TFT");
        assert_eq!(info.device_name, "Hadir Sim");
        assert_eq!(info.firmware, "Ver 6.60 Apr 28 2017");
        assert_eq!((info.counts.users, info.counts.records), (7, 33));
        assert_eq!(c.read_option("NoSuchOption").await.unwrap(), None);
        c.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn users_are_read_in_both_user_layouts_on_both_transports() {
    for layout in [UserLayout::Zk6, UserLayout::Zk8] {
        let sim = start(fixture(120, 0, layout)).await;
        for t in BOTH {
            let mut c = connect(&sim, t, 0).await;
            assert_eq!(c.users().await.unwrap(), sim.users(), "{layout:?} {t:?}");
            assert!(sim.is_enabled());
        }
    }
}

/// What a layout can carry of a record (the client resolves the rest from users).
fn expected(records: &[AttendanceRecord], layout: RecordLayout) -> Vec<AttendanceRecord> {
    records
        .iter()
        .map(|r| AttendanceRecord {
            workcode: if layout == RecordLayout::Extended16 {
                r.workcode
            } else {
                0
            },
            ..r.clone()
        })
        .collect()
}

#[tokio::test]
async fn attendance_is_read_in_every_record_layout_on_both_transports() {
    let layouts = [
        RecordLayout::Compact8,
        RecordLayout::Ma300,
        RecordLayout::Extended16,
        RecordLayout::Full40,
        RecordLayout::SpeedFace49,
    ];
    for layout in layouts {
        let mut cfg = fixture(25, 3000, UserLayout::Zk8);
        for (i, r) in cfg.records.iter_mut().enumerate() {
            r.workcode = i as u32 % 7;
        }
        cfg.record_layout = layout;
        let sim = start(cfg).await;
        for t in BOTH {
            let mut c = connect(&sim, t, 0).await;
            c.set_profile(DeviceProfile {
                ma300_records: layout == RecordLayout::Ma300,
                ..DeviceProfile::default()
            });
            let got = c.attendance().await.unwrap();
            assert_eq!(got, expected(&sim.records(), layout), "{layout:?} {t:?}");
            assert!(sim.is_enabled(), "reader left disabled");
            c.disconnect().await.unwrap();
        }
    }
}

#[tokio::test]
async fn small_datasets_answered_inline_with_one_data_packet_are_accepted() {
    let mut cfg = fixture(3, 10, UserLayout::Zk8);
    cfg.inline_data_max = 1000;
    let sim = start(cfg).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        assert_eq!(c.users().await.unwrap(), sim.users());
        assert_eq!(
            c.attendance().await.unwrap(),
            expected(&sim.records(), RecordLayout::Full40)
        );
    }
}

#[tokio::test]
async fn tcp_chunks_split_into_indexed_data_frames_are_reassembled() {
    let mut cfg = fixture(10, 5000, UserLayout::Zk8);
    cfg.tcp_data_frame = Some(1008);
    let sim = start(cfg).await;
    let mut c = connect(&sim, Transport::Tcp, 0).await;
    assert_eq!(
        c.attendance().await.unwrap(),
        expected(&sim.records(), RecordLayout::Full40)
    );
}

#[tokio::test]
async fn an_empty_log_reads_as_no_records() {
    let sim = start(fixture(0, 0, UserLayout::Zk6)).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        assert!(c.users().await.unwrap().is_empty());
        assert!(c.attendance().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_clock_can_be_read_and_set() {
    let sim = start(SimConfig::default()).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        let target = at(2031, 12, 31, 23, 59, 0);
        c.set_time(target).await.unwrap();
        let now = c.get_time().await.unwrap();
        let drift = now.to_civil_seconds() - target.to_civil_seconds();
        assert!((0..=2).contains(&drift), "{t:?}: clock reads {now}");
        assert_eq!(sim.device_time().year(), 2031);
    }
}

#[tokio::test]
async fn disable_and_enable_lock_and_unlock_the_reader() {
    let sim = start(SimConfig::default()).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        c.disable().await.unwrap();
        assert!(!sim.is_enabled());
        c.enable().await.unwrap();
        assert!(sim.is_enabled());
    }
}

#[tokio::test]
async fn with_disabled_re_enables_the_reader_even_when_the_work_fails() {
    let sim = start(SimConfig::default()).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        let res: Result<(), ZkError> = c
            .with_disabled(async |c: &mut ZkClient| {
                assert!(!c.peer().ip().is_unspecified());
                Err(ZkError::Closed { peer: c.peer() })
            })
            .await;
        assert!(res.is_err());
        assert!(sim.is_enabled(), "{t:?}: reader left disabled");
        let n = c
            .with_disabled(async |c: &mut ZkClient| c.free_sizes().await.map(|s| s.users))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}

#[tokio::test]
async fn clear_attendance_empties_the_log() {
    let sim = start(fixture(5, 50, UserLayout::Zk8)).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        c.clear_attendance().await.unwrap();
        assert!(sim.records().is_empty());
        assert!(c.attendance().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn set_user_then_delete_user_round_trips_in_both_layouts() {
    for layout in [UserLayout::Zk6, UserLayout::Zk8] {
        for t in BOTH {
            let sim = start(fixture(3, 0, layout)).await;
            let mut c = connect(&sim, t, 0).await;
            let mut u = User::new(42, "4242", "Aisha");
            u.privilege = 14;
            u.password = "9876".into();
            u.card = 123_456;
            u.group = "2".into();
            c.set_user(&u).await.unwrap();
            let users = c.users().await.unwrap();
            assert!(users.contains(&u), "{layout:?} {t:?}: {users:?}");
            assert_eq!(sim.users().len(), 4);
            c.delete_user(42).await.unwrap();
            assert!(!sim.users().iter().any(|x| x.uid == 42));
        }
    }
}

#[tokio::test]
async fn a_user_that_does_not_fit_the_layout_is_refused_before_sending() {
    let sim = start(fixture(2, 0, UserLayout::Zk6)).await;
    let mut c = connect(&sim, Transport::Udp, 0).await;
    let u = User::new(9, "not-a-number", "X");
    let err = c.set_user(&u).await.unwrap_err();
    assert!(matches!(err, ZkError::Record { .. }), "{err}");
}

#[tokio::test]
async fn live_events_deliver_punches_and_acknowledge_each() {
    for (t, format) in [
        (Transport::Tcp, LiveEventFormat::Long36),
        (Transport::Udp, LiveEventFormat::Short12),
        (Transport::Tcp, LiveEventFormat::Long52),
    ] {
        let mut cfg = fixture(4, 0, UserLayout::Zk8);
        cfg.event_format = format;
        let sim = start(cfg).await;
        let c = connect(&sim, t, 0).await;
        let mut live = c.live_events().await.unwrap();
        let users = sim.users();
        let punches = synthetic_records(3, &users, at(2025, 2, 3, 8, 0, 0));
        for p in &punches {
            assert_eq!(sim.push_live_event(p.clone()), 1);
            let got = tokio::time::timeout(Duration::from_secs(2), live.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(&got, p, "{t:?} {format:?}");
        }
        // The ack follows the event asynchronously.
        for _ in 0..100 {
            if sim.events_acked() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sim.events_acked(), 3);
        live.stop().await;
        for _ in 0..100 {
            if sim.live_sessions() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sim.live_sessions(), 0, "{t:?}: still registered after stop");
    }
}

#[tokio::test]
async fn a_hundred_thousand_records_are_pulled_on_both_transports() {
    let sim = start(fixture(50, 100_000, UserLayout::Zk8)).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        let got = c.attendance().await.unwrap();
        assert_eq!(got.len(), 100_000);
        assert_eq!(got, expected(&sim.records(), RecordLayout::Full40), "{t:?}");
    }
}

#[tokio::test]
async fn slow_replies_within_the_timeout_still_complete() {
    let mut cfg = fixture(5, 200, UserLayout::Zk8);
    cfg.faults.reply_delay = Duration::from_millis(60);
    let sim = start(cfg).await;
    for t in BOTH {
        let mut c = ZkClient::connect(
            sim.addr(),
            t,
            ClientOptions {
                comm_key: 0,
                timeout: Duration::from_millis(500),
            },
        )
        .await
        .unwrap();
        assert_eq!(c.attendance().await.unwrap().len(), 200);
    }
}

#[tokio::test]
async fn replies_slower_than_the_timeout_fail_with_a_message_naming_command_and_reader() {
    let sim = start(fixture(5, 20, UserLayout::Zk8)).await;
    for t in BOTH {
        let mut c = ZkClient::connect(
            sim.addr(),
            t,
            ClientOptions {
                comm_key: 0,
                timeout: Duration::from_millis(150),
            },
        )
        .await
        .unwrap();
        sim.set_faults(Faults {
            reply_delay: Duration::from_millis(400),
            ..Faults::default()
        });
        let err = c.get_time().await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ZkError::Timeout { .. }), "{t:?}: {msg}");
        assert!(msg.contains("timed out after 150ms"), "{msg}");
        assert!(msg.contains("CMD_GET_TIME"), "{msg}");
        assert!(msg.contains(&sim.addr().to_string()), "{msg}");
        sim.set_faults(Faults::default());
    }
}

#[tokio::test]
async fn occasionally_dropped_udp_datagrams_are_retried_to_completion() {
    let mut cfg = fixture(30, 5000, UserLayout::Zk8);
    cfg.faults.drop_every_nth_udp = Some(25);
    let sim = start(cfg).await;
    let mut c = ZkClient::connect(
        sim.addr(),
        Transport::Udp,
        ClientOptions {
            comm_key: 0,
            timeout: Duration::from_millis(200),
        },
    )
    .await
    .unwrap();
    let got = c.attendance().await.unwrap();
    assert_eq!(got, expected(&sim.records(), RecordLayout::Full40));
    assert_eq!(c.users().await.unwrap(), sim.users());
    assert!(sim.is_enabled());
}

#[tokio::test]
async fn heavy_udp_loss_ends_in_a_clear_error_not_a_hang() {
    let mut cfg = fixture(30, 5000, UserLayout::Zk8);
    cfg.faults.drop_every_nth_udp = Some(3);
    let sim = start(cfg).await;
    let o = ClientOptions {
        comm_key: 0,
        timeout: Duration::from_millis(100),
    };
    let res = async {
        let mut c = ZkClient::connect(sim.addr(), Transport::Udp, o).await?;
        c.attendance().await
    }
    .await;
    let err = res.unwrap_err();
    assert!(
        matches!(err, ZkError::Timeout { .. } | ZkError::Incomplete { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_reset_mid_transfer_is_an_error_and_the_next_connect_re_enables_the_reader() {
    let sim = start(fixture(10, 20_000, UserLayout::Zk8)).await;
    let mut c = connect(&sim, Transport::Tcp, 0).await;
    sim.set_faults(Faults {
        reset_after_bytes: Some(100_000),
        ..Faults::default()
    });
    let err = c.attendance().await.unwrap_err();
    assert!(
        matches!(err, ZkError::Io { .. } | ZkError::Closed { .. }),
        "{err}"
    );
    assert!(
        !sim.is_enabled(),
        "the reset should leave the reader disabled"
    );
    sim.set_faults(Faults::default());
    let mut again = connect(&sim, Transport::Tcp, 0).await;
    assert!(sim.is_enabled(), "connect must re-enable the reader");
    assert_eq!(again.attendance().await.unwrap().len(), 20_000);
}

#[tokio::test]
async fn garbage_on_tcp_is_a_protocol_error_and_the_connection_is_then_refused_for_use() {
    let sim = start(fixture(5, 100, UserLayout::Zk8)).await;
    let mut c = connect(&sim, Transport::Tcp, 0).await;
    sim.set_faults(Faults {
        garbage_every_nth: Some(1),
        ..Faults::default()
    });
    let err = c.get_time().await.unwrap_err();
    assert!(matches!(err, ZkError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("malformed packet"), "{err}");
    let again = c.get_time().await.unwrap_err();
    assert!(matches!(again, ZkError::Broken { .. }), "{again}");
}

#[tokio::test]
async fn garbage_on_udp_is_treated_as_loss_and_retried() {
    let mut cfg = fixture(5, 2000, UserLayout::Zk8);
    cfg.faults.garbage_every_nth = Some(40);
    let sim = start(cfg).await;
    let mut c = ZkClient::connect(
        sim.addr(),
        Transport::Udp,
        ClientOptions {
            comm_key: 0,
            timeout: Duration::from_millis(200),
        },
    )
    .await
    .unwrap();
    let got = c.attendance().await.unwrap();
    assert_eq!(got.len(), 2000);
}

#[tokio::test]
async fn constant_garbage_on_udp_ends_in_a_timeout() {
    let mut cfg = fixture(1, 1, UserLayout::Zk8);
    cfg.faults.garbage_every_nth = Some(1);
    let sim = start(cfg).await;
    let err = ZkClient::connect(
        sim.addr(),
        Transport::Udp,
        ClientOptions {
            comm_key: 0,
            timeout: Duration::from_millis(100),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ZkError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("CMD_CONNECT"), "{err}");
}

#[tokio::test]
async fn connecting_to_a_closed_tcp_port_is_refused() {
    let sim = start(SimConfig::default()).await;
    let addr = sim.addr();
    sim.shutdown().await;
    let err = ZkClient::connect(addr, Transport::Tcp, opts(0))
        .await
        .unwrap_err();
    assert!(matches!(err, ZkError::Refused { .. }), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

fn with_templates(users: usize, per_user: usize, layout: UserLayout) -> SimConfig {
    let mut cfg = fixture(users, 0, layout);
    cfg.templates = synthetic_templates(&cfg.users, per_user);
    cfg
}

fn template(uid: u16, fid: u8, len: usize) -> FingerTemplate {
    FingerTemplate {
        uid,
        fid,
        valid: 1,
        template: (0..len).map(|i| (i as u8) ^ fid ^ (uid as u8)).collect(),
    }
}

#[tokio::test]
async fn templates_are_read_in_both_user_layouts_on_both_transports() {
    for layout in [UserLayout::Zk6, UserLayout::Zk8] {
        // 40 users x 3 fingers of 600-1100 bytes: several READ_BUFFER chunks on UDP.
        let sim = start(with_templates(40, 3, layout)).await;
        for t in BOTH {
            let mut c = connect(&sim, t, 0).await;
            let got = c.templates().await.unwrap();
            assert_eq!(got.len(), 120);
            assert_eq!(got, sim.templates(), "{layout:?} {t:?}");
            assert_eq!(c.free_sizes().await.unwrap().fingers, 120);
        }
        assert!(sim.is_enabled());
    }
}

#[tokio::test]
async fn a_reader_without_fingerprints_reads_as_no_templates() {
    let sim = start(fixture(3, 0, UserLayout::Zk8)).await;
    for t in BOTH {
        let mut c = connect(&sim, t, 0).await;
        assert!(c.templates().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn saved_templates_are_read_back_identically_and_replace_the_same_finger() {
    for layout in [UserLayout::Zk6, UserLayout::Zk8] {
        for t in BOTH {
            let sim = start(with_templates(2, 1, layout)).await;
            let mut c = connect(&sim, t, 0).await;
            c.users().await.unwrap();
            let mut user = User::new(3, "4711", "Siti");
            user.group = "1".into();
            // 2,500 bytes: three DATA packets in the buffered write.
            let fingers = vec![template(3, 0, 1200), template(3, 6, 1300)];
            c.save_user_templates(&[(user.clone(), fingers.clone())])
                .await
                .unwrap();
            assert!(sim.users().contains(&user), "{layout:?} {t:?}");
            let got = c.templates().await.unwrap();
            assert_eq!(got.len(), 4);
            assert_eq!(got[2..], fingers[..]);
            // Re-enrolling a finger replaces it.
            let again = template(3, 6, 700);
            c.save_user_templates(&[(user.clone(), vec![again.clone()])])
                .await
                .unwrap();
            let got = c.templates().await.unwrap();
            assert_eq!(got.len(), 4);
            assert!(got.contains(&again));
            assert!(c.delete_template(3, 6).await.unwrap());
            assert!(!c.delete_template(3, 6).await.unwrap(), "already gone");
            assert_eq!(c.templates().await.unwrap().len(), 3);
            // Deleting the user deletes their fingers.
            c.delete_user(3).await.unwrap();
            assert_eq!(sim.templates().len(), 2);
            c.disconnect().await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_template_write_survives_lost_udp_datagrams() {
    // Every 13th reply is lost: some uploads (6 datagrams each) lose an acknowledgement and
    // are sent again; none may end up doubled or cut.
    let mut cfg = with_templates(20, 2, UserLayout::Zk8);
    cfg.faults.drop_every_nth_udp = Some(13);
    let sim = start(cfg).await;
    let mut c = ZkClient::connect(
        sim.addr(),
        Transport::Udp,
        ClientOptions {
            comm_key: 0,
            timeout: Duration::from_millis(200),
        },
    )
    .await
    .unwrap();
    let mut written = Vec::new();
    for user in sim.users().into_iter().take(8) {
        let fingers = vec![template(user.uid, 2, 1200), template(user.uid, 3, 1300)];
        c.save_user_templates(&[(user, fingers.clone())])
            .await
            .unwrap();
        written.extend(fingers);
    }
    let got = c.templates().await.unwrap();
    assert_eq!(got, sim.templates());
    assert_eq!(got.len(), 40 + 16);
    assert!(written.iter().all(|f| got.contains(f)));
}

#[tokio::test]
async fn an_oversized_template_is_refused_before_sending() {
    let sim = start(fixture(1, 0, UserLayout::Zk8)).await;
    let mut c = connect(&sim, Transport::Tcp, 0).await;
    let user = sim.users()[0].clone();
    let big = template(user.uid, 1, 9000);
    let err = c
        .save_user_templates(&[(user, vec![big])])
        .await
        .unwrap_err();
    assert!(matches!(err, ZkError::Record { .. }), "{err}");
    assert!(sim.templates().is_empty());
}
