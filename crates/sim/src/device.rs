//! One LAN device as the generators see it, with the small protocol
//! exchanges most devices share: DHCP, ARP, DNS, NTP, SSDP, mDNS and a TLS
//! session over [`Flow`].

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{DhcpClient, Identity};
use crate::engine::{Micros, Sink, MS, SEC};
use crate::net::{self, Ip, Mac, BROADCAST, L3};
use crate::proto::{dhcp, dns, tls};
use crate::tcp::{ephemeral_port, Endpoints, Flow, Side, Stack};
use crate::world::{self, World, ROUTER_IP};

pub(crate) const SSDP_IP: Ip = [239, 255, 255, 250];
pub(crate) const MDNS_IP: Ip = [224, 0, 0, 251];

#[derive(Clone, Copy)]
pub(crate) struct Dev {
    pub mac: Mac,
    pub ip: Ip,
    pub id: &'static Identity,
    pub world: World,
    /// Router <-> device round trip (Wi-Fi or wire, plus stack latency).
    pub lan: Micros,
    pub hostname_suffix: [u8; 3],
}

impl Dev {
    pub fn stack(&self) -> Stack {
        self.id.stack
    }

    pub fn hostname(&self) -> String {
        let s = self.hostname_suffix;
        self.id
            .hostname
            .replace("{mac6}", &format!("{:02X}{:02X}{:02X}", s[0], s[1], s[2]))
    }

    pub fn router_mac(&self) -> Mac {
        self.world.router_mac
    }

    /// Device -> router (-> internet).
    pub fn out(&self, rng: &mut ChaCha8Rng, dst: Ip) -> L3 {
        L3 {
            src_mac: self.mac,
            dst_mac: self.router_mac(),
            src: self.ip,
            dst,
            ttl: self.stack().ttl(),
            id: rng.gen(),
            df: self.stack() != Stack::Lwip,
        }
    }

    /// (internet ->) router -> device.
    pub fn inbound(&self, rng: &mut ChaCha8Rng, src: Ip, ttl: u8) -> L3 {
        L3 {
            src_mac: self.router_mac(),
            dst_mac: self.mac,
            src,
            dst: self.ip,
            ttl,
            id: rng.gen(),
            df: true,
        }
    }

    /// Device -> LAN multicast group.
    pub fn multicast(&self, rng: &mut ChaCha8Rng, group: Ip, ttl: u8) -> L3 {
        L3 {
            src_mac: self.mac,
            dst_mac: net::multicast_mac(group),
            src: self.ip,
            dst: group,
            ttl,
            id: rng.gen(),
            df: false,
        }
    }

    pub fn endpoints(&self, rng: &mut ChaCha8Rng, server: Ip, port: u16) -> Endpoints {
        Endpoints {
            client_mac: self.mac,
            client_ip: self.ip,
            client_port: ephemeral_port(rng, self.stack()),
            server_mac: self.router_mac(),
            server_ip: server,
            server_port: port,
            server_ttl: world::remote_ttl(rng),
            stack: self.stack(),
            rtt: world::remote_rtt(rng),
            lan: self.lan,
        }
    }

    // ---------------------------------------------------------------- DHCP

    fn dhcp_client_options(&self, msg: u8, requested: Option<Ip>) -> Vec<(u8, Vec<u8>)> {
        let mut cid = vec![1u8];
        cid.extend_from_slice(&self.mac);
        let host = self.hostname().into_bytes();
        let vc = self.id.vendor_class.map(|v| v.as_bytes().to_vec());
        let prl = self.id.prl.to_vec();
        let mut o: Vec<(u8, Vec<u8>)> = vec![(53, vec![msg])];
        let req = |o: &mut Vec<(u8, Vec<u8>)>| {
            if let Some(ip) = requested {
                o.push((50, ip.to_vec()));
                if msg == dhcp::REQUEST {
                    o.push((54, ROUTER_IP.to_vec()));
                }
            }
        };
        match self.id.dhcp {
            DhcpClient::Udhcp => {
                o.push((61, cid));
                req(&mut o);
                o.push((57, 576u16.to_be_bytes().to_vec()));
                o.push((55, prl));
                o.extend(vc.map(|v| (60, v)));
                o.push((12, host));
            }
            DhcpClient::UdhcpOld => {
                o.push((61, cid));
                o.push((12, host));
                o.extend(vc.map(|v| (60, v)));
                req(&mut o);
                o.push((55, prl));
            }
            DhcpClient::Lwip => {
                o.push((57, 1500u16.to_be_bytes().to_vec()));
                req(&mut o);
                o.push((12, host));
                o.push((55, prl));
                o.extend(vc.map(|v| (60, v)));
                o.push((61, cid));
            }
            DhcpClient::Windows => {
                o.push((61, cid));
                req(&mut o);
                o.push((12, host.clone()));
                let mut fqdn = vec![0, 0, 0];
                fqdn.extend_from_slice(&host);
                o.push((81, fqdn));
                o.extend(vc.map(|v| (60, v)));
                o.push((55, prl));
            }
            DhcpClient::Android => {
                o.push((61, cid));
                req(&mut o);
                o.push((57, 1500u16.to_be_bytes().to_vec()));
                o.extend(vc.map(|v| (60, v)));
                o.push((12, host));
                o.push((55, prl));
            }
            DhcpClient::Apple => {
                o.push((55, prl));
                o.push((57, 1500u16.to_be_bytes().to_vec()));
                o.push((61, cid));
                req(&mut o);
                o.push((51, 7_776_000u32.to_be_bytes().to_vec()));
                o.push((12, host));
            }
        }
        o
    }

