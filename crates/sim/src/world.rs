//! The world outside the LAN: which public addresses names resolve to,
//! where internet hosts are, how far away, and which addresses a Mirai
//! scanner may pick.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{Micros, MS};
use crate::net::{Ip, Mac};

pub(crate) const ROUTER_IP: Ip = [192, 168, 1, 1];

/// Address blocks of real hosting / CDN / mail providers (prefix, length).
/// Simulated hosts get addresses inside them so destinations look like the
/// real internet, never private or reserved space.
const GOOGLE: &[(Ip, u8)] = &[
    ([142, 250, 0, 0], 15),
    ([172, 217, 0, 0], 16),
    ([216, 58, 192, 0], 19),
    ([74, 125, 0, 0], 16),
];
const AWS: &[(Ip, u8)] = &[
    ([52, 28, 0, 0], 16),
    ([18, 184, 0, 0], 15),
    ([35, 156, 0, 0], 14),
    ([54, 93, 0, 0], 16),
    ([3, 120, 0, 0], 13),
];
const AZURE: &[(Ip, u8)] = &[
    ([20, 42, 0, 0], 15),
    ([40, 112, 0, 0], 13),
    ([13, 107, 0, 0], 16),
];
const CLOUDFLARE: &[(Ip, u8)] = &[([104, 16, 0, 0], 13), ([172, 64, 0, 0], 13)];
const AKAMAI: &[(Ip, u8)] = &[
    ([23, 32, 0, 0], 11),
    ([2, 16, 0, 0], 13),
    ([95, 100, 0, 0], 15),
];
const FASTLY: &[(Ip, u8)] = &[([151, 101, 0, 0], 16), ([199, 232, 0, 0], 16)];
const NETFLIX: &[(Ip, u8)] = &[([45, 57, 0, 0], 17), ([198, 38, 96, 0], 19)];
const APPLE: &[(Ip, u8)] = &[([17, 248, 0, 0], 14), ([17, 57, 144, 0], 22)];
const HOSTING: &[(Ip, u8)] = &[
    ([88, 198, 0, 0], 16),
    ([78, 46, 0, 0], 15),
    ([51, 68, 0, 0], 16),
    ([137, 74, 0, 0], 16),
    ([167, 99, 0, 0], 16),
    ([164, 90, 0, 0], 16),
    ([185, 199, 108, 0], 22),
    ([45, 33, 0, 0], 17),
];
const ALIBABA: &[(Ip, u8)] = &[([47, 88, 0, 0], 14), ([8, 209, 0, 0], 16)];
pub(crate) const MAIL: &[(Ip, u8)] = &[
    ([142, 250, 0, 0], 15),
    ([74, 125, 0, 0], 16),
    ([52, 101, 0, 0], 16),
    ([104, 47, 0, 0], 17),
    ([212, 227, 0, 0], 16),
    ([217, 72, 192, 0], 20),
    ([67, 195, 0, 0], 16),
    ([98, 136, 0, 0], 14),
    ([94, 100, 176, 0], 20),
    ([77, 88, 0, 0], 18),
    ([66, 102, 0, 0], 20),
    ([5, 9, 0, 0], 16),
    ([213, 165, 64, 0], 19),
    ([193, 222, 135, 0], 24),
];

fn fnv1a(seed: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Final avalanche so nearby names land far apart.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn in_block(block: (Ip, u8), r: u64) -> Ip {
    let (base, len) = block;
    let base = u32::from_be_bytes(base);
    let host_bits = 32 - u32::from(len);
    let span = 1u64 << host_bits;
    // Avoid .0 and .255 host parts: they look odd for servers.
    let mut off = (r % span) as u32;
    if off & 0xff == 0 || off & 0xff == 0xff {
        off ^= 0x11;
    }
    (base.wrapping_add(off)).to_be_bytes()
}

/// Deterministic name -> address map for one capture, so every device that
/// resolves a name gets the same answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct World {
    pub seed: u64,
    pub router_mac: Mac,
}

impl World {
    pub fn provider(name: &str) -> &'static [(Ip, u8)] {
        let has = |s: &str| name.contains(s);
        if has("google")
            || has("gstatic")
            || has("youtube")
            || has("ytimg")
            || has("doubleclick")
            || has("gvt")
        {
            GOOGLE
        } else if has("nflx") || has("netflix") {
            NETFLIX
        } else if has("apple") || has("icloud") || has("mzstatic") {
            APPLE
        } else if has("microsoft")
            || has("windows")
            || has("office")
            || has("live.com")
            || has("msedge")
            || has("bing")
            || has("skype")
        {
            AZURE
        } else if has("akamai")
            || has("samsung")
            || has("lgtvsdp")
            || has("lge.com")
            || has("edgekey")
        {
            AKAMAI
        } else if has("fastly")
            || has("reddit")
            || has("nytimes")
            || has("github")
            || has("guim")
            || has("twimg")
        {
            FASTLY
        } else if has("cloudflare") || has("discord") || has("jsdelivr") || has("medium") {
            CLOUDFLARE
        } else if has("tuya") || has("aliyun") || has("ezviz") || has("hik-connect") {
            ALIBABA
        } else if has("amazon")
            || has("aws")
            || has("tplink")
            || has("meethue")
            || has("wyze")
            || has("ring.com")
            || has("dlink")
            || has("belkin")
            || has("wemo")
            || has("synology")
            || has("sonos")
            || has("mydlink")
        {
            AWS
        } else {
            const MIX: &[&[(Ip, u8)]] = &[AWS, CLOUDFLARE, AKAMAI, FASTLY, HOSTING, GOOGLE, AZURE];
            MIX[(fnv1a(7, name) % MIX.len() as u64) as usize]
        }
    }

    /// The address `name` resolves to in this capture.
    pub fn resolve(&self, name: &str) -> Ip {
        let h = fnv1a(self.seed, name);
        let blocks = Self::provider(name);
        in_block(blocks[(h % blocks.len() as u64) as usize], h >> 8)
    }

    /// An address in a provider's space for a host with no name (mail
    /// exchangers, relays, targets).
    pub fn host_in(&self, blocks: &[(Ip, u8)], rng: &mut ChaCha8Rng) -> Ip {
        let b = blocks[rng.gen_range(0..blocks.len())];
        in_block(b, rng.gen())
    }

    pub fn hosting(&self, rng: &mut ChaCha8Rng) -> Ip {
        let all: [&[(Ip, u8)]; 4] = [HOSTING, AWS, AZURE, ALIBABA];
        let blocks = all[rng.gen_range(0..all.len())];
        self.host_in(blocks, rng)
    }
}

