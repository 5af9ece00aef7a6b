//! Secrets (WiFi passphrases) and the validation of what users type.

use crate::{Error, ErrorCode};

/// A secret value. It cannot be printed, logged or serialised by accident: `Debug` and
/// `Display` show `<redacted>` and there is no `Serialize`. [`Secret::expose`] is called
/// only where the value is handed to NetworkManager (the agent's reply), written to the
/// secret store (keyring or file), or sent to the daemon on its private socket (the CLI's
/// `network.wifi.connect`, `network.credentials.submit` and `device.configure`).
///
/// Its bytes are overwritten with zeros when it is dropped, so a secret the daemon no
/// longer needs is not left in freed memory for a later allocation (or a swap page) to
/// carry. Copies made with `expose().to_string()` are the caller's to wipe.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// NetworkManager asks a secret agent for the secrets of one setting of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRequest {
    pub connection_uuid: String,
    pub connection_id: String,
    /// The network, for WiFi connections.
    pub ssid: Option<String>,
    /// `802-11-wireless-security` for personal WiFi, `802-1x` for enterprise.
    pub setting: String,
    /// The fields to fill: `["psk"]`, `["identity", "password"]`…
    pub fields: Vec<String>,
    /// Context for the prompt: `wpa3`, `sae`, NetworkManager's own hints.
    pub hints: Vec<String>,
    pub flags: SecretFlags,
}

/// NetworkManager's `NMSecretAgentGetSecretsFlags`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretFlags {
    /// The agent may ask the user.
    pub allow_interaction: bool,
    /// The secrets given before were wrong: ask anew, never resend them.
    pub request_new: bool,
    /// A user asked for this connection (rather than autoconnect).
    pub user_requested: bool,
    /// Only system-wide (not user) agents should answer.
    pub only_system: bool,
}

impl SecretFlags {
    pub fn from_bits(bits: u32) -> Self {
        SecretFlags {
            allow_interaction: bits & 0x1 != 0,
            request_new: bits & 0x2 != 0,
            user_requested: bits & 0x4 != 0,
            only_system: bits & 0x8000_0000 != 0,
        }
    }
}

/// A WPA passphrase is 8 to 63 printable ASCII characters, or exactly 64 hex digits
/// (the raw PSK) — IEEE 802.11i, and what wpa_supplicant accepts.
pub fn validate_psk(psk: &Secret) -> Result<(), Error> {
    let value = psk.expose();
    let printable =
        (8..=63).contains(&value.len()) && value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let hex = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
    if printable || hex {
        return Ok(());
    }
    // The message says what is wrong without echoing any of the secret.
    Err(Error::new(
        ErrorCode::InvalidArgument,
        format!(
            "a WiFi password must be 8 to 63 printable ASCII characters or 64 hex digits (this one has {} characters)",
            value.chars().count()
        ),
    ))
}

/// An SSID is 1 to 32 bytes.
pub fn validate_ssid(ssid: &str) -> Result<(), Error> {
    if (1..=32).contains(&ssid.len()) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "an SSID is 1 to 32 bytes long; {:?} is {} bytes",
                ssid,
                ssid.len()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_or_display() {
        let secret = Secret::new("hunter2-very-secret");
        let shown = format!("{secret:?} {secret} {:?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(format!("{secret}"), "<redacted>");
    }

    #[test]
    fn passphrases_are_8_to_63_printable_or_64_hex() {
        for ok in [
            "12345678",
            "correct horse battery staple",
            &"a".repeat(63),
            &"aB3".repeat(21),
            &"0f".repeat(32),
        ] {
            assert!(validate_psk(&Secret::new(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "short",
            "",
            &"g".repeat(64),
            &"a".repeat(65),
            "tab\there!",
            "ünïcödé-pass",
        ] {
            let error = validate_psk(&Secret::new(bad)).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{bad}");
            assert!(
                bad.is_empty() || !error.message.contains(bad),
                "the message echoes the secret"
            );
        }
    }

    #[test]
    fn flags_7_is_a_wrong_password_asked_again() {
        let flags = SecretFlags::from_bits(7);
        assert!(flags.allow_interaction && flags.request_new && flags.user_requested);
        assert!(!flags.only_system);
        assert!(SecretFlags::from_bits(0x8000_0000).only_system);
    }

    #[test]
    fn ssids_are_1_to_32_bytes() {
        assert!(validate_ssid("np-home").is_ok());
        assert!(validate_ssid(&"x".repeat(32)).is_ok());
        assert_eq!(
            validate_ssid("").unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            validate_ssid(&"x".repeat(33)).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
