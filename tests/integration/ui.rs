//! The terminal UI on ratatui's `TestBackend`: snapshots (insta) of the main board and every
//! view on the project's own fixtures, robustness on hostile sizes and data, GeoIP lookups on
//! MaxMind's test databases.

use crate::{corpus, fixtures};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use kalipso::ui::keys::Action;
use kalipso::ui::{App, draw, geo::Geo};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// One frame drawn on a `w`×`h` test terminal, fed back to the update step as the UI loop does.
fn drawn(app: &mut App<'_>, w: u16, h: u16) -> ratatui::buffer::Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    let mut shown = draw::Viewport::default();
    t.draw(|f| shown = draw::frame(f, app))
        .unwrap_or_else(|e| panic!("{e}"));
    app.update(Action::Drawn(shown));
    t.backend().buffer().clone()
}

fn screen(app: &mut App<'_>, w: u16, h: u16) -> String {
    let buf = drawn(app, w, h);
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn press(app: &mut App<'_>, c: KeyCode) {
    app.event(&Event::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn analysis(rel: &str) -> kalipso::Analysis {
    kalipso::analyze(&kalipso::Options::new([fixtures::path(rel)]))
}

#[test]
fn main_board_and_every_view_snapshots() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    let main = screen(&mut app, 140, 34);
    assert!(main.contains("Timeline: 192.168.1.10 timewindow"), "{main}");
    assert!(
        main.contains("Query:"),
        "interpretation rows are shown:\n{main}"
    );
    insta::assert_snapshot!("main_board", main);
    for (key, name, must) in [
        ('e', "src_ports_client", "SrcPortsClient Established"),
        ('c', "dst_ips_client", "DstIPsClient Not Established"),
        ('b', "dst_ports_server", "DstPortsServer Established"),
        ('p', "dst_ports_client", "DstPortsClient Established"),
        ('n', "dst_port_ips_client", "DstPortsClient × IP"),
        ('h', "out_tuples", "OutTuples"),
        ('i', "in_tuples", "InTuples"),
        ('m', "world_map", "World map"),
        ('z', "profile_evidence", "Evidences"),
        ('v', "overview", "Suspects: 1 profile(s) with evidence"),
        ('?', "help", "Help: kalipso keys"),
    ] {
        press(&mut app, KeyCode::Char(key));
        let s = screen(&mut app, 140, 34);
        assert!(s.contains(must), "{key}: {must} missing:\n{s}");
        insta::assert_snapshot!(name, s);
        press(&mut app, KeyCode::Esc);
    }
    let back = screen(&mut app, 140, 34);
    assert_eq!(back, main, "Esc returns to the same main board");
}

#[test]
fn navigation_opens_windows_filters_and_copies() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    // type-to-filter in the tree
    for c in "192.168.1.20".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    let s = screen(&mut app, 120, 30);
    assert!(s.contains("IPs /192.168.1.20"), "{s}");
    assert!(!s.contains("▸ 192.168.1.10"), "other profiles hidden:\n{s}");
    press(&mut app, KeyCode::Esc);
    assert!(app.tree.filter.is_empty(), "Esc clears the filter");
    // search by port: the profiles that talked to port 23
    press(&mut app, KeyCode::Char('/'));
    for c in "23".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert!(app.status.contains("profile(s)"), "{}", app.status);
    let ips: Vec<String> = app
        .tree
        .rows()
        .iter()
        .filter_map(|r| match r {
            kalipso::ui::tree::Row::Profile(i) => Some(app.tree.nodes[*i].ip.to_string()),
            kalipso::ui::tree::Row::Window(..) => None,
        })
        .collect();
    assert_eq!(ips, ["192.168.1.10"], "only the telnet scanner");
    // timeline focus, move, copy the row's IP with OSC 52
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.hscroll, 20, "the timeline scrolls sideways");
    let s = screen(&mut app, 80, 24);
    assert!(
        !s.contains("2023/11/14 22:13:20.000000"),
        "the timestamps scrolled out:\n{s}"
    );
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Char('w'));
    let osc = app.pending_osc.clone().unwrap_or_default();
    assert!(
        osc.starts_with("\x1b]52;c;") && osc.ends_with('\x07'),
        "{osc:?}"
    );
    assert!(app.status.starts_with("sent "), "{}", app.status);
    assert!(
        app.status.contains("not every terminal accepts it"),
        "{}",
        app.status
    );
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn tiny_terminals_huge_tuples_and_many_profiles_do_not_break() {
    // a capture with a long beacon tuple, every view at 40×12 and 20×5
    let analysis = analysis("pcap/office-mix.pcap");
    let mut app = App::new(&analysis, Geo::default());
    for key in ['e', 'c', 'b', 'p', 'n', 'h', 'i', 'm', 'z', '?'] {
        press(&mut app, KeyCode::Char(key));
        for (w, h) in [(40, 12), (20, 5), (1, 1)] {
            let _ = screen(&mut app, w, h);
        }
        for _ in 0..50 {
            press(&mut app, KeyCode::Down);
        }
        press(&mut app, KeyCode::End);
        let _ = screen(&mut app, 40, 12);
        press(&mut app, KeyCode::Esc);
    }
    let s = screen(&mut app, 40, 12);
    assert!(s.contains("IPs"), "{s}");

    // 100,000 profiles: the tree draws only what fits
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("conn.log");
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}")));
    kalipso::generate::conn_log(&mut w, 100_000, 100_000, 1, 3).unwrap_or_else(|e| panic!("{e}"));
    drop(w);
    let big = kalipso::analyze(&kalipso::Options::new([log]));
    assert!(
        big.store.profiles.len() >= 50_000,
        "{}",
        big.store.profiles.len()
    );
    let mut app = App::new(&big, Geo::default());
    let s = screen(&mut app, 100, 30);
    assert!(
        s.contains(&format!("IPs ({}, ", big.store.profiles.len())),
        "{s}"
    );
    press(&mut app, KeyCode::End);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("IPs"), "{s}");
}

