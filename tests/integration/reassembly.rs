//! Application records from messages that span TCP segments, against Zeek itself
//! (zeek-btest baselines, see the corpus's `zeek-btest/SOURCE.md`).

use crate::corpus::{self, baseline_at};
use kalipso::flow::Timeouts;

fn read(trace: &str) -> Option<kalipso::input::Input> {
    let pcap = corpus::path(&format!("zeek-btest/Traces/{trace}"))?;
    Some(kalipso::input::read_with(&[pcap], Timeouts::default()))
}

/// dns/tkey.pcap: a 3245-byte TKEY query over TCP in segments of 1460, 1460 and 327 bytes gives
/// Zeek's one dns.log row (endpoints, query, class, type, rcode, no answer). Its question is in the
/// first segment, so this trace alone does not prove reassembly (reading segment by segment
/// gave the same row); `captures::messages_split_over_segments_and_out_of_order_are_read_whole`
/// does.
#[test]
fn a_dns_message_over_three_tcp_segments_is_one_query() {
    let Some(input) = read("dns/tkey.pcap") else {
        return;
    };
    let theirs =
        corpus::zeek_dns_columns("zeek-btest/Baseline/scripts.base.protocols.dns.tkey/dns.log");
    let ours: Vec<Vec<String>> = input.batch.dns.iter().map(corpus::dns_columns).collect();
    assert_eq!(theirs.len(), 1);
    assert_eq!(ours, theirs);
}

/// The http.log columns compared with Zeek's: endpoints, method, host, uri, version, user
/// agent, request and response body lengths, status code and message.
pub(crate) fn http_rows(input: &kalipso::input::Input) -> Vec<Vec<String>> {
    input
        .batch
        .http
        .iter()
        .map(|h| {
            vec![
                h.id.orig_h.to_string(),
                h.id.orig_p.to_string(),
                h.id.resp_h.to_string(),
                h.id.resp_p.to_string(),
                h.method.to_string(),
                h.host.clone(),
                h.uri.clone(),
                h.version.to_string(),
                h.user_agent.clone(),
                h.request_body_len.to_string(),
                h.response_body_len.to_string(),
                h.status_code.map(|c| c.to_string()).unwrap_or_default(),
                h.status_msg.clone(),
            ]
        })
        .collect()
}

pub(crate) fn zeek_http_rows(rel: &str) -> Vec<Vec<String>> {
    // columns: 2-5 endpoints, 7 method, 8 host, 9 uri, 11 version, 12 user_agent,
    // 14 request_body_len, 15 response_body_len, 16 status_code, 17 status_msg
    baseline_at(rel)
        .iter()
        .map(|r| {
            [2, 3, 4, 5, 7, 8, 9, 11, 12, 14, 15, 16, 17]
                .map(|i| r[i].clone())
                .to_vec()
        })
        .collect()
}

/// http/missing-zlib-header.pcap: two requests on one keep-alive connection, each head split
/// 536 + 81 bytes over two segments, give Zeek's two rows with the whole head (user agent and
/// all; the fields logged are all in the first segment, so the heads alone held before too).
/// The responses are `Content-Encoding: deflate` without the zlib header (5139 bytes sent):
/// `response_body_len` is the decoded length, 13249, as Zeek's.
#[test]
fn http_heads_split_over_segments_are_read_whole() {
    let Some(input) = read("http/missing-zlib-header.pcap") else {
        return;
    };
    let zeek = zeek_http_rows(
        "zeek-btest/Baseline/scripts.base.protocols.http.missing-zlib-header/http.log",
    );
    assert_eq!(zeek.len(), 2);
    assert!(zeek.iter().all(|r| r[10] == "13249"));
    assert_eq!(http_rows(&input), zeek);
}

/// http/http-bad-content-range-01.pcap: the response head comes one line per segment, seconds
/// apart, and its body in three more; Zeek's one row, body length included.
#[test]
fn a_response_head_one_line_per_segment_is_read_whole() {
    let Some(input) = read("http/http-bad-content-range-01.pcap") else {
        return;
    };
    let zeek = zeek_http_rows(
        "zeek-btest/Baseline/scripts.base.protocols.http.bad-content-range/http.log",
    );
    assert_eq!(zeek.len(), 1);
    assert_eq!(http_rows(&input), zeek);
}

/// ipv6-fragmented-dns.pcap: a 3238-byte DNS answer in three IPv6 fragments is reassembled
/// and answers the first of two queries with its id (so its rtt is from the first, and the
/// retransmission is a row of its own, unanswered); a lone tail fragment whose head was never
/// captured gives nothing. Zeek's three rows, equal on endpoints, query, class, type, rcode
/// and answers (kalipso keeps no transaction id or rtt).
#[test]
fn a_dns_answer_in_ipv6_fragments_is_reassembled() {
    let Some(input) = read("ipv6-fragmented-dns.pcap") else {
        return;
    };
    let mut zeek = corpus::zeek_dns_columns("zeek-btest/Baseline/core.ipv6-frag/dns.log");
    let mut ours: Vec<Vec<String>> = input.batch.dns.iter().map(corpus::dns_columns).collect();
    assert_eq!(zeek.len(), 3);
    zeek.sort();
    ours.sort();
    assert_eq!(ours, zeek);
    let stats = input.summary.files[0].capture.unwrap_or_default();
    assert_eq!((stats.fragments, stats.reassembled), (4, 1), "{stats:?}");
}
