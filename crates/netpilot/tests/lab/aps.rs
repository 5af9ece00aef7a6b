//! The lab's access points, as lab/guest/lab-up sets them up.

pub const HOME: (&str, &str) = ("np-home", "home-secret-1");
pub const OPEN: &str = "np-open";
pub const WPA3: (&str, &str) = ("np-wpa3", "wpa3-secret-1");
pub const HIDDEN: (&str, &str) = ("np-hidden", "hidden-secret-1");
pub const NO_DHCP: (&str, &str) = ("np-nodhcp", "nodhcp-secret-1");
pub const ROBOT: (&str, &str) = ("Cozmo_A1B2C3", "cozmo-secret-1");

/// The hotspot the tests start (no access point of lab-up's).
pub const HOTSPOT: (&str, &str) = ("np-spot", "spot-secret-1");

/// Every password the lab uses: none may appear in logs or output.
pub const PASSWORDS: [&str; 6] = [HOME.1, WPA3.1, HIDDEN.1, NO_DHCP.1, ROBOT.1, HOTSPOT.1];

/// Tier 1: the constants above and the lab's setup script name the same networks.
#[test]
fn the_lab_script_sets_up_these_access_points() {
    let script = include_str!("../../../../lab/guest/lab-up");
    for (ssid, password) in [HOME, WPA3, HIDDEN, NO_DHCP, ROBOT] {
        let line = script
            .lines()
            .find(|l| l.starts_with("ap ") && l.split_whitespace().nth(2) == Some(ssid))
            .unwrap_or_else(|| panic!("lab-up sets up no access point {ssid}"));
        assert_eq!(line.split_whitespace().nth(5), Some(password), "{line}");
    }
    assert!(
        script
            .lines()
            .any(|l| l.starts_with("ap ") && l.contains(OPEN) && l.contains(" open "))
    );
}
