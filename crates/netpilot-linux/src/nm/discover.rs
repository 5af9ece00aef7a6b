//! `device discover`: the devices in range whose network matches a preset, each with what
//! joining it now would take, worked out by the same plan `configure` follows and without
//! changing anything.

use super::api::NmClient;
use super::device_backend::plan;
use netpilot_core::device::{Discovered, PRESETS, Preset};
use netpilot_core::wifi::AccessPoint;
use netpilot_core::{Error, ErrorCode};

/// Every radio's scan, fresh; the access points whose SSID matches a preset, the strongest
/// of each network, each with the plan for joining it.
pub(super) async fn discover(client: &NmClient) -> Result<Vec<Discovered>, Error> {
    let devices = client.wifi_devices().await?;
    if devices.is_empty() {
        return Err(
            Error::new(ErrorCode::NoWifiDevice, "no WiFi device found").with_hint(
                "plug in a WiFi adapter, or check `rfkill list` and that NetworkManager manages it",
            ),
        );
    }
    client.scan(&devices).await?;
    let mut access_points = Vec::new();
    for device in &devices {
        access_points.extend(
            client
                .access_points(device)
                .await?
                .into_iter()
                .map(|a| a.access_point),
        );
    }
    let internet = crate::routes::internet_link(&crate::routes::default_routes()?);
    let home_channel = access_points
        .iter()
        .find(|a| {
            a.in_use
                && internet
                    .as_ref()
                    .is_some_and(|i| i.interface == a.interface)
        })
        .map(|a| a.channel);
    let mut strongest: Vec<(AccessPoint, &'static Preset)> = Vec::new();
    for ap in access_points {
        let Some(preset) = PRESETS.iter().find(|p| p.matches(&ap.ssid)) else {
            continue;
        };
        match strongest
            .iter_mut()
            .find(|(known, _)| known.ssid == ap.ssid)
        {
            Some((known, _)) if known.signal >= ap.signal => {}
            Some(known) => known.0 = ap,
            None => strongest.push((ap, preset)),
        }
    }
    let mut found = Vec::new();
    for (ap, preset) in strongest {
        let request = netpilot_core::device::DeviceRequest {
            name: preset.name.to_string(),
            ssid: ap.ssid.clone(),
            preset: Some(preset.name.to_string()),
            auto_connect: true,
            ..Default::default()
        };
        let planned = match request.spec() {
            Ok((spec, _)) => plan(client, spec).await,
            Err(error) => Err(error),
        };
        let (joinable, via, reason, warnings) = match planned {
            Ok((spec, warnings)) => (
                true,
                spec.interface.map(|i| match &spec.virtual_of {
                    Some(parent) => format!("{i} (virtual, on {parent})"),
                    None => i,
                }),
                None,
                warnings,
            ),
            Err(error) => (
                false,
                None,
                Some(match &error.hint {
                    Some(hint) => format!("{} ({hint})", error.message),
                    None => error.message.clone(),
                }),
                Vec::new(),
            ),
        };
        found.push(Discovered {
            ssid: ap.ssid,
            preset: preset.name.to_string(),
            bssid: ap.bssid,
            signal: ap.signal,
            frequency_mhz: ap.frequency_mhz,
            channel: ap.channel,
            security: ap.security,
            seen_on: ap.interface,
            home_channel,
            joinable,
            via,
            reason,
            warnings,
            configured: None,
        });
    }
    Ok(found)
}
