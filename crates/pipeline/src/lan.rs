//! Which addresses are "ours": the LAN ranges, checked per packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// LAN ranges as masks, for a branch-light check on every packet.
#[derive(Clone, Debug)]
pub struct LanRanges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl LanRanges {
    /// The private ranges: RFC 1918, 169.254/16, fc00::/7, fe80::/10.
    pub fn private() -> Self {
        let nets: Vec<IpNet> = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        Self::from_nets(&nets)
    }

    /// The given ranges, or the private ones when `nets` is empty.
    pub fn new(nets: &[IpNet]) -> Self {
        if nets.is_empty() {
            Self::private()
        } else {
            Self::from_nets(nets)
        }
    }

    fn from_nets(nets: &[IpNet]) -> Self {
        let mut r = LanRanges {
            v4: Vec::new(),
            v6: Vec::new(),
        };
        for n in nets {
            match n {
                IpNet::V4(n) => r.v4.push((u32::from(n.network()), u32::from(n.netmask()))),
                IpNet::V6(n) => {
                    r.v6.push((u128::from(n.network()), u128::from(n.netmask())))
                }
            }
        }
        r
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

/// Multicast, broadcast or unspecified: never a device's peer.
#[inline]
pub fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a == Ipv4Addr::BROADCAST,
        IpAddr::V6(a) => a.is_multicast(),
    }
}

#[inline]
pub fn is_unspecified(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a == Ipv4Addr::UNSPECIFIED,
        IpAddr::V6(a) => a == Ipv6Addr::UNSPECIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_custom() {
        let p = LanRanges::private();
        for a in [
            "192.168.1.5",
            "10.1.2.3",
            "172.31.0.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(p.contains(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"] {
            assert!(!p.contains(a.parse().unwrap()), "{a}");
        }
        let isp = LanRanges::new(&["100.64.0.0/10".parse().unwrap()]);
        assert!(isp.contains("100.100.1.1".parse().unwrap()));
        assert!(!isp.contains("192.168.1.1".parse().unwrap()));
    }
}