#[test]
fn a_ten_thousand_letter_tuple_is_cut_to_the_screen() {
    use kalipso::profile::{Letters, Tuple};
    let mut analysis = analysis("zeek/home-office-tsv");
    let (ip, n) = {
        let p = analysis
            .store
            .profiles
            .values()
            .next()
            .unwrap_or_else(|| panic!("a profile"));
        (p.ip, *p.windows.keys().next().unwrap_or(&0))
    };
    if let Some(w) = analysis
        .store
        .profiles
        .get_mut(&ip)
        .and_then(|p| p.windows.get_mut(&n))
    {
        if w.out_tuples.is_empty() {
            w.out_tuples.push(Tuple {
                remote: ip,
                port: 80,
                proto: kalipso::record::Proto::Tcp,
                letters: Letters::default(),
                flows: 5_000,
            });
        }
        w.set_letters(false, 0, &"a.".repeat(5_000));
    }
    let mut app = App::new(&analysis, Geo::default());
    app.select_window(ip, n);
    press(&mut app, KeyCode::Char('h'));
    let s = screen(&mut app, 120, 20);
    assert!(s.contains("(10000 letters)"), "{s}");
}

#[test]
fn the_embedded_registry_data_gives_a_country_without_any_database() {
    let geo = Geo::default();
    assert!(geo.is_empty());
    let ip = |s: &str| s.parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(geo.place(ip("8.8.8.8")).country, "US");
    assert_eq!(geo.place(ip("1.0.16.1")).country, "JP");
    assert_eq!(geo.place(ip("10.1.2.3")).country, "private");
    assert_eq!(geo.place(ip("224.0.0.251")).country, "reserved");
}