/// TTL of a remote host's packets as seen behind the router: an initial TTL
/// of 64, 128 or 255 minus 6..24 hops (the router's own hop included).
pub(crate) fn remote_ttl(rng: &mut ChaCha8Rng) -> u8 {
    let init: u8 = [64, 64, 64, 128, 255][rng.gen_range(0..5)];
    init - rng.gen_range(6..25)
}

/// Round trip from the router to an internet host.
pub(crate) fn remote_rtt(rng: &mut ChaCha8Rng) -> Micros {
    // Mostly nearby CDN / cloud, sometimes another continent.
    if rng.gen_bool(0.75) {
        rng.gen_range(8 * MS..45 * MS)
    } else {
        rng.gen_range(70 * MS..260 * MS)
    }
}

/// True for addresses a Mirai scanner never picks (scanner.c get_random_ip),
/// plus every IANA special-purpose block.
pub(crate) fn scanner_excluded(ip: Ip) -> bool {
    let [o1, o2, o3, _] = ip;
    o1 == 127
        || o1 == 0
        || o1 == 3
        || o1 == 15
        || o1 == 16
        || o1 == 56
        || o1 == 10
        || (o1 == 192 && o2 == 168)
        || (o1 == 172 && (16..32).contains(&o2))
        || (o1 == 100 && (64..128).contains(&o2))
        || (o1 == 169 && o2 == 254)
        || (o1 == 198 && (18..20).contains(&o2))
        || o1 >= 224
        || matches!(
            o1,
            6 | 7 | 11 | 21 | 22 | 26 | 28 | 29 | 30 | 33 | 55 | 214 | 215
        )
        || (o1 == 192 && o2 == 0 && (o3 == 0 || o3 == 2))
        || (o1 == 198 && o2 == 51 && o3 == 100)
        || (o1 == 203 && o2 == 0 && o3 == 113)
}

/// A random internet address the way Mirai's scanner draws one.
pub(crate) fn random_public(rng: &mut ChaCha8Rng) -> Ip {
    loop {
        let ip: Ip = rng.gen();
        if !scanner_excluded(ip) {
            return ip;
        }
    }
}

/// Documentation addresses (RFC 5737), used for some attack targets so a
/// reader sees at a glance that the victim is fictional.
pub(crate) fn documentation_ip(rng: &mut ChaCha8Rng) -> Ip {
    let nets: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    let n = nets[rng.gen_range(0..3)];
    [n[0], n[1], n[2], rng.gen_range(2..254)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn private_or_reserved(ip: Ip) -> bool {
        let a = std::net::Ipv4Addr::from(ip);
        a.is_private()
            || a.is_loopback()
            || a.is_link_local()
            || a.is_multicast()
            || a.is_broadcast()
            || a.is_unspecified()
            || a.is_documentation()
            || ip[0] >= 240
            || (ip[0] == 100 && (64..128).contains(&ip[1]))
    }

    #[test]
    fn resolve_is_stable_and_public() {
        let w = World {
            seed: 3,
            router_mac: [0; 6],
        };
        for name in [
            "www.google.com",
            "devs.tplinkcloud.com",
            "example.org",
            "occ-0-1.nflxvideo.net",
        ] {
            let a = w.resolve(name);
            assert_eq!(a, w.resolve(name));
            assert!(!private_or_reserved(a), "{name} -> {a:?}");
        }
        let w2 = World {
            seed: 4,
            router_mac: [0; 6],
        };
        let differ = ["a.example", "b.example", "c.example", "d.example"]
            .iter()
            .filter(|n| w.resolve(n) != w2.resolve(n))
            .count();
        assert!(differ >= 3);
    }

    #[test]
    fn scanner_addresses_are_public() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20_000 {
            let ip = random_public(&mut rng);
            assert!(!private_or_reserved(ip), "{ip:?}");
        }
        assert!(scanner_excluded([192, 168, 1, 5]));
        assert!(scanner_excluded([100, 100, 0, 1]));
        assert!(!scanner_excluded([100, 128, 0, 1]));
    }
}
