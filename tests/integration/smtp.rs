//! smtp.log from captures against Zeek itself (zeek-btest baselines, see the corpus's
//! `zeek-btest/SOURCE.md`).

use crate::corpus::{self, baseline_at};
use kalipso::flow::Timeouts;
use kalipso::record::Smtp;

/// smtp.log's columns from `id.orig_h` to `tls` as Zeek writes them (unset as empty; sets
/// sorted, as Zeek's order is its hash order). `fuids` is left out: kalipso extracts no files.
fn columns(s: &Smtp) -> Vec<String> {
    let set = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.join(",")
    };
    vec![
        s.id.orig_h.to_string(),
        s.id.orig_p.to_string(),
        s.id.resp_h.to_string(),
        s.id.resp_p.to_string(),
        s.trans_depth.to_string(),
        s.helo.clone(),
        s.mailfrom.clone(),
        set(&s.rcptto),
        s.date.clone(),
        s.from.clone(),
        set(&s.to),
        set(&s.cc),
        s.reply_to.clone(),
        s.msg_id.clone(),
        s.in_reply_to.clone(),
        s.subject.clone(),
        s.x_originating_ip
            .map(|a| a.to_string())
            .unwrap_or_default(),
        s.first_received.clone(),
        s.second_received.clone(),
        s.last_reply.clone(),
        s.path
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        s.user_agent.clone(),
        if s.tls { "T" } else { "F" }.into(),
    ]
}

/// smtp.pcap (two captures joined): Zeek's two rows, one per SMTP connection, equal on every
/// column but `ts` (masked), `uid` (random) and `fuids`.
#[test]
fn smtp_log_of_smtp_pcap_equals_zeek() {
    let Some(pcap) = corpus::path("zeek-btest/Traces/smtp.pcap") else {
        return;
    };
    let input = kalipso::input::read_with(&[pcap], Timeouts::default());
    let zeek: Vec<Vec<String>> =
        baseline_at("zeek-btest/Baseline/scripts.base.protocols.smtp.basic/smtp.log")
            .into_iter()
            .map(|r| {
                let mut r = r[2..r.len() - 1].to_vec();
                for i in [7, 10, 11] {
                    let mut set: Vec<&str> = r[i].split(',').collect();
                    set.sort_unstable();
                    r[i] = set.join(",");
                }
                r
            })
            .collect();
    assert_eq!(zeek.len(), 2);
    let ours: Vec<Vec<String>> = input.batch.smtp.iter().map(columns).collect();
    assert_eq!(ours, zeek);
}
