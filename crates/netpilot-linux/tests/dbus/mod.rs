mod agent;
mod networkmanager;