#[test]
fn geoip_from_maxmind_test_databases() {
    let Some(dir) = corpus::path("maxmind-test-mmdb") else {
        return;
    };
    let geo = Geo::open(&[
        dir.join("GeoIP2-City-Test.mmdb"),
        dir.join("GeoLite2-ASN-Test.mmdb"),
        dir.join("SOURCE.md"),
    ]);
    assert_eq!(geo.loaded.len(), 2, "{:?}", geo.loaded);
    assert_eq!(
        geo.warnings.len(),
        1,
        "a file that is not a database is a warning"
    );
    assert!(geo.warnings[0].contains("SOURCE.md"), "{:?}", geo.warnings);
    let london = geo.place("81.2.69.142".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        (london.country.as_str(), london.city.as_str()),
        ("GB", "London")
    );
    assert!(london.coords.is_some());
    let telstra = geo.place("1.128.0.0".parse().unwrap_or_else(|e| panic!("{e}")));
    assert!(telstra.asn.starts_with("AS1221"), "{telstra:?}");
    let private = geo.place("192.168.1.10".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(private.country, "private", "never looked up");
    assert_eq!(
        draw::place_text(&london),
        format!(
            "GB London {}",
            if london.asn.is_empty() {
                "-"
            } else {
                &london.asn
            }
        )
    );
}

#[test]
fn the_map_places_a_country_without_a_city_database() {
    let t = std::time::Instant::now();
    let us = kalipso::ui::geo::country_point("us").unwrap_or_else(|| panic!("US"));
    eprintln!("country points loaded in {:?}", t.elapsed());
    // Washington, D.C.
    assert!(
        (us.0 - 38.9).abs() < 1.0 && (us.1 + 77.0).abs() < 1.0,
        "{us:?}"
    );
    let jp = kalipso::ui::geo::country_point("JP").unwrap_or_else(|| panic!("JP"));
    assert!(
        (jp.0 - 35.7).abs() < 1.0 && (jp.1 - 139.7).abs() < 1.0,
        "{jp:?}"
    );
    assert!(kalipso::ui::geo::country_point("XX").is_none());
    let geo = Geo::default();
    let p = geo.place("8.8.8.8".parse().unwrap_or_else(|e| panic!("{e}")));
    assert!(p.approximate && p.coords.is_some(), "{p:?}");
}

#[test]
fn r12_the_ui_opens_on_the_top_suspect_with_its_evidence_grouped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("conn.log");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(["generate", "--realistic", "--lines", "60000", "--out"])
        .arg(&log)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let analysis = kalipso::analyze(&kalipso::Options::new([log]));
    let top = kalipso::detect::rank::triage_order(&analysis.detections.ranking)
        .first()
        .map_or_else(
            || panic!("no suspect"),
            |s| (s.ip, s.worst_window, s.alerts),
        );
    assert!(top.2 > 0, "the generated traffic raises alerts");
    let mut app = App::new(&analysis, Geo::default());
    // with alerts, the overview is the landing screen; Enter opens the top suspect's worst window
    assert_eq!(app.view, kalipso::ui::keys::View::Overview);
    let s = screen(&mut app, 160, 60);
    for section in [
        "Suspects: ",
        "Home hosts attacked from outside: ",
        "Beacons: ",
        "Top talkers",
        "Threat intelligence",
    ] {
        assert!(s.contains(section), "{section} in\n{s}");
    }
    assert!(s.contains(&format!("{:<39} score", top.0)), "{s}");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, kalipso::ui::keys::View::Main);
    assert_eq!(
        app.window,
        Some((top.0, top.1)),
        "opens on the worst window"
    );
    assert_eq!(app.tree.current_ip(), Some(top.0));
    let s = screen(&mut app, 160, 48);
    let alerted = analysis
        .detections
        .ranking
        .iter()
        .filter(|r| r.alerts > 0)
        .count();
    assert!(
        s.contains(&format!(
            "IPs ({}, {alerted} alerted)",
            app.tree.nodes.len()
        )),
        "{s}"
    );
    assert!(s.contains(&format!("{} ⚑{}", top.0, top.2)), "{s}");
    // alerts, focus and selection are marked without colour too
    for (depth, tag) in [
        (kalipso::ui::palette::Depth::Indexed, "colour"),
        (kalipso::ui::palette::Depth::None, "no_colour"),
    ] {
        app.depth = depth;
        let styled = styled_screen(&mut app, 160, 48);
        assert!(
            styled.contains("⚑") && styled.contains("reversed"),
            "{styled}"
        );
        insta::assert_snapshot!(format!("styled_alerted_main_160x48_{tag}"), styled);
    }
    app.depth = kalipso::ui::palette::Depth::default();
    // repeats are one row per kind, with their targets
    assert!(s.contains(" ▸ ") && s.contains("targets: "), "{s}");
    assert!(s.contains("by score (o)"), "{s}");
    let groups = app.evidence.rows().len();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, kalipso::ui::Focus::Evidence);
    let grouped = app
        .evidence
        .groups
        .iter()
        .position(|g| g.members.len() > 1)
        .unwrap_or_else(|| panic!("no group of repeats"));
    for _ in 0..grouped {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    assert!(app.evidence.rows().len() > groups, "Enter opens the group");
    press(&mut app, KeyCode::Char('G'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.evidence.selected, app.evidence.rows().len() - 1);
    // Enter on a member shows its flow in the timeline
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.focus, kalipso::ui::Focus::Timeline, "{}", app.status);
    // 'o' cycles the tree's order
    press(&mut app, KeyCode::Esc);
    app.focus = kalipso::ui::Focus::Tree;
    press(&mut app, KeyCode::Char('o'));
    assert_eq!(app.tree.order, kalipso::ui::tree::Order::Alerts);
}

