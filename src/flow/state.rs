//! One connection's state while its packets arrive: each side's packets, bytes, flags and
//! sequence numbers, Zeek's `history` letters, the application data still waiting for an
//! answer (DNS queries, HTTP requests, TLS hellos), and from these Zeek's `conn_state` and the
//! conn.log record. The assembler ([`super::assemble`]) decides which packets go where.
//!
//! It does not decide which packets belong to it.

use super::history::History;
use super::http_stream::HttpConn;
use super::service::Service;
use super::stream::Streams;
use super::{TcpFlags, http, ssh, tls};
use crate::record::{Conn, ConnState, Endpoints, Proto, Sym, SymCache, Uid};
use compact_str::CompactString;
use std::net::IpAddr;
use thin_vec::ThinVec;

/// One side of a connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Side {
    pub pkts: u64,
    pub ip_bytes: u64,
    pub payload: u64,
    pub flags: TcpFlags,
    /// First sequence number (after the SYN), the highest end seen, and the FIN's position.
    pub seq: Option<u32>,
    pub seq_max: u32,
    pub fin_end: Option<u32>,
}

/// The start of a TLS connection: each side's first bytes until its hello is complete.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsState {
    pub bufs: [Vec<u8>; 2],
    pub client: Option<(f64, tls::ClientHello)>,
    pub server: Option<tls::ServerHello>,
    /// Subject and issuer of the server's certificate, when sent in clear.
    pub cert: Option<(String, String)>,
    /// Nothing more to read from the server (certificate seen, TLS 1.3, or buffer full).
    pub server_done: bool,
}

/// How much of each side kalipso keeps while waiting for a hello.
pub(crate) const TLS_BUFFER: usize = 16 << 10;

impl TlsState {
    /// Keeps a side's first bytes until its hello (and the server's certificate, when sent in
    /// clear) can be read.
    pub fn read(&mut self, is_orig: bool, payload: &[u8], ts: f64) {
        let side = usize::from(!is_orig);
        let done = if is_orig {
            self.client.is_some() || self.bufs[0].len() >= TLS_BUFFER
        } else {
            self.server_done
        };
        if done {
            return;
        }
        let buf = &mut self.bufs[side];
        buf.extend_from_slice(&payload[..payload.len().min(TLS_BUFFER - buf.len())]);
        if is_orig {
            self.client = tls::client_hello(buf).map(|ch| (ts, ch));
            if self.client.is_some() {
                self.bufs[side] = Vec::new();
            }
            return;
        }
        if self.server.is_none() {
            self.server = tls::server_hello(buf);
        }
        // the certificate follows the ServerHello in clear up to TLS 1.2
        if self.server.as_ref().is_some_and(|s| s.version != "TLSv13") {
            self.cert = tls::certificate(buf);
        }
        self.server_done = self.cert.is_some()
            || self.server.as_ref().is_some_and(|s| s.version == "TLSv13")
            || buf.len() >= TLS_BUFFER;
        if self.server_done {
            self.bufs[side] = Vec::new();
        }
    }
}

/// A DNS query waiting for its response.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub id: u16,
    pub ts: f64,
    pub question: Option<(String, u16, u16)>,
}

/// What a connection's application parsers keep while it lives.
#[derive(Debug, Default)]
pub(crate) struct Apps {
    /// HTTP requests waiting for their responses.
    pub http_pending: std::collections::VecDeque<http::HttpRequest>,
    /// The SSH analysis, once the connection speaks SSH.
    pub ssh: Option<Box<ssh::Session>>,
    /// The in-order bytes of a TCP connection whose messages may span segments (DNS, HTTP).
    pub tcp: Option<Box<Streams>>,
    /// The HTTP messages being read.
    pub http: Option<Box<HttpConn>>,
    /// The SMTP session, once the connection speaks SMTP.
    pub smtp: Option<Box<super::smtp::Session>>,
    /// The tunnels that carried the connection, once one did.
    pub tunnel: Option<Box<super::tunnel::Tunnelled>>,
    /// The tunnel the connection carries (VXLAN, Teredo), once it carried one.
    pub carrier: Option<super::tunnel::Carrier>,
}

/// A connection being assembled.
#[derive(Debug)]
pub(crate) struct Flow {
    /// Its transport (its endpoints, originator first, are `orig` and `resp`).
    pub proto: Proto,
    pub id: u64,
    pub uid: CompactString,
    pub service: Option<Service>,
    /// Whether each side (orig, resp) has sent payload yet.
    pub spoke: [bool; 2],
    /// Whether a tunnel ever carried it (its tunnels are in `apps`).
    pub tunnelled: bool,
    /// A side sent a FIN before the other side sent anything: Zeek counts the connection as
    /// closed then, and removes it after the close delay.
    pub closed_alone: bool,
    /// Zeek's history letters so far.
    pub history: History,
    /// DNS queries waiting for their responses, and the start of a TLS connection: kept
    /// beside `apps`, as these two are most of a realistic capture's parsed connections and
    /// would otherwise each take one more allocation for the box of `apps`.
    pub dns_pending: ThinVec<Pending>,
    pub tls: Option<Box<TlsState>>,
    /// What its other application parsers keep, once it has payload to parse (boxed: the
    /// table of live connections holds every connection, and most never need it).
    pub apps: Option<Box<Apps>>,
    pub ts: f64,
    pub last: f64,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub o: Side,
    pub r: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    Reset,
    Closed,
    Inactive,
    Established,
    SynSent,
    Partial,
}

