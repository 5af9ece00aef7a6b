//! Default routes over rtnetlink (`RTM_GETROUTE`): which interface carries the internet.

use crate::errors::netlink_to_error;
use crate::netlink::Netlink;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netpilot_core::Error;
use netpilot_core::device::InternetLink;
use std::collections::HashMap;

/// A default route: through which interface, to which gateway, at which metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    pub interface: String,
    pub gateway: Option<String>,
    pub metric: u32,
    pub ipv6: bool,
}

/// Every IPv4 and IPv6 default route of the main table, lowest metric first.
pub fn default_routes() -> Result<Vec<DefaultRoute>, Error> {
    let netlink = Netlink::open(NETLINK_ROUTE).map_err(|e| netlink_to_error("rtnetlink", e))?;
    let names = interface_names()?;
    let mut routes = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut request = RouteMessage::default();
        request.header.address_family = family;
        netlink
            .dump(RouteNetlinkMessage::GetRoute(request), |reply| {
                if let RouteNetlinkMessage::NewRoute(route) = reply
                    && route.header.destination_prefix_length == 0
                    && route.header.kind == RouteType::Unicast
                    && table(&route) == 254
                {
                    let mut default = DefaultRoute {
                        interface: String::new(),
                        gateway: None,
                        metric: 0,
                        ipv6: family == AddressFamily::Inet6,
                    };
                    for attribute in &route.attributes {
                        match attribute {
                            RouteAttribute::Oif(index) => {
                                default.interface = names.get(index).cloned().unwrap_or_default()
                            }
                            RouteAttribute::Gateway(RouteAddress::Inet(a)) => {
                                default.gateway = Some(a.to_string())
                            }
                            RouteAttribute::Gateway(RouteAddress::Inet6(a)) => {
                                default.gateway = Some(a.to_string())
                            }
                            RouteAttribute::Priority(metric) => default.metric = *metric,
                            _ => {}
                        }
                    }
                    routes.push(default);
                }
                Ok(())
            })
            .map_err(|e| netlink_to_error("rtnetlink", e))?;
    }
    routes.sort_by_key(|r| (r.ipv6, r.metric));
    Ok(routes)
}

/// The internet link: the interface of the lowest-metric IPv4 default route (IPv6 when
/// there is no IPv4 one).
pub fn internet_link(routes: &[DefaultRoute]) -> Option<InternetLink> {
    routes.first().map(|r| InternetLink {
        interface: r.interface.clone(),
        gateway: r.gateway.clone(),
        metric: r.metric,
    })
}

/// rtnetlink's legacy multicast group bits for routes (`RTMGRP_IPV4_ROUTE`,
/// `RTMGRP_IPV6_ROUTE` in `linux/rtnetlink.h`).
const GROUP_IPV4_ROUTE: u32 = 0x40;
const GROUP_IPV6_ROUTE: u32 = 0x400;

/// The kernel's word each time a default route of the main table appears, goes or
/// changes: the internet may have moved. Nothing is polled.
pub struct DefaultRouteWatch {
    socket: netlink_sys::TokioSocket,
    buffer: Vec<u8>,
}

impl netpilot_core::ports::RouteWatch for DefaultRouteWatch {
    async fn changed(&mut self) -> Option<()> {
        DefaultRouteWatch::changed(self).await
    }
}

impl DefaultRouteWatch {
    pub fn open() -> Result<Self, Error> {
        use netlink_sys::AsyncSocket;
        let open = |e| netlink_to_error("rtnetlink", crate::netlink::NetlinkError::Open(e));
        let mut socket = netlink_sys::TokioSocket::new(NETLINK_ROUTE).map_err(open)?;
        socket
            .socket_mut()
            .bind(&netlink_sys::SocketAddr::new(
                0,
                GROUP_IPV4_ROUTE | GROUP_IPV6_ROUTE,
            ))
            .map_err(open)?;
        Ok(DefaultRouteWatch {
            socket,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// Returns once a default route changed (or events were lost, so one may have);
    /// `None` when the socket failed. Cancel-safe.
    pub async fn changed(&mut self) -> Option<()> {
        use netlink_packet_core::NetlinkDeserializable;
        use netlink_sys::AsyncSocketExt;
        loop {
            self.buffer.clear();
            match self.socket.recv(&mut self.buffer).await {
                Ok(()) => {
                    let default = crate::netlink::messages(&self.buffer).any(|message| {
                        message.is_ok_and(|(header, payload)| {
                            matches!(
                                RouteNetlinkMessage::deserialize(&header, payload),
                                Ok(RouteNetlinkMessage::NewRoute(route) | RouteNetlinkMessage::DelRoute(route))
                                    if route.header.destination_prefix_length == 0 && table(&route) == 254
                            )
                        })
                    });
                    if default {
                        return Some(());
                    }
                }
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) =>
                {
                    return Some(());
                }
                Err(error) => {
                    tracing::warn!(%error, "the kernel's route events stopped");
                    return None;
                }
            }
        }
    }
}

fn table(route: &RouteMessage) -> u32 {
    route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(route.header.table))
}

fn interface_names() -> Result<HashMap<u32, String>, Error> {
    use netpilot_core::ports::LinkSource;
    Ok(crate::Links::open()?
        .interfaces()?
        .into_iter()
        .map(|i| (i.index, i.name))
        .collect())
}
