//! TLS rules: self-signed certificates, certificates of a large organisation presented for a
//! name that is not theirs (incompatible CN), and JA3/JA3S fingerprints on threat-intelligence
//! lists.

use super::context::{Ctx, Finding};
use super::evidence::{EvidenceKind, FlowRef, Flows, Party, Payload};
use crate::profile::Window;

/// Organisations whose certificates are checked against their own domains (Slips'
/// `organizations_info`, reduced to the domains that name them).
const ORGS: [(&str, &[&str]); 5] = [
    (
        "google",
        &[
            "google",
            "gstatic",
            "youtube",
            "ytimg",
            "2mdn",
            "gvt1",
            "gvt2",
            "ggpht",
            "doubleclick",
            "android",
            "goo.gl",
            "withgoogle",
        ],
    ),
    (
        "microsoft",
        &[
            "microsoft",
            "msn",
            "live",
            "bing",
            "office",
            "windows",
            "azure",
            "skype",
            "msft",
            "xbox",
            "outlook",
            "hotmail",
            "msedge",
        ],
    ),
    ("apple", &["apple", "icloud", "mzstatic", "itunes"]),
    (
        "facebook",
        &["facebook", "fbcdn", "instagram", "whatsapp", "fb"],
    ),
    ("twitter", &["twitter", "twimg", "t.co"]),
];

/// The organisation whose certificate this is, when its SNI is not one of its domains.
fn incompatible_organisation(issuer: &str, sni: &str) -> Option<&'static str> {
    let (org, domains) = ORGS.iter().find(|(org, _)| issuer.contains(org))?;
    // a label naming the organisation (googleadservices, ytimg…) is its own
    let own = sni.split('.').any(|label| {
        domains
            .iter()
            .any(|d| label == *d || (d.len() >= 4 && label.contains(d)))
    });
    (!own).then_some(*org)
}

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    for &i in &w.ssl {
        let s = &cx.store.ssl[i as usize];
        let dst = s.id.resp_h;
        let flows = Flows::from(FlowRef::Ssl(i));
        if s.validation_status.contains("self signed") {
            cx.add(Finding {
                kind: EvidenceKind::SelfSignedCertificate,
                attacker: Party::Ip(dst),
                victim: Some(cx.me()),
                level: None,
                confidence: 0.5,
                payload: Payload::SelfSigned {
                    dst,
                    sni: s.server_name.clone().into(),
                },
                ts: s.id.ts,
                flows: flows.clone(),
            });
        }
        let sni = s.server_name.to_ascii_lowercase();
        if !sni.is_empty() {
            if let Some(organisation) =
                incompatible_organisation(&s.issuer.to_ascii_lowercase(), &sni)
            {
                cx.add(Finding {
                    kind: EvidenceKind::IncompatibleCn,
                    attacker: cx.me(),
                    victim: Some(Party::Ip(dst)),
                    level: None,
                    confidence: 0.9,
                    payload: Payload::IncompatibleCn {
                        dst,
                        claim: Box::new((sni.into(), organisation)),
                    },
                    ts: s.id.ts,
                    flows: flows.clone(),
                });
            }
        }
        if let Some(hit) = cx.cfg.ti.ja3(&s.ja3) {
            cx.add(Finding {
                kind: EvidenceKind::MaliciousJa3,
                attacker: cx.me(),
                victim: Some(Party::Ip(dst)),
                level: Some(hit.level),
                confidence: 1.0,
                payload: Payload::MaliciousJa3 {
                    dst,
                    ja3: Box::new([s.ja3.as_str().into(), hit.description.as_str().into()]),
                },
                ts: s.id.ts,
                flows: flows.clone(),
            });
        }
        if let Some(hit) = cx.cfg.ti.ja3(&s.ja3s) {
            cx.add(Finding {
                kind: EvidenceKind::MaliciousJa3s,
                attacker: Party::Ip(dst),
                victim: Some(cx.me()),
                level: Some(hit.level),
                confidence: 1.0,
                payload: Payload::MaliciousJa3s {
                    dst,
                    ja3s: Box::new([s.ja3s.as_str().into(), hit.description.as_str().into()]),
                },
                ts: s.id.ts,
                flows,
            });
        }
    }
}
