//! `--html FILE`: one self-contained page, opened in headless Chromium (Debian's, which
//! `.ci/run` installs): it loads without a script error, shows the ranked suspects with the top
//! one first, and names nothing to fetch.

use crate::corpus;
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name).arg("--version").output().is_ok() {
            return Some(name);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing: .ci/run installs Debian's chromium"
    );
    eprintln!("note: no chromium on this machine, the HTML page is not opened");
    None
}

/// Writes the page and the JSON report of `input`; gives the page and the top suspect.
fn page(input: &Path, dir: &Path) -> (std::path::PathBuf, Option<String>) {
    let html = dir.join("report.html");
    let json = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(["analyze", &input.to_string_lossy(), "--no-ui"])
        .args([
            "--html",
            &html.to_string_lossy(),
            "--json",
            &json.to_string_lossy(),
        ])
        .output()
        .expect("kalipso runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("json")).expect("valid JSON");
    // the page ranks as the UI's triage does: alerted profiles first
    let ranking = report["ranking"].as_array().cloned().unwrap_or_default();
    let top = ranking
        .iter()
        .find(|s| s["alerts"].as_u64().unwrap_or(0) > 0)
        .or_else(|| ranking.first())
        .and_then(|s| s["ip"].as_str())
        .map(str::to_string);
    (html, top)
}

fn check(input: &Path) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (html, top) = page(input, dir.path());
    let text = std::fs::read_to_string(&html).expect("page");
    // self-contained: no resource is named (the SVG namespace is an identifier, not a fetch)
    for attr in ["src=", "href=", "url(", "@import"] {
        assert!(
            !text.contains(attr),
            "{}: the page names '{attr}'",
            input.display()
        );
    }
    let Some(browser) = chromium() else { return };
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
        ])
        .args(["--v=0", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        dom.contains(r#"data-ready="yes""#),
        "{}: the script did not finish; console: {log}",
        input.display()
    );
    assert!(
        !dom.contains(r#"data-error=""#),
        "{}: {dom}",
        input.display()
    );
    assert!(
        !log.contains("Uncaught") && !log.contains(":CONSOLE"),
        "{}: console: {log}",
        input.display()
    );
    if let Some(ip) = top {
        // the first row of the ranked list is the top suspect
        let first_row = dom
            .split("<tbody>")
            .nth(1)
            .and_then(|t| t.split("</tr>").next())
            .unwrap_or_default();
        assert!(
            first_row.contains(&format!(">{ip}<")),
            "{}: the first ranked row is not {ip}: {first_row}",
            input.display()
        );
    }
}

#[test]
fn the_page_loads_and_ranks_the_suspects() {
    check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/zeek/home-office-tsv"));
    if let Some(root) = corpus::root() {
        check(&root.join("slips/zeek/test18-malicious-ctu-sme-11-win"));
        check(&root.join("slips/pcap/test7-malicious.pcap"));
    }
}