fn ep_state(p: &Side, q: &Side) -> Ep {
    // `syn` is any SYN (Zeek's S also matches SA), so SYN_ACK_SENT is never reached.
    if p.flags.rst {
        Ep::Reset
    } else if p.flags.fin {
        Ep::Closed
    } else if p.pkts == 0 {
        Ep::Inactive
    } else if (p.flags.syn && q.syn_ack()) || (p.syn_ack() && q.flags.syn) {
        if p.pkts > 1 || p.syn_ack() {
            Ep::Established
        } else {
            Ep::SynSent
        }
    } else if p.flags.syn {
        Ep::SynSent
    } else {
        Ep::Partial
    }
}

impl Side {
    fn syn_ack(&self) -> bool {
        self.flags.syn && self.flags.ack
    }

    fn bytes(&self, tcp: bool) -> u64 {
        match (tcp, self.seq) {
            (true, Some(first)) => {
                let mut top = self.seq_max;
                if let Some(fe) = self.fin_end {
                    if top.wrapping_sub(fe) < 1 << 31 {
                        top = fe;
                    }
                }
                u64::from(top.wrapping_sub(first))
            }
            _ => self.payload,
        }
    }
}

impl Flow {
    /// Zeek's `conn_state`, from the two endpoints' states.
    fn state(&self) -> ConnState {
        use ConnState as C;
        let (o, r) = (&self.o, &self.r);
        match self.proto {
            Proto::Udp => {
                return match (o.pkts > 0, r.pkts > 0) {
                    (true, true) => C::SF,
                    (true, false) => C::S0,
                    (false, true) => C::SHR,
                    (false, false) => C::OTH,
                };
            }
            Proto::Tcp => {}
            _ => return C::OTH,
        }
        let (os, rs) = (ep_state(o, r), ep_state(r, o));
        let o_in = matches!(os, Ep::Inactive | Ep::Partial);
        let r_in = matches!(rs, Ep::Inactive | Ep::Partial);
        if rs == Ep::Reset {
            if os == Ep::SynSent || (os == Ep::Reset && o.bytes(true) == 0 && r.bytes(true) == 0) {
                return C::REJ;
            }
            return if o_in { C::RSTRH } else { C::RSTR };
        }
        if os == Ep::Reset {
            if r_in {
                return if o.flags.syn && r.pkts == 0 {
                    C::RSTOS0
                } else {
                    C::OTH
                };
            }
            return C::RSTO;
        }
        match (os, rs) {
            (Ep::Closed, Ep::Closed) => C::SF,
            (Ep::Closed, _) => {
                if r_in {
                    C::SH
                } else {
                    C::S2
                }
            }
            (_, Ep::Closed) => {
                if o_in {
                    C::SHR
                } else {
                    C::S3
                }
            }
            (Ep::SynSent, Ep::Inactive) => C::S0,
            (Ep::Established, Ep::Established) => C::S1,
            _ => C::OTH,
        }
    }

    /// The endpoints and uid an application record of this connection carries.
    pub fn endpoints(&self, ts: f64) -> Endpoints {
        Endpoints {
            ts,
            uid: self.uid.clone(),
            orig_h: self.orig.0,
            orig_p: self.orig.1,
            resp_h: self.resp.0,
            resp_p: self.resp.1,
        }
    }

    /// Closed by both FINs, a RST, or a FIN before the other side spoke (TCP only).
    pub fn closed(&self) -> bool {
        self.proto == Proto::Tcp
            && ((self.o.flags.fin && self.r.flags.fin)
                || self.o.flags.rst
                || self.r.flags.rst
                || self.closed_alone)
    }

    /// The conn.log record of the connection as it is now; its service and history are
    /// interned through `syms`.
    pub fn into_conn(self, syms: &mut SymCache) -> Conn {
        let tcp = self.proto == Proto::Tcp;
        let conn_state = self.state();
        let duration = self.last - self.ts;
        // Zeek leaves bytes unset for a connection without duration.
        let (ob, rb) = if duration > 0.0 {
            (self.o.bytes(tcp), self.r.bytes(tcp))
        } else {
            (0, 0)
        };
        Conn {
            ts: self.ts,
            duration: duration.max(0.0),
            uid: Uid::new(&self.uid),
            orig_h: self.orig.0,
            orig_p: self.orig.1,
            resp_h: self.resp.0,
            resp_p: self.resp.1,
            proto: self.proto,
            service: self
                .service
                .map_or_else(Sym::default, |s| syms.get(s.name())),
            conn_state,
            orig_bytes: ob,
            resp_bytes: rb,
            history: if self.history.is_empty() {
                Sym::default()
            } else {
                syms.get(self.history.as_str())
            },
            orig_pkts: self.o.pkts,
            orig_ip_bytes: self.o.ip_bytes,
            resp_pkts: self.r.pkts,
            resp_ip_bytes: self.r.ip_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every live connection sits in the assembler's table: its parsers' state is boxed so the
    /// table stays small.
    #[test]
    fn a_live_connection_stays_small() {
        let size = std::mem::size_of::<super::Flow>();
        assert!(size <= 240, "{size} bytes");
    }
}
