//! NetworkManager's numbers made into domain values. Constants are from NetworkManager's
//! `nm-dbus-interface.h` (NMDeviceState, NMDeviceStateReason, NM80211ApSecurityFlags).

use netpilot_core::wifi::{ConnectStage, DeviceState, FailureReason, Security};

pub const DEVICE_TYPE_WIFI: u32 = 2;

pub fn device_state(state: u32) -> DeviceState {
    match state {
        10 => DeviceState::Unmanaged,
        20 => DeviceState::Unavailable,
        30 => DeviceState::Disconnected,
        40 => DeviceState::Connecting(ConnectStage::Preparing),
        50 => DeviceState::Connecting(ConnectStage::Configuring),
        60 => DeviceState::Connecting(ConnectStage::Authenticating),
        70 => DeviceState::Connecting(ConnectStage::GettingAddress),
        80 | 90 => DeviceState::Connecting(ConnectStage::Checking),
        100 => DeviceState::Connected,
        110 => DeviceState::Disconnecting,
        120 => DeviceState::Failed,
        _ => DeviceState::Unknown,
    }
}

/// NMDeviceStateReason → why an attempt failed.
pub fn failure_reason(reason: u32) -> FailureReason {
    match reason {
        7 => FailureReason::NoSecrets,
        8..=10 => FailureReason::SupplicantFailed,
        11 => FailureReason::SupplicantTimeout,
        53 => FailureReason::SsidNotFound,
        5 | 6 | 15..=17 => FailureReason::IpConfigUnavailable,
        38 => FailureReason::ConnectionRemoved,
        39 | 40 | 41 | 65 => FailureReason::Interrupted,
        other => FailureReason::Other(other),
    }
}

// NM80211ApFlags / NM80211ApSecurityFlags
const AP_FLAGS_PRIVACY: u32 = 0x1;
const KEY_MGMT_PSK: u32 = 0x100;
const KEY_MGMT_802_1X: u32 = 0x200;
const KEY_MGMT_SAE: u32 = 0x400;
const KEY_MGMT_OWE: u32 = 0x800;
const KEY_MGMT_OWE_TM: u32 = 0x1000;
const KEY_MGMT_EAP_SUITE_B_192: u32 = 0x2000;

pub fn security(flags: u32, wpa_flags: u32, rsn_flags: u32) -> Security {
    let any = wpa_flags | rsn_flags;
    if any & (KEY_MGMT_802_1X | KEY_MGMT_EAP_SUITE_B_192) != 0 {
        Security::Enterprise
    } else if any & KEY_MGMT_PSK != 0 {
        // WPA2, or WPA2/WPA3 transition mode: a PSK profile joins either.
        Security::WpaPsk
    } else if rsn_flags & KEY_MGMT_SAE != 0 {
        Security::Sae
    } else if rsn_flags & (KEY_MGMT_OWE | KEY_MGMT_OWE_TM) != 0 {
        Security::Owe
    } else if flags & AP_FLAGS_PRIVACY != 0 {
        Security::Wep
    } else {
        Security::Open
    }
}

/// The `key-mgmt` of a profile for this security, if it has one.
pub fn key_mgmt(security: Security) -> Option<&'static str> {
    match security {
        Security::Open => None,
        Security::Owe => Some("owe"),
        Security::Wep => Some("none"),
        Security::WpaPsk => Some("wpa-psk"),
        Security::Sae => Some("sae"),
        Security::Enterprise => Some("wpa-eap"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_from_ap_flags() {
        assert_eq!(security(0, 0, 0), Security::Open);
        assert_eq!(security(1, 0, 0), Security::Wep);
        assert_eq!(security(1, 0, 0x188), Security::WpaPsk);
        assert_eq!(security(1, 0, 0x400 | 0x88), Security::Sae);
        assert_eq!(
            security(1, 0, 0x500),
            Security::WpaPsk,
            "transition mode joins with a PSK"
        );
        assert_eq!(security(1, 0x200, 0x200), Security::Enterprise);
        assert_eq!(security(1, 0, 0x800), Security::Owe);
    }

    #[test]
    fn device_states_and_reasons() {
        assert_eq!(
            device_state(60),
            DeviceState::Connecting(ConnectStage::Authenticating)
        );
        assert_eq!(device_state(100), DeviceState::Connected);
        assert_eq!(failure_reason(7), FailureReason::NoSecrets);
        assert_eq!(failure_reason(53), FailureReason::SsidNotFound);
        assert_eq!(failure_reason(999), FailureReason::Other(999));
    }
}