#[test]
fn r12_search_finds_prefixes_uris_and_kinds_and_walks_the_matches() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    let search = |app: &mut App<'_>, q: &str| {
        press(app, KeyCode::Char('/'));
        for c in q.chars() {
            press(app, KeyCode::Char(c));
        }
        press(app, KeyCode::Enter);
    };
    search(&mut app, "198.51.100");
    assert!(app.status.contains("1 profile(s)"), "{}", app.status);
    let s = screen(&mut app, 140, 34);
    assert!(s.contains("192.168.1.10"), "{s}");
    // the timeline's cursor is on the first matching flow
    let flow = app.cursor_flow().unwrap_or(u32::MAX);
    let c = &analysis.store.conns[flow as usize];
    assert!(c.resp_h.to_string().starts_with("198.51.100."), "{c:?}");
    press(&mut app, KeyCode::Esc);
    search(&mut app, "index.html");
    assert!(!app.hits.is_empty(), "{}", app.status);
    press(&mut app, KeyCode::Esc);
    search(&mut app, "22");
    assert_eq!(app.hits.len(), 2, "{}", app.status);
    // the server's side of the SSH flows: incoming flows say so without colour
    let s = screen(&mut app, 140, 34);
    assert!(s.contains("IN<-[10.0.0.5]"), "{s}");
    let first = app.window;
    press(&mut app, KeyCode::Char(']'));
    assert_ne!(app.window, first, "] shows the next match");
    press(&mut app, KeyCode::Char('['));
    assert_eq!(app.window, first, "[ goes back");
    assert!(app.status.contains("match 1 of 2"), "{}", app.status);
}

