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