    fn dhcp_len(&self) -> usize {
        match self.id.dhcp {
            DhcpClient::UdhcpOld => 548,
            DhcpClient::Lwip => 308,
            _ => 300,
        }
    }

    /// DISCOVER / OFFER / REQUEST / ACK at `t`, then ARP for the gateway.
    /// Returns when the device is ready to talk.
    pub fn boot(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        tag: u32,
        lease: u32,
    ) -> Micros {
        let xid: u32 = rng.gen();
        let udhcp = matches!(self.id.dhcp, DhcpClient::Udhcp | DhcpClient::UdhcpOld);
        let client_l3 = |id: u16| L3 {
            src_mac: self.mac,
            dst_mac: BROADCAST,
            src: [0; 4],
            dst: [255; 4],
            ttl: if udhcp { 64 } else { self.stack().ttl() },
            id,
            df: false,
        };
        let server_opts = |msg: u8| -> Vec<(u8, Vec<u8>)> {
            vec![
                (53, vec![msg]),
                (54, ROUTER_IP.to_vec()),
                (51, lease.to_be_bytes().to_vec()),
                (58, (lease / 2).to_be_bytes().to_vec()),
                (59, (lease / 8 * 7).to_be_bytes().to_vec()),
                (1, vec![255, 255, 255, 0]),
                (28, vec![192, 168, 1, 255]),
                (3, ROUTER_IP.to_vec()),
                (6, ROUTER_IP.to_vec()),
                (15, b"lan".to_vec()),
            ]
        };
        let server_l3 = L3 {
            src_mac: self.router_mac(),
            dst_mac: self.mac,
            src: ROUTER_IP,
            dst: self.ip,
            ttl: 64,
            id: rng.gen(),
            df: false,
        };
        let mut at = t;
        let mut secs = 0u16;
        let ip_id = |rng: &mut ChaCha8Rng| if udhcp { 0 } else { rng.gen() };
        let msg =
            |sink: &mut Sink, rng: &mut ChaCha8Rng, at: Micros, op: u8, kind: u8, secs: u16| {
                if op == 1 {
                    let opts =
                        self.dhcp_client_options(kind, (kind == dhcp::REQUEST).then_some(self.ip));
                    let b = dhcp::Bootp {
                        op: 1,
                        xid,
                        secs,
                        broadcast: false,
                        ciaddr: [0; 4],
                        yiaddr: [0; 4],
                        siaddr: [0; 4],
                        chaddr: self.mac,
                        options: &opts,
                        min_len: self.dhcp_len(),
                    }
                    .encode();
                    sink.push(at, net::udp(&client_l3(ip_id(rng)), 68, 67, &b), tag);
                } else {
                    let opts = server_opts(kind);
                    let b = dhcp::Bootp {
                        op: 2,
                        xid,
                        secs: 0,
                        broadcast: false,
                        ciaddr: [0; 4],
                        yiaddr: self.ip,
                        siaddr: ROUTER_IP,
                        chaddr: self.mac,
                        options: &opts,
                        min_len: 300,
                    }
                    .encode();
                    let mut l3 = server_l3;
                    l3.id = rng.gen();
                    sink.push(at, net::udp(&l3, 67, 68, &b), tag);
                }
            };
        // Some clients lose the first OFFER (radio still associating) and
        // retransmit DISCOVER a few seconds later.
        if rng.gen_bool(0.15) {
            msg(sink, rng, at, 1, dhcp::DISCOVER, secs);
            at += rng.gen_range(2 * SEC..5 * SEC);
            secs = (at - t).div_ceil(SEC) as u16;
        }
        msg(sink, rng, at, 1, dhcp::DISCOVER, secs);
        at += rng.gen_range(2 * MS..30 * MS);
        msg(sink, rng, at, 2, dhcp::OFFER, 0);
        at += self.lan + rng.gen_range(MS..200 * MS);
        msg(sink, rng, at, 1, dhcp::REQUEST, secs);
        at += rng.gen_range(MS..10 * MS);
        msg(sink, rng, at, 2, dhcp::ACK, 0);
        at += self.lan;
        // Full stacks probe their new address (RFC 5227), busybox does not.
        if matches!(self.stack(), Stack::Windows | Stack::Apple)
            || self.id.dhcp == DhcpClient::Android
        {
            for _ in 0..2 {
                at += rng.gen_range(100 * MS..400 * MS);
                sink.push(
                    at,
                    net::arp(BROADCAST, 1, self.mac, [0; 4], [0; 6], self.ip),
                    tag,
                );
            }
            at += rng.gen_range(200 * MS..600 * MS);
            sink.push(
                at,
                net::arp(BROADCAST, 1, self.mac, self.ip, [0; 6], self.ip),
                tag,
            );
        }
        at += rng.gen_range(MS..50 * MS);
        self.arp_gateway(sink, rng, at, tag)
    }

