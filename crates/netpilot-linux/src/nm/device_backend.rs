//! [`DeviceBackend`] for the daemon: the radio choice (a free radio, else a virtual
//! interface on one that allows two stations), warnings, and the link's life, over
//! [`super::device`]'s profile functions.

use super::api::NmClient;
use super::device::{choose_radio, down, profile, profile_id, profiles, rejoin, reset, save, up};
use netpilot_core::device::{DeviceSpec, Discovered, Subnet, Teardown};
use netpilot_core::internet::InternetNow;
use netpilot_core::ports::{DeviceBackend, LinkUp};
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode, Secret};
use std::time::Duration;

/// The device links of the daemon: NetworkManager for the profile and the radio, netlink
/// for the routes, probes bound to the links.
impl DeviceBackend for super::NetworkManagerBackend {
    type Watch = super::device_watch::DeviceWatch;
    type Routes = crate::routes::DefaultRouteWatch;

    fn watch_routes(&self) -> Result<Self::Routes, Error> {
        crate::routes::DefaultRouteWatch::open()
    }

    async fn internet_now(&self) -> Result<InternetNow, Error> {
        let routes = crate::routes::default_routes()?
            .into_iter()
            .map(|r| netpilot_core::device::InternetLink {
                interface: r.interface,
                gateway: r.gateway,
                metric: r.metric,
            })
            .collect();
        // Without NetworkManager the routes still tell (and it is not looked for here:
        // the supervisor connects when it appears).
        let connectivity = match self.connected().await {
            Some(backend) => backend.client.connectivity().await.unwrap_or_default(),
            None => Default::default(),
        };
        Ok(InternetNow {
            routes,
            connectivity,
            portal_url: None,
        })
    }

    async fn rejoin_internet(&self, interface: &str) -> Result<Option<String>, Error> {
        super::internet_rejoin::rejoin(&self.get().await?.client, interface).await
    }

    async fn probe_gateway(
        &self,
        interface: &str,
        gateway: std::net::Ipv4Addr,
        timeout: Duration,
    ) -> Result<Duration, Error> {
        let interface = interface.to_string();
        crate::probe::run(move || crate::probe::arp(gateway, &interface, timeout)).await
    }

    async fn probe_internet(
        &self,
        target: &str,
        interface: &str,
        timeout: Duration,
    ) -> Result<Duration, Error> {
        let (target, interface) = (target.to_string(), interface.to_string());
        crate::probe::run(move || {
            crate::probe::tcp_by_name(&target, Some(&interface), timeout).map(|(_, rtt)| rtt)
        })
        .await
    }

    async fn watch(&self, spec: &DeviceSpec) -> Result<Self::Watch, Error> {
        let interface = spec.interface.as_deref().unwrap_or_default();
        let backend = self.get().await?;
        super::device_watch::DeviceWatch::open(&backend.client, interface, spec.address).await
    }

    async fn configure(
        &self,
        spec: DeviceSpec,
        password: Option<Secret>,
    ) -> Result<netpilot_core::ports::Configured, Error> {
        let backend = self.get().await?;
        let (spec, warnings) = plan(&backend.client, spec).await?;
        save(&backend.client, &backend.store, &spec, password.as_ref()).await?;
        Ok(netpilot_core::ports::Configured { spec, warnings })
    }

    async fn list(&self) -> Result<Vec<DeviceSpec>, Error> {
        let backend = self.get().await?;
        Ok(profiles(&backend.client)
            .await?
            .into_iter()
            .map(|p| p.spec)
            .collect())
    }

    async fn up(&self, spec: &DeviceSpec, timeout: Duration) -> Result<LinkUp, Error> {
        let backend = self.get().await?;
        let overlapping = overlaps(spec, spec.interface.as_deref().unwrap_or_default())?;
        if let Some(warning) = overlapping.first() {
            tracing::warn!(name = %spec.name, "{warning}");
        }
        up(&backend.client, spec, timeout).await
    }

    async fn rejoin(&self, spec: &DeviceSpec) -> Result<(), Error> {
        rejoin(&self.get().await?.client, spec).await
    }

    async fn down(&self, spec: &DeviceSpec) -> Teardown {
        let mut teardown = Teardown::default();
        match self.get().await {
            Ok(backend) => down(&backend.client, spec, &mut teardown).await,
            Err(error) => teardown.record(format!("disconnect {}", spec.name), Err(error)),
        }
        teardown
    }

    async fn reset(&self, spec: &DeviceSpec) -> Teardown {
        match self.get().await {
            Ok(backend) => reset(&backend.client, &backend.store, spec).await,
            Err(error) => {
                let mut teardown = Teardown::default();
                teardown.record(
                    format!("delete profile {}", profile_id(&spec.name)),
                    Err(error),
                );
                teardown
            }
        }
    }

    async fn address(&self, spec: &DeviceSpec) -> Option<String> {
        use netpilot_core::ports::LinkSource;
        let interface = spec.interface.clone().unwrap_or_default();
        crate::probe::run(move || {
            let interfaces = crate::Links::open()?.interfaces()?;
            Ok(interfaces
                .into_iter()
                .find(|i| i.name == interface)
                .and_then(|i| i.ipv4.first().map(|a| a.to_string())))
        })
        .await
        .ok()
        .flatten()
    }

    async fn probe(&self, spec: &DeviceSpec, timeout: Duration) -> Result<Duration, Error> {
        let interface = spec.interface.clone().unwrap_or_default();
        let (address, probe) = (spec.address, spec.probe);
        crate::probe::run(move || crate::probe::device(probe, address, &interface, timeout)).await
    }