#[test]
fn r12_tuples_sort_by_beacon_score_copy_the_row_ip_and_drill_into_its_flows() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    press(&mut app, KeyCode::Char('h'));
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.tuple_order, kalipso::ui::tuple_rows::TupleOrder::Beacon);
    let s = screen(&mut app, 160, 30);
    assert!(s.contains("by beacon score"), "{s}");
    // the beaconing tuple comes first, selected
    let first_row = s
        .lines()
        .find(|l| l.contains("-tcp") || l.contains("-udp"))
        .unwrap_or_default();
    assert!(first_row.contains("203.0.113.7-443-tcp"), "{s}");
    press(&mut app, KeyCode::Char('w'));
    assert!(app.status.contains("203.0.113.7"), "{}", app.status);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, kalipso::ui::keys::View::Main);
    assert_eq!(app.focus, kalipso::ui::Focus::Timeline);
    let flow = app.cursor_flow().unwrap_or(u32::MAX);
    let c = &analysis.store.conns[flow as usize];
    assert_eq!(
        (c.resp_h.to_string().as_str(), c.resp_p),
        ("203.0.113.7", 443)
    );
}

#[test]
fn r12_two_list_tables_sort_copy_and_drill_into_a_peer() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    press(&mut app, KeyCode::Char('c'));
    // by flows: 203.0.113.7 has 8 of the window's established flows
    press(&mut app, KeyCode::Char('s'));
    assert!(app.status.contains("by flows"), "{}", app.status);
    let s = screen(&mut app, 160, 30);
    let first = s
        .lines()
        .find(|l| l.contains("TCP/") || l.contains("UDP/"))
        .unwrap_or_default();
    assert!(first.contains("TCP/203.0.113.7"), "{s}");
    assert!(s.contains("1.6 kB"), "readable bytes:\n{s}");
    press(&mut app, KeyCode::Char('x'));
    let s = screen(&mut app, 160, 30);
    assert!(!s.contains("1.6 kB"), "exact bytes:\n{s}");
    press(&mut app, KeyCode::Char('w'));
    assert!(app.status.contains("203.0.113.7"), "{}", app.status);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, kalipso::ui::keys::View::Main);
    let flow = app.cursor_flow().unwrap_or(u32::MAX);
    assert_eq!(
        analysis.store.conns[flow as usize].resp_h.to_string(),
        "203.0.113.7"
    );
}

#[test]
fn r12_small_and_large_terminals_keep_what_matters() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    let small = screen(&mut app, 80, 24);
    // the IP box keeps its IP, the bar keeps help and quit
    assert!(small.contains("192.168.1.10     -"), "{small}");
    assert!(small.contains("?:help q:quit"), "{small}");
    insta::assert_snapshot!("main_board_80x24", small);
    press(&mut app, KeyCode::Char('h'));
    let tuples = screen(&mut app, 80, 24);
    assert!(tuples.contains("203.0.113.7-443-tcp"), "{tuples}");
    assert!(tuples.contains("11,a,a,a,a,a,a,"), "{tuples}");
    insta::assert_snapshot!("out_tuples_80x24", tuples);
    press(&mut app, KeyCode::Esc);
    let large = screen(&mut app, 200, 50);
    insta::assert_snapshot!("main_board_200x50", large);
}