    /// Device asks for the router's MAC; the router answers.
    pub fn arp_gateway(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        tag: u32,
    ) -> Micros {
        sink.push(
            t,
            net::arp(BROADCAST, 1, self.mac, self.ip, [0; 6], ROUTER_IP),
            tag,
        );
        let r = t + rng.gen_range(100..2 * MS);
        sink.push(
            r,
            net::arp(self.mac, 2, self.router_mac(), ROUTER_IP, self.mac, self.ip),
            tag,
        );
        r + self.lan / 2
    }

    /// The router refreshes its neighbour entry (unicast probe) and the
    /// device answers.
    pub fn arp_refresh(&self, sink: &mut Sink, rng: &mut ChaCha8Rng, t: Micros, tag: u32) {
        sink.push(
            t,
            net::arp(self.mac, 1, self.router_mac(), ROUTER_IP, [0; 6], self.ip),
            tag,
        );
        let r = t + self.lan / 2 + rng.gen_range(100..3 * MS);
        sink.push(
            r,
            net::arp(
                self.router_mac(),
                2,
                self.mac,
                self.ip,
                self.router_mac(),
                ROUTER_IP,
            ),
            tag,
        );
    }

    // ----------------------------------------------------------------- DNS

    /// One query to the router's resolver and its answer; returns the
    /// answer's time. `answers` empty with NOERROR is a NODATA answer.
    #[allow(clippy::too_many_arguments)]
    pub fn dns_exchange(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        name: &str,
        qtype: u16,
        rcode: u8,
        answers: &[dns::Rr<'_>],
        tag: u32,
    ) -> Micros {
        let id: u16 = rng.gen();
        let sport = ephemeral_port(rng, self.stack());
        let q = dns::query(id, name, qtype);
        sink.push(t, net::udp(&self.out(rng, ROUTER_IP), sport, 53, &q), tag);
        // Cache hit at the router, or a trip upstream.
        let delay = if rng.gen_bool(0.55) {
            rng.gen_range(200..2 * MS)
        } else {
            rng.gen_range(8 * MS..70 * MS)
        };
        let at = t + delay;
        let a = dns::answer(id, name, qtype, rcode, answers);
        let mut l3 = self.inbound(rng, ROUTER_IP, 64);
        l3.df = false;
        sink.push(at, net::udp(&l3, 53, sport, &a), tag);
        at + self.lan / 2
    }

    /// Resolve `name` (A, plus AAAA for dual-stack OSes); returns the
    /// address and when the application has it.
    pub fn resolve(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        name: &str,
        tag: u32,
    ) -> (Ip, Micros) {
        let ip = self.world.resolve(name);
        let ttl = [60, 300, 300, 3600][rng.gen_range(0..4)];
        let mut done = self.dns_exchange(
            sink,
            rng,
            t,
            name,
            dns::A,
            dns::NOERROR,
            &[dns::Rr::new(name, ttl, dns::Rdata::A(ip))],
            tag,
        );
        if matches!(self.stack(), Stack::Windows | Stack::Apple)
            || self.id.profile == crate::catalog::Profile::Phone
        {
            // The home network is IPv4-only: AAAA comes back empty.
            let t2 = t + rng.gen_range(50..600);
            done =
                done.max(self.dns_exchange(sink, rng, t2, name, dns::AAAA, dns::NOERROR, &[], tag));
        }
        (ip, done)
    }

    // ----------------------------------------------------------------- NTP

    pub fn ntp(&self, sink: &mut Sink, rng: &mut ChaCha8Rng, t: Micros, tag: u32) -> Micros {
        let (server, t) = self.resolve(sink, rng, t, self.id.ntp, tag);
        let sport = if self.stack() == Stack::Linux && rng.gen_bool(0.3) {
            123
        } else {
            ephemeral_port(rng, self.stack())
        };
        let mut req = [0u8; 48];
        req[0] = 0x23; // LI 0, version 4, mode 3 (client)
        req[2] = 6;
        req[3] = 0xe9;
        rng.fill_bytes(&mut req[40..48]);
        sink.push(t, net::udp(&self.out(rng, server), sport, 123, &req), tag);
        let rtt = world::remote_rtt(rng);
        let mut resp = [0u8; 48];
        resp[0] = 0x24; // mode 4 (server)
        resp[1] = 2; // stratum
        resp[2] = 6;
        resp[3] = 0xe9;
        rng.fill_bytes(&mut resp[4..40]);
        resp[24..32].copy_from_slice(&req[40..48]);
        rng.fill_bytes(&mut resp[40..48]);
        let ttl = world::remote_ttl(rng);
        sink.push(
            t + rtt,
            net::udp(&self.inbound(rng, server, ttl), 123, sport, &resp),
            tag,
        );
        t + rtt
    }

    // ------------------------------------------------------- SSDP and mDNS

    fn uuid(&self) -> String {
        let m = self.mac;
        format!(
            "{:08x}-{:04x}-11e1-9b23-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_be_bytes([m[0], m[1], m[2], m[3]]) ^ 0x2f40_2f80,
            u16::from_be_bytes([m[4], m[5]]),
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5]
        )
    }