    async fn test(
        &self,
        spec: &DeviceSpec,
        internet: &str,
    ) -> Result<Vec<netpilot_core::device::Check>, Error> {
        let spec = spec.clone();
        let internet = internet.to_string();
        crate::probe::run(move || Ok(crate::device_checks::run(&spec, &internet))).await
    }

    async fn discover(&self) -> Result<Vec<Discovered>, Error> {
        super::discover::discover(&self.get().await?.client).await
    }

    async fn internet(&self) -> Result<Option<netpilot_core::device::InternetLink>, Error> {
        Ok(crate::routes::internet_link(
            &crate::routes::default_routes()?,
        ))
    }
}

/// The radio a link would use (the one the spec names, else a free one, else a virtual
/// interface on a radio that runs two stations) and what that costs; changes nothing.
pub(super) async fn plan(
    client: &NmClient,
    mut spec: DeviceSpec,
) -> Result<(DeviceSpec, Vec<String>), Error> {
    let internet = crate::routes::internet_link(&crate::routes::default_routes()?);
    let own = profile(client, &spec.name).await.ok().map(|p| p.uuid);
    let mut radios = Vec::new();
    for device in client.wifi_devices().await? {
        let active = client.active_uuid(&device).await?;
        let ours = active.is_some() && active == own;
        radios.push((device.device.interface, device.device.state, ours));
    }
    let internet_radio = internet.as_ref().map(|i| i.interface.as_str());
    let mut warnings = Vec::new();
    match choose_radio(&radios, internet_radio, spec.interface.as_deref()) {
        Ok(chosen) => {
            if let Some((_, state, false)) = radios.iter().find(|(n, ..)| *n == chosen)
                && *state == DeviceState::Connected
            {
                warnings.push(format!(
                    "{chosen} is connected to another network; bringing {} up will leave it",
                    spec.name
                ));
            }
            spec.interface = Some(chosen);
        }
        // No second radio: a virtual station interface on a radio that allows two.
        Err(error) if error.code == ErrorCode::NoFreeRadio && spec.interface.is_none() => {
            let parent = internet_radio
                .filter(|i| radios.iter().any(|(n, ..)| n == i))
                .or(radios.first().map(|(n, ..)| n.as_str()))
                .unwrap_or_default()
                .to_string();
            warnings.extend(virtual_radio(client, &mut spec, &parent, error).await?);
        }
        Err(error) => return Err(error),
    }
    let interface = spec.interface.clone().unwrap_or_default();
    warnings.extend(overlaps(&spec, &interface)?);
    Ok((spec, warnings))
}

/// Plans a virtual station interface on `parent`'s radio for the link, if the radio can
/// run two; warns when it can use only one channel and the device's AP is elsewhere.
async fn virtual_radio(
    client: &NmClient,
    spec: &mut DeviceSpec,
    parent: &str,
    no_free_radio: Error,
) -> Result<Vec<String>, Error> {
    let phy = crate::radio::phy_of(parent).ok_or_else(|| no_free_radio.clone())?;
    let can = crate::radio::concurrency(phy).await?;
    if can.stations < 2 {
        return Err(Error::new(
            ErrorCode::NoFreeRadio,
            format!(
                "{}; and the radio of {parent} runs only one station interface at a time",
                no_free_radio.message
            ),
        )
        .with_hint(no_free_radio.hint.unwrap_or_default()));
    }
    spec.interface = Some(crate::radio::virtual_name(&spec.name));
    spec.virtual_of = Some(parent.to_string());
    let mut warnings = Vec::new();
    if can.channels < 2 {
        let (home, device) = channels(client, parent, &spec.ssid).await;
        match (home, device) {
            (Some(home), Some(device)) if home != device => warnings.push(format!(
                "{}'s AP is on channel {device} and {parent}'s network on channel {home}; this \
                 radio uses one channel at a time, so the link cannot come up until they share one \
                 (or use a second WiFi adapter)",
                spec.ssid
            )),
            (Some(home), None) => warnings.push(format!(
                "this radio uses one channel at a time: {}'s AP must be on channel {home}, as {parent}'s network",
                spec.ssid
            )),
            _ => {}
        }
    }
    Ok(warnings)
}

/// The channels of `parent`'s network and of the AP named `ssid`, as `parent` last saw them.
async fn channels(client: &NmClient, parent: &str, ssid: &str) -> (Option<u16>, Option<u16>) {
    let Ok(devices) = client.wifi_devices().await else {
        return (None, None);
    };
    let Some(device) = devices.iter().find(|d| d.device.interface == parent) else {
        return (None, None);
    };
    let aps = client.access_points(device).await.unwrap_or_default();
    let home = aps
        .iter()
        .find(|a| a.access_point.in_use)
        .map(|a| a.access_point.channel);
    let theirs = aps
        .iter()
        .find(|a| a.access_point.ssid == ssid)
        .map(|a| a.access_point.channel);
    (home, theirs)
}

/// Warnings for each IPv4 network of another interface that overlaps the device's subnet.
fn overlaps(spec: &DeviceSpec, device_interface: &str) -> Result<Vec<String>, Error> {
    use netpilot_core::ports::LinkSource;
    let mut warnings = Vec::new();
    for interface in crate::Links::open()?.interfaces()? {
        if interface.name == device_interface || interface.name == "lo" {
            continue;
        }
        for address in &interface.ipv4 {
            if let std::net::IpAddr::V4(ip) = address.address {
                let network = Subnet {
                    address: ip,
                    prefix: address.prefix_len,
                }
                .network();
                if network.overlaps(spec.subnet) {
                    warnings.push(format!(
                        "the device's subnet {} overlaps {network} on {}: traffic for one may go to \
                         the other; join the device from a network that does not use {network}, or \
                         give the link the device's real --address and --subnet if it was changed",
                        spec.subnet, interface.name
                    ));
                }
            }
        }
    }
    Ok(warnings)
}