#[test]
fn r12_arp_records_appear_in_the_timeline() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = fixtures::path("zeek/home-office-tsv");
    for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{e}")) {
        let p = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if let Some(name) = p.file_name() {
            std::fs::copy(&p, dir.path().join(name)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    std::fs::write(
        dir.path().join("arp.log"),
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tarp\n\
         #fields\tts\toperation\tsrc_mac\tdst_mac\torig_h\tresp_h\torig_hw\tresp_hw\n\
         #types\ttime\tstring\tstring\tstring\taddr\taddr\tstring\tstring\n\
         1700000005.000000\trequest\taa:bb:cc:dd:ee:ff\tff:ff:ff:ff:ff:ff\t192.168.1.10\t192.168.1.1\taa:bb:cc:dd:ee:ff\t00:00:00:00:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let analysis = kalipso::analyze(&kalipso::Options::new([dir.path()]));
    let mut app = App::new(&analysis, Geo::default());
    let s = screen(&mut app, 160, 40);
    let arp = s
        .lines()
        .find(|l| l.contains("ARP request"))
        .unwrap_or_else(|| panic!("no ARP line:\n{s}"));
    assert!(arp.contains("2023/11/14 22:13:25"), "{arp}");
    assert!(
        arp.contains("[192.168.1.1]") && arp.contains("ff:ff:ff:ff:ff:ff"),
        "{arp}"
    );
    // it sits between the flows of 22:13:21 and 22:13:30
    let at = |needle: &str| s.lines().position(|l| l.contains(needle));
    assert!(at("22:13:21.000000") < at("ARP request"), "{s}");
    assert!(at("ARP request") < at("22:13:30.000000"), "{s}");
}

#[test]
fn r12_a_table_row_cursor_moves_inside_the_page_and_enter_narrows_the_timeline() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    let whole = app.timeline_len();
    press(&mut app, KeyCode::Char('h'));
    screen(&mut app, 160, 40);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let s = screen(&mut app, 160, 40);
    assert_eq!(app.row, 2);
    assert_eq!(
        app.scroll, 0,
        "the page does not move while the row is on it"
    );
    assert!(s.contains("15 tuples, row 3"), "{s}");
    let third = kalipso::ui::tuple_rows::get(&app, false, 2).map_or_else(
        || panic!("no third tuple"),
        |t| (t.remote, t.port, t.proto, t.key()),
    );
    // the first tuple is still on screen, above the selection
    let first = kalipso::ui::tuple_rows::get(&app, false, 0)
        .map(kalipso::profile::Tuple::key)
        .unwrap_or_default();
    assert!(s.contains(&first), "{s}");
    press(&mut app, KeyCode::Char('w'));
    assert!(
        app.status.contains(&third.0.to_string()),
        "w copies the selected row's IP: {}",
        app.status
    );
    // Enter narrows the timeline to that tuple's flows, Esc brings the whole one back
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, kalipso::ui::keys::View::Main);
    assert_eq!(app.focus, kalipso::ui::Focus::Timeline);
    let flows: Vec<u32> = (0..app.timeline_len())
        .filter_map(|i| {
            app.cursor = i;
            app.cursor_flow()
        })
        .collect();
    assert!(!flows.is_empty() && app.timeline_len() < whole);
    for f in &flows {
        let c = &analysis.store.conns[*f as usize];
        assert_eq!((c.resp_h, c.resp_p, c.proto), (third.0, third.1, third.2));
    }
    app.cursor = app.timeline_len() - 1;
    let on = app.cursor_flow();
    let s = screen(&mut app, 160, 40);
    assert!(s.contains(&format!("only {}", third.3)), "{s}");
    assert!(s.contains("Esc shows all"), "{s}");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.timeline_len(), whole, "Esc shows the whole timeline");
    assert_eq!(app.cursor_flow(), on, "on the flow the cursor was on");
    assert_eq!(app.view, kalipso::ui::keys::View::Main);
    // End and Home move the selection of a two-list table
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::End);
    let s = screen(&mut app, 160, 24);
    assert!(s.contains("(10 rows, 2–10, row 10;"), "{s}");
    assert!(app.scroll > 0, "the page followed the selection to the end");
    press(&mut app, KeyCode::Home);
    screen(&mut app, 160, 24);
    assert_eq!((app.row, app.scroll), (0, 0));
}

