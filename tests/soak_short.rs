//! The soak's short mode (about two minutes) in the test suite: readers and tablets at a
//! morning rush while the gateway is SIGKILLed, the provincial broker flaps, the disk watermark
//! is crossed and a reader's clock is skewed. Nothing acknowledged may be lost or doubled.

use std::process::Command;

#[test]
fn a_short_soak_with_kills_flaps_and_a_full_disk_loses_and_doubles_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_hadir-soak"))
        .arg("--short")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("soak-result: "))
        .and_then(|j| serde_json::from_str(j).ok())
        .expect("a soak-result line");
    assert_eq!(result["lost"], 0);
    assert_eq!(result["duplicated"], 0);
    assert!(result["gateway_starts"].as_u64().unwrap() >= 3, "{result}");
    assert!(result["reader_punches"].as_u64().unwrap() > 50, "{result}");
    assert!(result["checkins_acked"].as_u64().unwrap() > 50, "{result}");
    assert!(
        result["refused_during_watermark"].as_u64().unwrap() > 0,
        "{result}"
    );
    assert_eq!(result["acknowledged"], result["received_once"]);
}