    /// A burst of SSDP NOTIFY ssdp:alive (root device, uuid, device type),
    /// sent twice as most UPnP stacks do.
    pub fn ssdp_notify(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        tag: u32,
    ) -> Micros {
        let Some(server) = self.id.ssdp_server else {
            return t;
        };
        let uuid = self.uuid();
        let ip = net::fmt_ip(&self.ip);
        let nts = [
            "upnp:rootdevice".to_string(),
            format!("uuid:{uuid}"),
            "urn:schemas-upnp-org:device:Basic:1".to_string(),
        ];
        let mut at = t;
        for _round in 0..2 {
            for nt in &nts {
                let usn = if nt.starts_with("uuid:") {
                    nt.clone()
                } else {
                    format!("uuid:{uuid}::{nt}")
                };
                let msg = format!(
                    "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://{ip}:49152/description.xml\r\nNT: {nt}\r\nNTS: ssdp:alive\r\nSERVER: {server}\r\nUSN: {usn}\r\n\r\n"
                );
                sink.push(
                    at,
                    net::udp(&self.multicast(rng, SSDP_IP, 4), 1900, 1900, msg.as_bytes()),
                    tag,
                );
                at += rng.gen_range(MS..30 * MS);
            }
            at += rng.gen_range(100 * MS..300 * MS);
        }
        at
    }

    /// M-SEARCH from a control point (phone / TV).
    pub fn ssdp_search(&self, sink: &mut Sink, rng: &mut ChaCha8Rng, t: Micros, tag: u32) {
        let st = [
            "ssdp:all",
            "urn:dial-multiscreen-org:service:dial:1",
            "urn:schemas-upnp-org:device:MediaRenderer:1",
        ][rng.gen_range(0..3)];
        let ua = self.id.user_agent.unwrap_or("UPnP/1.0");
        let msg = format!("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\nUSER-AGENT: {ua}\r\n\r\n");
        let sport = ephemeral_port(rng, self.stack());
        for i in 0..2 {
            sink.push(
                t + i * rng.gen_range(100 * MS..1000 * MS),
                net::udp(
                    &self.multicast(rng, SSDP_IP, 1),
                    sport,
                    1900,
                    msg.as_bytes(),
                ),
                tag,
            );
        }
    }

