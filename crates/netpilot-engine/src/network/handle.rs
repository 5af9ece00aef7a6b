//! The commands the network service takes, and the handle callers send them with.

use super::HotspotParams;
use super::{ConnectParams, ServiceEvent};
use netpilot_core::menu::{Hotspot, NetworkInfo, RadioSwitch, WiredDevice};
use netpilot_core::network::{NetworkState, Prompt};
use netpilot_core::ports::ProfileChange;
use netpilot_core::wifi::{WifiNetwork, WifiRadio};
use netpilot_core::{Error, ErrorCode, Secret};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub(super) type Reply<T> = oneshot::Sender<Result<T, Error>>;

pub enum Command {
    Status(oneshot::Sender<NetworkState>),
    /// Answers once the service has asked the backend what is up for the first time: with
    /// the backend's error if that failed (NetworkManager is not running…).
    Ready(Reply<()>),
    /// The pending prompts, for a client that subscribes late.
    Pending(oneshot::Sender<Vec<Prompt>>),
    Connect(ConnectParams, Reply<()>),
    Submit {
        token: String,
        secrets: Vec<(String, Secret)>,
        save: Option<bool>,
        reply: Reply<()>,
    },
    Cancel {
        token: String,
        reply: Reply<()>,
    },
    /// The networks the radio named (or every radio no device link holds) sees.
    Scan {
        interface: Option<String>,
        rescan: bool,
        /// Answer after the scan (else at once with what is known; the scan's results
        /// then follow as `network` events).
        wait: bool,
        reply: Reply<Vec<WifiNetwork>>,
    },
    /// Turns WiFi on (`Some(true)`), off, or the other way round (`None`).
    SetWifi {
        enabled: Option<bool>,
        reply: Reply<RadioSwitch>,
    },
    /// Changes a saved network's profiles; how many.
    ChangeSaved {
        ssid: String,
        change: ProfileChange,
        reply: Reply<u32>,
    },
    /// Every access point of a network and its saved profile.
    Info {
        ssid: String,
        reply: Reply<NetworkInfo>,
    },
    /// Every wired device.
    Wired(oneshot::Sender<Vec<WiredDevice>>),
    /// Starts a hotspot on a radio chosen by role; it once clients can join.
    HotspotStart(HotspotParams, Reply<Hotspot>),
    /// Stops the hotspot on the radio named, or every one; the radios freed.
    HotspotStop {
        interface: Option<String>,
        reply: Reply<Vec<String>>,
    },
    /// Connects the wired device named, or the one with a cable; it once connected.
    EthernetUp {
        interface: Option<String>,
        reply: Reply<WiredDevice>,
    },
    /// Disconnects the wired device named, or every connected one; those left.
    EthernetDown {
        interface: Option<String>,
        reply: Reply<Vec<String>>,
    },
    /// Leaves the radio named, or the internet's WiFi link; the interfaces left.
    Disconnect {
        interface: Option<String>,
        reply: Reply<Vec<String>>,
    },
    Forget {
        ssid: String,
        reply: Reply<u32>,
    },
    /// The daemon is stopping: every pending prompt is withdrawn (its subscribers told,
    /// NetworkManager told to ask another agent) and the attempt in progress ended, its new
    /// profile deleted; answers once that is done.
    Withdraw(oneshot::Sender<()>),
}

/// A cheap handle to the running service.
#[derive(Clone)]
pub struct NetworkHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) events: broadcast::Sender<ServiceEvent>,
    pub(super) radios: watch::Receiver<Vec<WifiRadio>>,
}

impl NetworkHandle {
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    /// Every WiFi radio and its role, as the service last saw them; changes as they do.
    pub fn radios(&self) -> watch::Receiver<Vec<WifiRadio>> {
        self.radios.clone()
    }

    pub async fn ready(&self) -> Result<(), Error> {
        self.ask(Command::Ready).await?
    }

    pub async fn status(&self) -> Result<NetworkState, Error> {
        self.ask(Command::Status).await
    }

    pub async fn pending(&self) -> Result<Vec<Prompt>, Error> {
        self.ask(Command::Pending).await
    }

    pub async fn connect(&self, params: ConnectParams) -> Result<(), Error> {
        self.ask(|reply| Command::Connect(params, reply)).await?
    }

    pub async fn submit(
        &self,
        token: String,
        secrets: Vec<(String, Secret)>,
        save: Option<bool>,
    ) -> Result<(), Error> {
        self.ask(|reply| Command::Submit {
            token,
            secrets,
            save,
            reply,
        })
        .await?
    }

    pub async fn cancel(&self, token: String) -> Result<(), Error> {
        self.ask(|reply| Command::Cancel { token, reply }).await?
    }

    pub async fn scan(
        &self,
        interface: Option<String>,
        rescan: bool,
        wait: bool,
    ) -> Result<Vec<WifiNetwork>, Error> {
        self.ask(|reply| Command::Scan {
            interface,
            rescan,
            wait,
            reply,
        })
        .await?
    }

    /// Turns WiFi on or off, or toggles it (`None`); the switch as it is then.
    pub async fn set_wifi(&self, enabled: Option<bool>) -> Result<RadioSwitch, Error> {
        self.ask(|reply| Command::SetWifi { enabled, reply })
            .await?
    }

    pub async fn change_saved(&self, ssid: String, change: ProfileChange) -> Result<u32, Error> {
        self.ask(|reply| Command::ChangeSaved {
            ssid,
            change,
            reply,
        })
        .await?
    }

    pub async fn info(&self, ssid: String) -> Result<NetworkInfo, Error> {
        self.ask(|reply| Command::Info { ssid, reply }).await?
    }

    pub async fn hotspot_start(&self, params: HotspotParams) -> Result<Hotspot, Error> {
        self.ask(|reply| Command::HotspotStart(params, reply))
            .await?
    }

    pub async fn hotspot_stop(&self, interface: Option<String>) -> Result<Vec<String>, Error> {
        self.ask(|reply| Command::HotspotStop { interface, reply })
            .await?
    }

    pub async fn wired(&self) -> Result<Vec<WiredDevice>, Error> {
        self.ask(Command::Wired).await
    }

    pub async fn ethernet_up(&self, interface: Option<String>) -> Result<WiredDevice, Error> {
        self.ask(|reply| Command::EthernetUp { interface, reply })
            .await?
    }

    pub async fn ethernet_down(&self, interface: Option<String>) -> Result<Vec<String>, Error> {
        self.ask(|reply| Command::EthernetDown { interface, reply })
            .await?
    }

    pub async fn disconnect(&self, interface: Option<String>) -> Result<Vec<String>, Error> {
        self.ask(|reply| Command::Disconnect { interface, reply })
            .await?
    }

    /// Withdraws every pending prompt and ends the attempt in progress (the daemon is
    /// stopping).
    pub async fn withdraw(&self) -> Result<(), Error> {
        self.ask(Command::Withdraw).await
    }

    pub async fn forget(&self, ssid: String) -> Result<u32, Error> {
        self.ask(|reply| Command::Forget { ssid, reply }).await?
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::new(ErrorCode::Io, "the network service has stopped");
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}
