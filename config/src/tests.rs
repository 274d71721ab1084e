use super::*;

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, "test.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    }
}

fn find<'a>(ps: &'a [Problem], path: &str) -> &'a Problem {
    ps.iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}; got {ps:#?}"))
}

#[test]
fn an_empty_file_is_the_embedded_default() {
    let c = parse("", "empty").unwrap();
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.storage.data_dir, std::path::PathBuf::from("./hadir-data"));
    assert!(c.devices.is_empty());
}

#[test]
fn the_packaged_example_config_parses_and_sets_every_section() {
    let text = include_str!("../../packaging/hadir.toml");
    let c = parse(text, "packaging/hadir.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.office.timezone, "Asia/Makassar");
    assert!(!c.office.sites.is_empty());
    assert!(c.office.sites.iter().all(|s| s.radius_m > 0.0));
}

#[test]
fn a_site_without_radius_gets_fifty_metres() {
    let c = parse(
        "[office]\nid = \"x\"\ntimezone = \"Asia/Jakarta\"\n[[office.sites]]\nlatitude = -6.2\nlongitude = 106.8\n",
        "t",
    )
    .unwrap();
    assert_eq!(c.office.sites[0].radius_m, DEFAULT_RADIUS_M);
}

#[test]
fn a_negative_radius_is_named_with_its_path_and_line() {
    let ps = problems(
        "[office]\nid = \"x\"\n\n[[office.sites]]\nlatitude = 1.0\nlongitude = 2.0\nradius_m = -5\n",
    );
    let p = find(&ps, "office.sites[0].radius_m");
    assert_eq!(p.line, Some(7));
    assert!(p.message.contains("-5"), "{}", p.message);
}

#[test]
fn an_unknown_timezone_is_rejected_with_a_suggestion() {
    let ps = problems("[office]\ntimezone = \"Asia/Samarinda\"\n");
    let p = find(&ps, "office.timezone");
    assert_eq!(p.line, Some(2));
    assert!(p.message.contains("Asia/Makassar"));
}

#[test]
fn unknown_keys_are_errors_at_every_level() {
    let ps = problems(
        "colour = 1\n[office]\nnmae = \"typo\"\n[[devices]]\nname = \"a\"\naddress = \"10.0.0.2\"\nport = 4370\n",
    );
    assert_eq!(find(&ps, "colour").line, Some(1));
    assert_eq!(find(&ps, "office.nmae").line, Some(3));
    assert_eq!(find(&ps, "devices[0].port").line, Some(7));
}

#[test]
fn a_bad_type_is_named_and_other_sections_are_still_checked() {
    let ps = problems(
        "[storage]\nmin_free_mb = \"lots\"\n[office]\ntimezone = \"Mars/Olympus\"\n[[office.sites]]\nlatitude = 1.0\nlongitude = 2.0\nradius_m = -5\n",
    );
    let p = find(&ps, "storage.min_free_mb");
    assert_eq!(p.line, Some(2));
    assert!(p.message.contains("invalid type"), "{}", p.message);
    find(&ps, "office.timezone");
    find(&ps, "office.sites[0].radius_m");
}

#[test]
fn a_syntax_error_reports_its_line() {
    let ps = problems("[office]\nid = \"x\"\nname = \n");
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].line, Some(3));
    assert!(ps[0].message.contains("TOML"));
}

#[test]
fn readers_need_an_address_or_serial_by_kind() {
    let ps = problems(
        "[[devices]]\nname = \"pintu\"\nkind = \"zk-pull\"\n[[devices]]\nname = \"lobi\"\nkind = \"zk-push\"\n",
    );
    find(&ps, "devices[0].address");
    find(&ps, "devices[1].serial");
}

#[test]
fn an_unknown_device_kind_lists_the_choices() {
    let ps = problems("[[devices]]\nname = \"a\"\nkind = \"zk-magic\"\n");
    let p = find(&ps, "devices[0].kind");
    assert!(p.message.contains("zk-pull"), "{}", p.message);
}

