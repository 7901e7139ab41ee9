//! Open connections, counted per client address and in total.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::Limits;

/// The address a connection is counted under: an IPv4 address, or an IPv6 address's /64
/// (one client usually holds a whole /64).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The open connections of one listener.
#[derive(Debug, Default)]
pub(super) struct ConnTable(Mutex<Counts>);

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

impl ConnTable {
    /// Counts a new connection from `ip`, or says which limit refuses it.
    pub(super) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &Limits,
    ) -> Result<ConnGuard, String> {
        let key = key(ip);
        let mut c = buildbot_core::util::lock(&self.0);
        if c.total >= limits.max_connections {
            return Err(format!(
                "{} connections are open, the most allowed in total (www.max_connections)",
                c.total
            ));
        }
        let n = c.per_ip.entry(key).or_insert(0);
        if *n >= limits.max_connections_per_ip {
            return Err(format!(
                "{n} connections are open from this address, the most allowed \
                 (www.max_connections_per_ip)"
            ));
        }
        *n += 1;
        c.total += 1;
        Ok(ConnGuard {
            table: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn open(&self) -> u32 {
        buildbot_core::util::lock(&self.0).total
    }
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
pub(super) struct ConnGuard {
    table: Arc<ConnTable>,
    key: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut c = buildbot_core::util::lock(&self.table.0);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connections_are_capped_per_address_and_in_total() {
        let limits = Limits {
            max_connections: 5,
            max_connections_per_ip: 2,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
        };
        let t = Arc::new(ConnTable::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let a6: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or(a);
        let g1 = t.admit(a, &limits);
        let g2 = t.admit(a6, &limits);
        assert!(g1.is_ok() && g2.is_ok());
        assert!(t.admit(a, &limits).is_err());
        // one /64 is one client
        let b1: IpAddr = "2001:db8::1".parse().unwrap_or(a);
        let b2: IpAddr = "2001:db8::2:3".parse().unwrap_or(a);
        let c: IpAddr = "2001:db8:0:1::1".parse().unwrap_or(a);
        let _b = (t.admit(b1, &limits), t.admit(b2, &limits));
        assert!(t.admit(b1, &limits).is_err());
        let _c = t.admit(c, &limits);
        assert_eq!(t.open(), 5);
        assert!(t.admit("10.0.0.9".parse().unwrap_or(a), &limits).is_err());
        drop(g1);
        assert_eq!(t.open(), 4);
        assert!(t.admit(a, &limits).is_ok());
    }
}