#[test]
fn r12_ipv6_peers_are_never_cut_in_the_tables() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let peer = "2001:db8:ffff:ffff:ffff:ffff:ffff:1234";
    std::fs::write(
        dir.path().join("conn.log"),
        format!(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
             #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
             #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n\
             1700000000.000000\tC1\t2001:db8::10\t50001\t{peer}\t443\ttcp\tssl\t1.0\t100\t2000\tSF\t-\t-\t0\tShADadFf\t10\t600\t10\t2600\t(empty)\n\
             1700000001.000000\tC2\t{peer}\t50002\t2001:db8::10\t22\ttcp\tssh\t1.0\t100\t2000\tSF\t-\t-\t0\tShADadFf\t10\t600\t10\t2600\t(empty)\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let analysis = kalipso::analyze(&kalipso::Options::new([dir.path()]));
    let mut app = App::new(&analysis, Geo::default());
    // the tree widens for an IPv6 profile
    for w in [80, 200] {
        let s = screen(&mut app, w, 24);
        assert!(s.contains(&format!("▸ {peer}")), "{s}");
    }
    for (key, text) in [
        ('c', format!("TCP/{peer}")),
        ('n', peer.to_string()),
        ('h', format!("{peer}-443-tcp")),
    ] {
        press(&mut app, KeyCode::Char(key));
        for w in [80, 200] {
            let s = screen(&mut app, w, 24);
            assert!(s.contains(&text), "{key} at {w} columns:\n{s}");
        }
        press(&mut app, KeyCode::Esc);
    }
}

/// The screen with its styles: `⟦…⟧` opens where the foreground, background or modifiers
/// change along a line (`⟦⟧` back to none), so a snapshot shows what colour and emphasis mark.
fn styled_screen(app: &mut App<'_>, w: u16, h: u16) -> String {
    let buf = drawn(app, w, h);
    let plain = ratatui::style::Style::default();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut last = plain;
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let style = c.style();
            let reset =
                |c: Option<ratatui::style::Color>| c.filter(|c| *c != ratatui::style::Color::Reset);
            let style = ratatui::style::Style {
                fg: reset(style.fg),
                bg: reset(style.bg),
                underline_color: None,
                sub_modifier: ratatui::style::Modifier::empty(),
                ..style
            };
            if style != last {
                let mut parts = Vec::new();
                if let Some(fg) = style.fg {
                    parts.push(format!("fg {fg}"));
                }
                if let Some(bg) = style.bg {
                    parts.push(format!("bg {bg}"));
                }
                if !style.add_modifier.is_empty() {
                    parts.push(format!("{:?}", style.add_modifier).to_lowercase());
                }
                line.push('⟦');
                line.push_str(&parts.join(" "));
                line.push('⟧');
                last = style;
            }
            line.push_str(c.symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn r12_styled_snapshots_with_and_without_colour() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    for (depth, tag) in [
        (kalipso::ui::palette::Depth::Indexed, "colour"),
        (kalipso::ui::palette::Depth::None, "no_colour"),
    ] {
        app.depth = depth;
        let mut shots = Vec::new();
        for size in [(80, 24), (200, 50)] {
            shots.push((format!("main_{}x{}", size.0, size.1), None, size));
        }
        shots.push(("overview_200x50".into(), Some(vec!['v']), (200, 50)));
        shots.push(("overview_80x24".into(), Some(vec!['v']), (80, 24)));
        shots.push((
            "out_tuples_by_beacon_80x24".into(),
            Some(vec!['h', 's', 's']),
            (80, 24),
        ));
        shots.push((
            "dst_ips_by_flows_200x50".into(),
            Some(vec!['c', 's']),
            (200, 50),
        ));
        shots.push((
            "dst_ips_by_flows_80x24".into(),
            Some(vec!['c', 's']),
            (80, 24),
        ));
        shots.push((
            "out_tuples_by_beacon_200x50".into(),
            Some(vec!['h', 's', 's']),
            (200, 50),
        ));
        shots.push(("profile_evidence_80x24".into(), Some(vec!['z']), (80, 24)));
        shots.push(("profile_evidence_200x50".into(), Some(vec!['z']), (200, 50)));
        for (name, keys, (w, h)) in shots {
            for k in keys.iter().flatten() {
                press(&mut app, KeyCode::Char(*k));
            }
            let s = styled_screen(&mut app, w, h);
            if depth == kalipso::ui::palette::Depth::None {
                assert!(
                    !s.contains("fg ") && !s.contains("bg "),
                    "{name}: colour in\n{s}"
                );
                // focus and selection still show (the z view has no selection)
                let selects = !name.starts_with("profile_evidence");
                assert!(
                    s.contains('╔') && (!selects || s.contains("reversed")),
                    "{name}:\n{s}"
                );
            } else {
                assert!(s.contains("fg "), "{name}: no colour in\n{s}");
                assert!(!s.contains("Rgb("), "{name}: 24-bit colour at 256 colours");
            }
            insta::assert_snapshot!(format!("styled_{name}_{tag}"), s);
            // back to the board, the tables' order as it was
            app.tuple_order = kalipso::ui::tuple_rows::TupleOrder::default();
            app.list_order = kalipso::ui::lists::ListOrder::default();
            press(&mut app, KeyCode::Esc);
        }
    }
}

#[test]
fn r12_every_column_sorts_addresses_and_ports_as_numbers() {
    let analysis = analysis("zeek/home-office-tsv");
    let mut app = App::new(&analysis, Geo::default());
    // n: port × IP; s cycles packets, port, IP
    press(&mut app, KeyCode::Char('n'));
    let mut names = Vec::new();
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('s'));
        names.push(app.status.clone());
    }
    assert_eq!(
        names,
        [
            "rows by packets",
            "rows by port",
            "rows by IP",
            "rows by protocol, then size"
        ]
    );
    press(&mut app, KeyCode::Esc);
    // e: source ports by port number, not as text
    press(&mut app, KeyCode::Char('e'));
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.status, "rows by port");
    let s = screen(&mut app, 160, 50);
    let ports: Vec<(String, u16)> = s
        .lines()
        .take_while(|l| !l.contains("Not Established"))
        .filter_map(|l| {
            let cell = l.trim_start_matches('║').split_whitespace().next()?;
            let (proto, port) = cell.split_once('/')?;
            Some((proto.to_string(), port.parse().ok()?))
        })
        .collect();
    assert!(ports.len() > 2, "{s}");
    let mut sorted = ports.clone();
    sorted.sort();
    assert_eq!(ports, sorted, "{s}");
    press(&mut app, KeyCode::Esc);
    // h: by peer
    press(&mut app, KeyCode::Char('h'));
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.tuple_order, kalipso::ui::tuple_rows::TupleOrder::Peer);
    screen(&mut app, 160, 50);
    let peers: Vec<(std::net::IpAddr, u16)> = (0..15)
        .filter_map(|i| kalipso::ui::tuple_rows::get(&app, false, i).map(|t| (t.remote, t.port)))
        .collect();
    assert_eq!(peers.len(), 15);
    assert!(peers.windows(2).all(|w| w[0] <= w[1]), "{peers:?}");
}

/// A host that DHCP named shows its host name in the tree and its host name and MAC in the IP
/// box (`zeek-btest` `dhcp/dhcp.pcap`).
#[test]
fn the_dhcp_host_name_and_mac_are_shown() {
    let Some(pcap) = corpus::path("zeek-btest/Traces/dhcp/dhcp.pcap") else {
        return;
    };
    let analysis = kalipso::analyze(&kalipso::Options::new([pcap]));
    let mut app = App::new(&analysis, Geo::default());
    let first = screen(&mut app, 160, 40);
    assert!(
        first
            .lines()
            .any(|l| l.contains("128.2.6.97") && l.contains("btest.is.cool")),
        "the tree names the host:\n{first}"
    );
    let mut seen = false;
    for _ in 0..8 {
        let s = screen(&mut app, 160, 40);
        if s.contains("MAC") && s.contains("90:b1:1c:99:49:29") {
            seen = true;
            break;
        }
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Enter);
    }
    let last = screen(&mut app, 160, 40);
    assert!(
        seen,
        "the IP box shows the MAC of the DHCP client:\n{first}\n{last}"
    );
}