#[test]
fn upstream_mode_needs_a_matching_url() {
    let ps = problems("[upstream]\nmode = \"mqtt\"\nurl = \"https://prov\"\n");
    find(&ps, "upstream.url");
}

#[test]
fn a_missing_secret_file_is_reported() {
    let ps = problems("[upstream]\npassword_file = \"/nonexistent/hadir-secret\"\n");
    let p = find(&ps, "upstream.password_file");
    assert!(p.message.contains("/nonexistent/hadir-secret"));
}

#[test]
fn problems_render_with_line_and_path() {
    let e = parse("[office]\nradius = 1\n", "hadir.toml").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("hadir.toml"), "{text}");
    assert!(
        text.contains("line 2: office.radius: unknown key"),
        "{text}"
    );
}

#[test]
fn face_verification_is_off_by_default_and_describes_the_reference_models() {
    let c = parse("", "empty").unwrap();
    assert!(!c.face.enabled());
    assert_eq!(c.face.detector.strides, [16, 32]);
    assert_eq!(c.face.embedder.channels, ChannelOrder::Bgr);
    assert_eq!(c.storage.photo_retention_days, 30);
    assert_eq!(c.storage.photo_retention_accepted_days, 0);
}

#[test]
fn one_face_model_without_the_other_and_a_band_above_the_threshold_are_named() {
    let dir = std::env::temp_dir();
    let ps = problems(&format!(
        "[face]\ndetector_model = \"{}\"\nmatch_threshold = 0.5\nuncertain_band = 0.6\n\
         [face.detector]\nstrides = [16, 30]\nanchors_per_cell = [2]\n",
        dir.display()
    ));
    assert!(find(&ps, "face.embedder_model")
        .message
        .contains("both models"));
    assert!(find(&ps, "face.detector_model")
        .message
        .contains("not a file"));
    assert!(find(&ps, "face.uncertain_band").message.contains("below"));
    assert!(find(&ps, "face.detector.strides")
        .message
        .contains("divide"));
    assert!(find(&ps, "face.detector.anchors_per_cell")
        .message
        .contains("one entry"));
}

#[test]
fn a_face_section_for_an_nchw_rgb_model_parses() {
    let model = std::env::current_exe().unwrap();
    let c = parse(
        &format!(
            "[face]\ndetector_model = \"{m}\"\nembedder_model = \"{m}\"\nworkers = 2\n\
             [face.embedder]\ninput_size = 112\nlayout = \"nchw\"\nchannels = \"rgb\"\n\
             mean = [127.5, 127.5, 127.5]\nstd = [128.0, 128.0, 128.0]\noutput = \"fc1\"\nalign = true\n",
            m = model.display()
        ),
        "t",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.face.enabled());
    assert_eq!(c.face.embedder.layout, TensorLayout::Nchw);
    assert_eq!(c.face.embedder.output.as_deref(), Some("fc1"));
    assert_eq!(c.face.workers, 2);
}

#[test]
fn push_readers_get_a_loopback_listener_by_default_and_bad_push_values_are_reported() {
    let c = parse("", "empty").unwrap();
    assert!(c.push.enabled);
    assert_eq!(c.push.listen.to_string(), "127.0.0.1:8081");
    assert!(c.roster_sync.enabled && !c.roster_sync.prune_unknown_users);
    let ps = problems(
        "[admin]\nlisten = \"127.0.0.1:9000\"\n[push]\nlisten = \"127.0.0.1:9000\"\ndelay_s = 0\nmax_body_kb = 1\nbogus = 1\n[roster_sync]\ninterval_s = 0\n",
    );
    find(&ps, "push.listen");
    find(&ps, "push.delay_s");
    find(&ps, "push.max_body_kb");
    find(&ps, "push.bogus");
    find(&ps, "roster_sync.interval_s");
}
