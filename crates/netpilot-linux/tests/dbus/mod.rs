mod agent;
mod keyring;
mod networkmanager;