    /// mDNS announcement of the device's service (or a query for others').
    pub fn mdns(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        tag: u32,
        query: Option<&str>,
    ) {
        let msg = if let Some(q) = query {
            dns::Msg {
                id: 0,
                response: false,
                rd: false,
                authoritative: false,
                rcode: 0,
                questions: &[(q, dns::PTR)],
                answers: &[],
                additionals: &[],
            }
            .encode()
        } else {
            let Some(svc) = self.id.mdns else { return };
            let host = format!("{}.local", self.hostname());
            let inst = format!("{}.{}", self.hostname(), svc);
            let ans = [dns::Rr::new(svc, 4500, dns::Rdata::Ptr(&inst))];
            let mut srv = dns::Rr::new(
                &inst,
                120,
                dns::Rdata::Srv {
                    port: 8009,
                    target: &host,
                },
            );
            srv.class = 0x8001; // cache-flush
            let txt_items = [&format!("md={}", self.id.model)[..]];
            let mut txt = dns::Rr::new(&inst, 4500, dns::Rdata::Txt(&txt_items));
            txt.class = 0x8001;
            let mut a = dns::Rr::new(&host, 120, dns::Rdata::A(self.ip));
            a.class = 0x8001;
            let add = [srv, txt, a];
            dns::Msg {
                id: 0,
                response: true,
                rd: false,
                authoritative: true,
                rcode: 0,
                questions: &[],
                answers: &ans,
                additionals: &add,
            }
            .encode()
        };
        sink.push(
            t,
            net::udp(&self.multicast(rng, MDNS_IP, 255), 5353, 5353, &msg),
            tag,
        );
    }

    // ----------------------------------------------------------------- TLS

    /// Open a TLS connection to `server:port` at `t` and run the handshake.
    /// The returned flow is positioned after the handshake.
    #[allow(clippy::too_many_arguments)]
    pub fn tls_open(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        t: Micros,
        server: Ip,
        port: u16,
        sni: &str,
        tag: u32,
    ) -> Flow {
        let e = self.endpoints(rng, server, port);
        let mut f = Flow::new(rng, &e, t, tag);
        f.connect(sink, rng);
        self.tls_handshake(sink, rng, &mut f, sni);
        f
    }

    /// TLS handshake on an established flow (also after STARTTLS).
    pub fn tls_handshake(&self, sink: &mut Sink, rng: &mut ChaCha8Rng, f: &mut Flow, sni: &str) {
        let style = self.id.tls;
        let alpn: &[&str] = if style == tls::Style::Modern {
            &["h2", "http/1.1"]
        } else {
            &[]
        };
        let ch = tls::client_hello(rng, sni, style, alpn);
        f.send(sink, Side::Client, &ch, rng.gen_range(100..3 * MS));
        let cert = rng.gen_range(2_500..5_500);
        let sf = tls::server_flight(rng, style, cert);
        f.send(sink, Side::Server, &sf, rng.gen_range(200..5 * MS));
        let cf = tls::client_finish(rng, style);
        f.send(sink, Side::Client, &cf, rng.gen_range(MS..20 * MS));
        let fin = tls::server_finish(rng, style);
        f.send(sink, Side::Server, &fin, rng.gen_range(200..3 * MS));
    }

    /// Request/response pairs of application data over an open TLS flow.
    pub fn tls_exchange(
        &self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        f: &mut Flow,
        up: usize,
        down: usize,
        think: Micros,
    ) {
        let req = tls::app_data(rng, up);
        f.send(sink, Side::Client, &req, think);
        if down > 0 {
            let resp = tls::app_data(rng, down);
            f.send(sink, Side::Server, &resp, rng.gen_range(MS..60 * MS));
        }
    }

    /// Close a TLS flow: close_notify then FIN from `first`, or a bare RST
    /// from the client (common on embedded stacks and browsers).
    pub fn tls_close(&self, sink: &mut Sink, rng: &mut ChaCha8Rng, f: &mut Flow, first: Side) {
        if rng.gen_bool(0.15) {
            f.reset(sink, Side::Client, rng.gen_range(MS..50 * MS));
            return;
        }
        let a = tls::alert(rng);
        f.send(sink, first, &a, rng.gen_range(MS..30 * MS));
        f.close(sink, first, rng.gen_range(100..2 * MS));
    }
}
